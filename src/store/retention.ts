// Automatic change-log retention, the same rule for every backend: keep at least the last
// `logRetention` revisions, and compact only once the log has grown a tenth past that, so the
// deletes come in occasional chunks rather than one per write.

import { invalid } from '../model/errors.js';

export const DEFAULT_LOG_RETENTION = 100_000;

export interface RetentionOptions {
  /** Revisions the change log keeps at least (default 100000; Infinity: never compact by itself). */
  logRetention?: number;
}

export function checkRetention(value: unknown): number {
  if (value === undefined) return DEFAULT_LOG_RETENTION;
  if (value === Infinity) return value;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalid('logRetention', value, 'must be a whole number ≥ 1 or Infinity');
  }
  return value;
}

/**
 * The keepFrom to compact to, or undefined when the log is still short enough. `firstKept` is
 * the oldest revision the log may still hold.
 */
export function retentionTarget(revision: number, firstKept: number, retention: number): number | undefined {
  if (retention === Infinity) return undefined;
  const slack = Math.max(1, Math.floor(retention / 10));
  const length = revision - firstKept + 1;
  return length > retention + slack ? revision - retention + 1 : undefined;
}
