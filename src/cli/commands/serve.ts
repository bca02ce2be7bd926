import type { Command } from 'commander';
import { pino } from 'pino';
import { startServe } from '../serve.js';
import { hubBounds } from '../hub-options.js';
import { EXIT, UsageError } from '../exit-codes.js';

export function serveCommand(program: Command): void {
  program.command('serve')
    .description('run the controller and lookup service on the embedded LevelDB store')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:4800')
    .option('--data <dir>', 'data directory', './vxfab-data')
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace', 'info')
    .option('--lookup-history <batches>', 'change batches kept for Subscribe replay (env VXFAB_LOOKUP_HISTORY, default 1024)')
    .option('--lookup-queue <events>', 'events a slow subscriber may lag before RESYNC (env VXFAB_LOOKUP_QUEUE, default 4096)')
    .action(async (o: { listen: string; data: string; logLevel: string; lookupHistory?: string; lookupQueue?: string }) => {
      const log = pino({ name: 'vxfab', level: o.logLevel });
      let running;
      try {
        running = await startServe({ listen: o.listen, dataDir: o.data, logger: log, lookupHub: hubBounds(o) });
      } catch (e) {
        process.stderr.write(`vxfab serve: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = e instanceof UsageError ? EXIT.USAGE : EXIT.INTERNAL;
        return;
      }
      // Print the bound address on stdout (tests and scripts start us on port 0 and read it).
      process.stdout.write(`listening ${running.host}:${running.port}\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, 'shutting down');
          running.close().then(resolve, (e: unknown) => {
            log.error({ err: e }, 'unclean shutdown');
            process.exitCode = 1;
            resolve();
          });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });
}
