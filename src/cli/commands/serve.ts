import type { Command } from 'commander';
import { daemonLogger } from '../log-option.js';
import { pino } from 'pino';
import { startServe } from '../serve.js';
import { hubBounds } from '../hub-options.js';
import { EXIT, UsageError } from '../exit-codes.js';

export function serveCommand(program: Command): void {
  program.command('serve')
    .description('run the controller and lookup service on the embedded LevelDB store')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:4800')
    .option('--data <dir>', 'data directory', './vxfab-data')
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace (env VXFAB_LOG_LEVEL, default info)')
    .option('--lookup-history <batches>', 'change batches kept for Subscribe replay (env VXFAB_LOOKUP_HISTORY, default 1024)')
    .option('--lookup-queue <events>', 'events a slow subscriber may lag before RESYNC (env VXFAB_LOOKUP_QUEUE, default 4096)')
    .option('--insecure', 'plain TCP without authentication (loopback listen addresses only; for experiments)')
    .option('--ca-cert <file>', 'an operator-provided fabric CA certificate (with --ca-key) instead of one made in --data')
    .option('--ca-key <file>', 'the private key of --ca-cert')
    .option('--metrics <host:port>', 'serve Prometheus /metrics, /healthz and /readyz on this address (e.g. 127.0.0.1:9480)')
    .action(async (o: { listen: string; data: string; logLevel?: string; lookupHistory?: string; lookupQueue?: string;
      insecure?: boolean; caCert?: string; caKey?: string; metrics?: string }) => {
      const log = daemonLogger('serve', 'vxfab', o.logLevel);
      let running;
      try {
        running = await startServe({
          listen: o.listen, dataDir: o.data, logger: log, lookupHub: hubBounds(o), insecure: o.insecure === true,
          ...(o.caCert === undefined ? {} : { caCertFile: o.caCert }), ...(o.caKey === undefined ? {} : { caKeyFile: o.caKey }),
          ...(o.metrics === undefined ? {} : { metrics: o.metrics }),
        });
      } catch (e) {
        process.stderr.write(`vxfab serve: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = e instanceof UsageError ? EXIT.USAGE : EXIT.INTERNAL;
        return;
      }
      if (running.adminCreated) process.stdout.write(`admin credentials ${running.adminCreated}\n`);
      // Print the bound address on stdout (tests and scripts start us on port 0 and read it).
      process.stdout.write(`listening ${running.host}:${running.port}\n`);
      if (running.metrics) process.stdout.write(`metrics ${running.metrics.host}:${running.metrics.port}\n`);
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
