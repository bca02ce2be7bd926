// A hand-written reader for the encoded vxfab.v1.Vl2Request, for the VL2 hot path: the request's
// vnid and MAC are read straight from the frame's bytes into numbers, so answering a lookup makes
// no request object and no MAC string (protobufjs decode would make both). Anything unusual — a
// MAC that is not 17 bytes of "xx:xx:…", unknown fields, a malformed body — is left to the
// general decoder, whose result the caller validates and reports as usual.

import { VNID_MAX } from '../model/vnid.js';

/** Results of the last successful readVl2Request (module scratch: the hot path allocates nothing). */
export const vl2Parsed = { vnid: 0, hi: 0, lo: 0 };

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

function pair(b: Uint8Array, i: number): number {
  const x = hex(b[i]!);
  const y = hex(b[i + 1]!);
  return x < 0 || y < 0 ? -1 : (x << 4) | y;
}

/**
 * Reads `body` (its bytes [start, end), by default all) when it is exactly the usual encoding: field 1 (vnid, varint) and field 2 (a
 * 17-byte colon MAC), in either order, each at most once. Returns true and fills vl2Parsed, or
 * false when the caller must take the general path (which also produces the right error).
 * A vnid of 0 or an absent field also returns false.
 */
export function readVl2Request(body: Uint8Array, start = 0, end = body.length): boolean {
  const n = end;
  let i = start;
  let vnid = -1;
  let macAt = -1;
  while (i < n) {
    const tag = body[i++]!;
    if (tag === 0x08 && vnid < 0) {
      let v = 0;
      let shift = 1;
      for (let k = 0; ; k++) {
        if (i >= n || k === 5) return false;
        const b = body[i++]!;
        v += (b & 0x7f) * shift;
        if (b < 0x80) break;
        shift *= 128;
      }
      vnid = v;
    } else if (tag === 0x12 && macAt < 0) {
      if (i >= n || body[i] !== 17 || i + 18 > n) return false;
      macAt = i + 1;
      i += 18;
    } else {
      return false;
    }
  }
  if (vnid <= 0 || vnid > VNID_MAX || macAt < 0) return false;
  for (let k = 2; k < 17; k += 3) if (body[macAt + k] !== 58) return false;
  const a = pair(body, macAt);
  const b = pair(body, macAt + 3);
  const c = pair(body, macAt + 6);
  const d = pair(body, macAt + 9);
  const e = pair(body, macAt + 12);
  const f = pair(body, macAt + 15);
  if ((a | b | c | d | e | f) < 0) return false;
  vl2Parsed.vnid = vnid;
  vl2Parsed.hi = (a << 8) | b;
  vl2Parsed.lo = ((c << 24) | (d << 16) | (e << 8) | f) >>> 0;
  return true;
}
