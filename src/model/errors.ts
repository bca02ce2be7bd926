// Typed errors. The code is the stable contract (tests and clients match on it); the message is
// for people and always names the field and the value at fault.

export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'CONFLICT',
  'RESOURCE_EXHAUSTED',
  'UNAVAILABLE',
  'PERMISSION_DENIED',
  'INTERNAL',
  'UNIMPLEMENTED',
  'DEADLINE_EXCEEDED',
  'UNSUPPORTED_VERSION',
  'PROTOCOL_ERROR',
  'COMPACTED',
  'RESYNC',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetails {
  /** The request field at fault, as a dotted path ("subnet4", "ips[1]"); empty when none. */
  field?: string;
  /** The offending value as text; empty when none. */
  value?: string;
  cause?: unknown;
}

export class VxfabError extends Error {
  readonly code: ErrorCode;
  readonly field: string;
  readonly value: string;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'VxfabError';
    this.code = code;
    this.field = details.field ?? '';
    this.value = details.value ?? '';
  }
}

/** Shorthand for the commonest error: a field with a bad value. */
export function invalid(field: string, value: unknown, why: string): VxfabError {
  const text = String(value);
  return new VxfabError('INVALID_ARGUMENT', `${field} ${JSON.stringify(text)}: ${why}`, { field, value: text });
}

export function isVxfabError(e: unknown, code?: ErrorCode): e is VxfabError {
  return e instanceof VxfabError && (code === undefined || e.code === code);
}
