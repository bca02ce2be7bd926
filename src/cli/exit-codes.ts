// Exit codes of the `vxfab` command, for scripts. Documented in docs/cli.md.
import { VxfabError, type ErrorCode } from '../model/errors.js';

export const EXIT = {
  OK: 0,
  /** Anything unexpected (a bug, or an INTERNAL error from the server). */
  INTERNAL: 1,
  /** The command line itself is wrong: unknown option, missing argument, a value that does not parse. */
  USAGE: 2,
  /** The server refused the request (invalid value, already exists, conflict, exhausted pool). */
  REFUSED: 3,
  /** The object asked for does not exist (NOT_FOUND). */
  NOT_FOUND: 4,
  /** The server could not be reached, or did not answer in time. */
  UNREACHABLE: 5,
  /** `vxfab topology run`: the fabric violated an expectation (or did not converge). */
  VIOLATIONS: 6,
} as const;

const BY_CODE: Partial<Record<ErrorCode, number>> = {
  NOT_FOUND: EXIT.NOT_FOUND,
  UNAVAILABLE: EXIT.UNREACHABLE,
  DEADLINE_EXCEEDED: EXIT.UNREACHABLE,
  INTERNAL: EXIT.INTERNAL,
  PROTOCOL_ERROR: EXIT.INTERNAL,
  UNSUPPORTED_VERSION: EXIT.INTERNAL,
};

/** A usage error found by the CLI itself before anything was sent. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError) return EXIT.USAGE;
  if (e instanceof VxfabError) return BY_CODE[e.code] ?? EXIT.REFUSED;
  return EXIT.INTERNAL;
}
