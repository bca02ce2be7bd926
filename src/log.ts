// The one logging root. Every daemon makes its logger here (rootLogger), and every module takes a
// child of it named `{ module: 'NAME' }` (lookup-local, wire, agent, …). One level for the
// process: --log-level, else env VXFAB_LOG_LEVEL, else info. JSON lines (pino's own) when stdout
// is not a terminal, so log shippers get structure; one readable line per record when it is.
import { pino, type Logger, type DestinationStream } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = typeof LOG_LEVELS[number];

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'name', 'module', 'msg']);

/** The level to use: the flag's value, else VXFAB_LOG_LEVEL, else info. A bad value is an error
 *  naming where it came from. */
export function resolveLogLevel(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const [value, source] = flag !== undefined ? [flag, '--log-level'] : env.VXFAB_LOG_LEVEL !== undefined ? [env.VXFAB_LOG_LEVEL, 'VXFAB_LOG_LEVEL'] : ['info', 'default'];
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new RangeError(`${source}: ${JSON.stringify(value)} is not a log level (${LOG_LEVELS.join(', ')})`);
  }
  return value as LogLevel;
}

/** One pino JSON record as one readable line: `12:00:00.123 INFO  vxfab-agent/agent: msg k=v`. */
export function formatLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : json + '\n';
  }
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 23) : '';
  const level = (LEVEL_NAMES[Number(rec.level)] ?? String(rec.level)).padEnd(5);
  const who = [rec.name, rec.module].filter((x) => typeof x === 'string').join('/');
  const fields = Object.entries(rec).filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`);
  return `${time} ${level} ${who}: ${typeof rec.msg === 'string' ? rec.msg : ''}${fields.length ? ' ' + fields.join(' ') : ''}\n`;
}

/** A destination that writes each record as a readable line to `out`. */
export function readableDestination(out: { write(s: string): unknown }): DestinationStream {
  return { write(chunk: string) { for (const line of chunk.split('\n')) if (line) out.write(formatLine(line)); } };
}

export interface RootLoggerOptions {
  /** The daemon's name (vxfab, vxfab-agent, vxfab-lookup). */
  name: string;
  level?: string;
  /** Readable lines instead of JSON; default: stdout is a terminal. */
  readable?: boolean;
  /** Where records go; default stdout. */
  out?: { write(s: string): unknown };
}

export function rootLogger(options: RootLoggerOptions): Logger {
  const level = resolveLogLevel(options.level);
  const readable = options.readable ?? process.stdout.isTTY === true;
  if (options.out === undefined && !readable) return pino({ name: options.name, level });
  const out = options.out ?? process.stdout;
  const dest: DestinationStream = readable ? readableDestination(out) : { write: (s: string) => { out.write(s); } };
  return pino({ name: options.name, level }, dest);
}
