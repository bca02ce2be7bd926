// Argument checks shared by every backend, so both reject the same input with the same error.

import { invalid } from '../model/errors.js';
import { checkUserKey } from './keys.js';
import type { StoreOp } from './store.js';

/**
 * Checks a batch and returns a private copy of it: the caller may reuse its arrays and buffers
 * as soon as the call returns, while the store still needs them for the write and the log.
 * An empty batch is allowed: it is a write like any other and takes a revision, so a caller that
 * built nothing need not special-case it.
 */
export function copyOps(ops: unknown): StoreOp[] {
  if (!Array.isArray(ops)) throw invalid('ops', typeof ops, 'a batch must be an array of ops');
  return ops.map((op: unknown, i) => copyOp(op, `ops[${i}]`));
}

export function copyOp(op: unknown, field: string): StoreOp {
  if (typeof op !== 'object' || op === null) throw invalid(field, op, 'an op must be an object');
  const { type, key, value } = op as { type?: unknown; key?: unknown; value?: unknown };
  if (type === 'put') {
    return { type, key: checkUserKey(key, `${field}.key`), value: copyValue(value, `${field}.value`) };
  }
  if (type === 'del') return { type, key: checkUserKey(key, `${field}.key`) };
  throw invalid(`${field}.type`, type, 'an op type must be "put" or "del"');
}

export function copyValue(value: unknown, field: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalid(field, typeof value, 'a value must be a Uint8Array');
  return new Uint8Array(value);
}

/** A revision argument: a whole number ≥ 0. */
export function checkRevision(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(field, value, 'a revision must be a whole number ≥ 0');
  }
  return value;
}

/** A count limit: a whole number ≥ 1, or undefined for "no limit". */
export function checkLimit(value: unknown, field: string): number {
  if (value === undefined || value === Infinity) return Infinity;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(field, value, 'a limit must be a whole number ≥ 1');
  }
  return value;
}
