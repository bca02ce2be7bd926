// --log-level (or VXFAB_LOG_LEVEL) to the process's logging root; a bad level is a usage error (exit 2).
import { CommanderError } from 'commander';
import type { Logger } from 'pino';
import { rootLogger } from '../log.js';

export function daemonLogger(command: string, name: string, level: string | undefined): Logger {
  try {
    return rootLogger({ name, level });
  } catch (e) {
    const message = `vxfab ${command}: ${e instanceof Error ? e.message : String(e)}`;
    process.stderr.write(message + '\n');
    throw new CommanderError(2, 'vxfab.logLevel', message);
  }
}
