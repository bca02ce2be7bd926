import { invalid } from './errors.js';

// Numbers arrive both as JSON/protobuf numbers and as CLI text; one parser keeps the rules (and
// the messages) the same for VNIDs, MTUs and ports.
const DECIMAL = /^-?(0|[1-9][0-9]*)$/;

/**
 * An integer in [min, max] from a number or a plain decimal string (no sign, spaces, exponent or
 * leading zeros). Throws INVALID_ARGUMENT naming `field`, the value and the allowed range.
 */
export function parseIntegerInRange(value: unknown, field: string, min: number, max: number): number {
  let n: number;
  if (typeof value === 'number') {
    n = value;
  } else if (typeof value === 'string' && DECIMAL.test(value)) {
    n = Number(value);
  } else {
    throw invalid(field, value, `must be an integer from ${min} to ${max}`);
  }
  if (!Number.isSafeInteger(n)) throw invalid(field, value, `must be an integer from ${min} to ${max}`);
  if (n < min || n > max) throw invalid(field, value, `out of range: must be from ${min} to ${max}`);
  return n;
}
