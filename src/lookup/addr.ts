// Hand-written parsers for the lookup hot path. A regex or a general address library allocates
// on every call; these walk the string with charCodeAt and return plain numbers, so a VL2/VL3
// lookup allocates nothing until it builds its answer.
//
// A MAC is a 48-bit number: hi = the top 16 bits, lo = the low 32 bits (both fit a Smi-friendly
// typed array). An IPv4 address is a uint32. IPv6 addresses are rare on the hot path and become
// a canonical text key (8 hex groups, no compression) so differently written forms match.

import { invalid } from '../model/errors.js';
import { VNID_MAX, VNID_MIN } from '../model/vnid.js';

export { VNID_MAX, VNID_MIN };

/** Sentinel returned by the parsers for malformed input. */
export const BAD = -1;

/** Throws INVALID_ARGUMENT naming `field` unless vnid is an integer in 1..16777215. */
export function checkVnid(vnid: number, field = 'vnid'): void {
  if (!(vnid >= VNID_MIN && vnid <= VNID_MAX && (vnid >>> 0) === vnid)) {
    throw invalid(field, vnid, `must be an integer in ${VNID_MIN}..${VNID_MAX}`);
  }
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  const l = c | 0x20; // fold A-F to a-f
  if (l >= 97 && l <= 102) return l - 87;
  return BAD;
}

function hexPair(s: string, i: number): number {
  const a = hexDigit(s.charCodeAt(i));
  const b = hexDigit(s.charCodeAt(i + 1));
  return a < 0 || b < 0 ? BAD : (a << 4) | b;
}

/** Parses "aa:bb:cc:dd:ee:ff" or "aa-bb-cc-dd-ee-ff" (either case, one separator throughout: the
 *  forms src/model/mac.ts accepts, property-tested against it). Returns the top 16 bits, or BAD;
 *  see macLo. */
export function macHi(s: string): number {
  if (s.length !== 17) return BAD;
  const sep = s.charCodeAt(2);
  if (sep !== 58 && sep !== 45) return BAD; // ':' or '-'
  for (let i = 5; i < 17; i += 3) if (s.charCodeAt(i) !== sep) return BAD;
  const a = hexPair(s, 0);
  const b = hexPair(s, 3);
  if (a < 0 || b < 0) return BAD;
  return (a << 8) | b;
}

/** The low 32 bits of a MAC string already accepted by macHi, or BAD. */
export function macLo(s: string): number {
  const c = hexPair(s, 6);
  const d = hexPair(s, 9);
  const e = hexPair(s, 12);
  const f = hexPair(s, 15);
  if (c < 0 || d < 0 || e < 0 || f < 0) return BAD;
  return ((c << 24) | (d << 16) | (e << 8) | f) >>> 0;
}

/** The MAC as one number (0..2^48-1), or BAD. */
export function parseMac(s: string): number {
  const hi = macHi(s);
  if (hi < 0) return BAD;
  const lo = macLo(s);
  return lo < 0 ? BAD : hi * 0x100000000 + lo;
}

const HEX2: string[] = [];
for (let i = 0; i < 256; i++) HEX2.push(i.toString(16).padStart(2, '0'));

/** Lowercase colon form, as the controller writes it. */
export function formatMac(hi: number, lo: number): string {
  return `${HEX2[hi >>> 8]}:${HEX2[hi & 255]}:${HEX2[lo >>> 24]}:${HEX2[(lo >>> 16) & 255]}:${HEX2[(lo >>> 8) & 255]}:${HEX2[lo & 255]}`;
}

/** Parses dotted-quad IPv4 (no leading zeros, as inet_pton) from s[start..end) into a uint32, or BAD. */
export function parseIp4(s: string, start = 0, end = s.length): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) { // '.'
      if (digits === 0 || dots === 3) return BAD;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return BAD; // leading zero
      octet = octet * 10 + (c - 48);
      if (octet > 255) return BAD;
      digits++;
    } else {
      return BAD;
    }
  }
  if (dots !== 3 || digits === 0) return BAD;
  return value * 256 + octet;
}

export function formatIp4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Parses IPv6 text (with "::" and an optional dotted IPv4 tail) into a canonical key, or
 *  undefined when malformed. Equal addresses give equal keys however they were written. */
export function ip6Key(s: string): string | undefined {
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  const n = s.length;
  if (n < 2 || n > 45) return undefined;
  let count = 0; // groups written before "::" (then after it, into tail)
  let gap = -1; // index in groups where "::" stands
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return undefined;
    gap = 0;
    i = 2;
    if (n === 2) return '0:0:0:0:0:0:0:0';
  }
  while (i < n) {
    // One group: up to 4 hex digits, or a dotted IPv4 tail worth two groups.
    let j = i;
    let v = 0;
    while (j < n && j - i < 5) {
      const d = hexDigit(s.charCodeAt(j));
      if (d < 0) break;
      v = (v << 4) | d;
      j++;
    }
    if (j < n && s.charCodeAt(j) === 46) { // '.': the rest is IPv4
      if (count > 6) return undefined;
      const v4 = parseIp4(s, i, n);
      if (v4 < 0) return undefined;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      i = n;
      break;
    }
    if (j === i || j - i > 4 || count === 8) return undefined;
    groups[count++] = v;
    if (j === n) { i = n; break; }
    if (s.charCodeAt(j) !== 58) return undefined;
    if (j + 1 < n && s.charCodeAt(j + 1) === 58) {
      if (gap >= 0) return undefined; // a second "::"
      gap = count;
      i = j + 2;
    } else {
      if (j + 1 === n) return undefined; // trailing single ':'
      i = j + 1;
    }
  }
  if (gap < 0) {
    if (count !== 8) return undefined;
  } else {
    if (count > 7) return undefined; // "::" must stand for at least one group
    const tail = count - gap;
    for (let k = 0; k < tail; k++) groups[7 - k] = groups[count - 1 - k];
    for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  }
  return `${groups[0].toString(16)}:${groups[1].toString(16)}:${groups[2].toString(16)}:${groups[3].toString(16)}:${groups[4].toString(16)}:${groups[5].toString(16)}:${groups[6].toString(16)}:${groups[7].toString(16)}`;
}

/** True when the text looks like IPv6 (has a colon); the family decides which parser applies. */
export function isIp6Text(s: string): boolean {
  return s.indexOf(':') >= 0;
}
