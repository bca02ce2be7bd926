// User keys and the reserved internal key space. Both backends keep their own bookkeeping (the
// revision counter, the change log) next to user data under a prefix no user key may start with,
// so one atomic batch can carry data, log entry and counter together.

import { invalid } from '../model/errors.js';

/** Every internal key starts with this; user keys never do. */
export const RESERVED_PREFIX = '\u0000';

// A lone UTF-16 surrogate has no UTF-8 form, so such a key would not survive a round trip.
const LONE_SURROGATE = /\p{Cs}/u;

/** Throws INVALID_ARGUMENT unless `key` is a non-empty, well-formed string outside the reserved space. */
export function checkUserKey(key: unknown, field: string): string {
  if (typeof key !== 'string') throw invalid(field, key, 'a key must be a string');
  if (key === '') throw invalid(field, key, 'a key must not be empty');
  if (key.startsWith(RESERVED_PREFIX)) throw invalid(field, key, 'keys starting with \\u0000 are reserved for the store');
  if (LONE_SURROGATE.test(key)) throw invalid(field, key, 'a key must be well-formed UTF-16 (no lone surrogates)');
  return key;
}

/** Throws INVALID_ARGUMENT for a scan prefix that reaches into the reserved space. */
export function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string') throw invalid('prefix', prefix, 'a prefix must be a string');
  if (prefix.startsWith(RESERVED_PREFIX)) throw invalid('prefix', prefix, 'keys starting with \\u0000 are reserved for the store');
  return prefix;
}

/**
 * Orders keys as LevelDB does: by their UTF-8 bytes, which is code point order. Plain `<` on JS
 * strings compares UTF-16 code units and puts U+E000..U+FFFF after astral characters; shifting
 * the two ranges past each other fixes that without encoding anything.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}
