// Snappy decompression, only as much as reading LevelDB's table index blocks needs (LevelDB
// compresses every block that shrinks by an eighth). Throws on any malformed input: the caller
// reports the file as damaged.

export class SnappyError extends Error {
  override name = 'SnappyError';
}

export function snappyDecompress(src: Uint8Array): Uint8Array {
  let pos = 0;
  let length = 0;
  for (let shift = 0; ; shift += 7) {
    if (pos >= src.length || shift > 28) throw new SnappyError('bad length preamble');
    const b = src[pos++]!;
    length += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  const out = new Uint8Array(length);
  let o = 0;
  while (pos < src.length) {
    const tag = src[pos++]!;
    const kind = tag & 3;
    if (kind === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const extra = n - 59;
        if (pos + extra > src.length) throw new SnappyError('literal length past the end');
        n = 0;
        for (let i = 0; i < extra; i++) n += src[pos + i]! * 2 ** (8 * i);
        pos += extra;
      }
      n += 1;
      if (pos + n > src.length || o + n > length) throw new SnappyError('literal past the end');
      out.set(src.subarray(pos, pos + n), o);
      pos += n;
      o += n;
      continue;
    }
    let n: number;
    let offset: number;
    if (kind === 1) {
      if (pos + 1 > src.length) throw new SnappyError('copy past the end');
      n = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | src[pos++]!;
    } else if (kind === 2) {
      if (pos + 2 > src.length) throw new SnappyError('copy past the end');
      n = (tag >>> 2) + 1;
      offset = src[pos]! | (src[pos + 1]! << 8);
      pos += 2;
    } else {
      if (pos + 4 > src.length) throw new SnappyError('copy past the end');
      n = (tag >>> 2) + 1;
      offset = (src[pos]! | (src[pos + 1]! << 8) | (src[pos + 2]! << 16) | (src[pos + 3]! << 24)) >>> 0;
      pos += 4;
    }
    if (offset === 0 || offset > o || o + n > length) throw new SnappyError('bad copy');
    // Byte by byte: a copy may overlap its own output (offset < n repeats a pattern).
    for (let i = 0; i < n; i++) out[o + i] = out[o - offset + i]!;
    o += n;
  }
  if (o !== length) throw new SnappyError(`decompressed ${o} bytes, expected ${length}`);
  return out;
}
