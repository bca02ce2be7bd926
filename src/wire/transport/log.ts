// The transport's default logger, used when its owner passes none.
import { pino, type Logger } from 'pino';

let root: Logger | undefined;

export function defaultLogger(): Logger {
  root ??= pino({ name: 'vxfab', level: process.env['VXFAB_LOG_LEVEL'] ?? 'info' });
  return root;
}
