// A pure frame decoder: fed the byte chunks a stream delivers, it returns the complete
// vxfab.v1.Frames they contain. No sockets, no timers: the transport owns those.
//
// Framing is protobuf's delimited form: a base-128 varint byte length, then that many bytes of
// Frame. The length is checked against the limit as soon as the prefix is complete, before any
// of the frame is buffered, so a peer cannot make us hold more than one limit's worth of bytes.
//
// Copying: frames wholly inside one chunk are decoded in place (their `body` is a view into the
// chunk). A frame split across chunks is collected as a list of chunks and joined once, when its
// last byte arrives, so the work stays linear however the bytes are cut.
//
// Hot path (visit): frames of the common shape — kind, id, method, body and nothing else, the
// shape of every REQUEST, REPLY and STREAM_ITEM — are read in place by readLiteFrame into one
// scratch LiteFrame: no Frame object, no method string, no body view per frame. Anything else
// (error, hello, unknown fields, odd wire types) goes through the generated Frame.decode, so the
// protobuf semantics are the generated decoder's either way.
import protobuf from 'protobufjs/minimal.js';
import { VxfabError } from '../model/errors.js';
import { vxfab } from './gen/proto.js';

/** Default largest Frame (without its length prefix) a peer may send: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1 << 20;

/** A varint32 length prefix is at most 5 bytes long. */
const MAX_PREFIX_BYTES = 5;

/** A frame read in place: offsets into `buf` (and `reader`, positioned nowhere in particular). */
export interface LiteFrame {
  kind: number;
  id: number;
  /** The chunk the frame is in, and a protobufjs Reader over the same bytes. */
  buf: Buffer;
  reader: protobuf.Reader;
  /** Frame bytes (without the length prefix): [start, end). */
  start: number;
  end: number;
  /** Frame.method's bytes (UTF-8, not yet checked): [methodStart, methodEnd). Empty when absent. */
  methodStart: number;
  methodEnd: number;
  /** Frame.body: [bodyStart, bodyEnd). Empty when absent. */
  bodyStart: number;
  bodyEnd: number;
}

/** Receives the frames of a chunk as visit() reads them. */
export interface FrameVisitor {
  /** A frame of the common shape, read in place. `f` is scratch, valid during the call only. */
  lite(f: LiteFrame): void;
  /** Any other frame, decoded by the generated decoder. */
  frame(frame: vxfab.v1.Frame): void;
}

// Frame's field tags (field << 3 | wire type), as the generated encoder writes them.
const TAG_KIND = 0x08;
const TAG_ID = 0x10;
const TAG_METHOD = 0x1a;
const TAG_BODY = 0x22;

/** Reads a varint of at most 5 bytes whose value is below 2^32 at buf[pos]; returns the position
 *  after it, or -1 (longer, larger or truncated: the caller falls back to the full decoder). The
 *  value is left in varintValue. */
let varintValue = 0;
function readVarint32(buf: Uint8Array, pos: number, end: number): number {
  let v = 0;
  let shift = 1;
  for (let k = 0; k < 5; k++) {
    if (pos >= end) return -1;
    const b = buf[pos++]!;
    if (k === 4 && b > 0x0f) return -1;
    v += (b & 0x7f) * shift;
    if (b < 0x80) {
      varintValue = v;
      return pos;
    }
    shift *= 128;
  }
  return -1;
}

/**
 * Reads the Frame in buf[start, end) into `out` when it has only fields 1 to 4 with their
 * declared wire types (repeats allowed: the last one wins, as in protobuf), a kind that fits
 * an int32 and an ASCII method. Returns false for anything else, and the caller must use the generated decoder,
 * whose result (or error) is then the answer. When it returns true, the fields agree with what
 * vxfab.v1.Frame.decode would give, except that the method is left as bytes.
 */
export function readLiteFrame(buf: Uint8Array, start: number, end: number, out: LiteFrame): boolean {
  let kind = 0;
  let id = 0;
  let methodStart = start;
  let methodEnd = start;
  let bodyStart = start;
  let bodyEnd = start;
  let pos = start;
  while (pos < end) {
    const tag = buf[pos++]!;
    if (tag === TAG_KIND || tag === TAG_ID) {
      pos = readVarint32(buf, pos, end);
      if (pos < 0) return false;
      if (tag === TAG_ID) id = varintValue;
      else if (varintValue > 0x7fffffff) return false;
      else kind = varintValue;
    } else if (tag === TAG_METHOD || tag === TAG_BODY) {
      pos = readVarint32(buf, pos, end);
      if (pos < 0 || varintValue > end - pos) return false;
      if (tag === TAG_METHOD) {
        // ASCII only (every registered path is): other bytes may not be UTF-8, which the
        // generated decoder refuses, so they take its path.
        for (let k = pos, e = pos + varintValue; k < e; k++) if (buf[k]! >= 0x80) return false;
        methodStart = pos;
        methodEnd = pos + varintValue;
      } else {
        bodyStart = pos;
        bodyEnd = pos + varintValue;
      }
      pos += varintValue;
    } else {
      return false;
    }
  }
  out.kind = kind;
  out.id = id;
  out.start = start;
  out.end = end;
  out.methodStart = methodStart;
  out.methodEnd = methodEnd;
  out.bodyStart = bodyStart;
  out.bodyEnd = bodyEnd;
  return true;
}

/** A LiteFrame to fill (readLiteFrame's `out`). */
export function newLiteFrame(): LiteFrame {
  return { kind: 0, id: 0, buf: EMPTY, reader: protobuf.Reader.create(EMPTY), start: 0, end: 0,
    methodStart: 0, methodEnd: 0, bodyStart: 0, bodyEnd: 0 };
}
const EMPTY = Buffer.alloc(0);

/** The Frame a LiteFrame stands for, from the generated decoder (which also checks the method's
 *  UTF-8: bytes that are not are a PROTOCOL_ERROR, as from FrameDecoder.push). */
export function decodeLite(f: LiteFrame): vxfab.v1.Frame {
  try {
    return vxfab.v1.Frame.decode(f.buf.subarray(f.start, f.end));
  } catch (e) {
    throw new VxfabError('PROTOCOL_ERROR',
      `frame of ${f.end - f.start} bytes does not decode as vxfab.v1.Frame: ${(e as Error).message}`,
      { field: 'frame', value: String(f.end - f.start), cause: e });
  }
}

export interface FrameDecoderOptions {
  /** Largest Frame in bytes, not counting the length prefix. */
  maxFrameBytes?: number;
}

export class FrameDecoder {
  readonly maxFrameBytes: number;
  /** Bytes of an incomplete frame (or prefix) received so far, oldest first. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Total bytes (prefix + frame) of the incomplete frame, or 0 while its prefix is incomplete. */
  private need = 0;
  private readonly lite = newLiteFrame();
  /** One Reader, pointed at each chunk in turn (saves an object per chunk). */
  private readonly reader = protobuf.Reader.create(EMPTY);
  /** Set by halt(): visit() stops after the frame being visited. */
  private halted = false;

  constructor(options: FrameDecoderOptions = {}) {
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(max) || max < 1 || max > 0xffffffff) {
      throw new VxfabError('INVALID_ARGUMENT', `maxFrameBytes ${max}: must be an integer from 1 to 4294967295`,
        { field: 'maxFrameBytes', value: String(max) });
    }
    this.maxFrameBytes = max;
  }

  /** Bytes held for a frame not yet complete. Non-zero when the stream ends means a truncated frame. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /**
   * Takes the next chunk of the stream and returns the frames it completes, in order.
   * Throws VxfabError PROTOCOL_ERROR for a length prefix longer than 5 bytes, a length over the
   * limit, or bytes that do not decode as a Frame; the stream cannot be resynchronised after that
   * and the decoder must not be fed again.
   */
  push(chunk: Uint8Array): vxfab.v1.Frame[] {
    const out: vxfab.v1.Frame[] = [];
    this.pushInto(chunk, out);
    return out;
  }

  /** Like push, but appends the frames to `out` (saves an array per chunk on hot paths). */
  pushInto(chunk: Uint8Array, out: vxfab.v1.Frame[]): void {
    this.read(chunk, undefined, out);
  }

  /**
   * Like push, but hands each frame to `visitor` as soon as it is read, common-shape frames in
   * place (see readLiteFrame). Frames before a framing error are visited; then it throws.
   */
  visit(chunk: Uint8Array, visitor: FrameVisitor): void {
    this.read(chunk, visitor, undefined);
  }

  /**
   * Called by a visitor: visit() returns after the current frame, keeping the rest of the chunk
   * (counted in `buffered`) for resume(). A receiver uses it to stop taking requests mid-chunk
   * (one 64 KiB chunk holds a thousand small requests, whose replies may be far larger).
   */
  halt(): void {
    this.halted = true;
  }

  /** Undoes halt() from within the visit it was called in: the visit goes on. */
  unhalt(): void {
    this.halted = false;
  }

  /** Undoes halt() and visits the frames it left, as if they were a new chunk. */
  resume(visitor: FrameVisitor): void {
    this.halted = false;
    if (this.pendingBytes === 0 || this.need > 0) return; // nothing kept, or one incomplete frame
    const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.read(buf, visitor, undefined);
  }

  private read(chunk: Uint8Array, visitor: FrameVisitor | undefined, out: vxfab.v1.Frame[] | undefined): void {
    if (chunk.length === 0) return;
    let buf = asBuffer(chunk);
    if (this.pendingBytes > 0) {
      this.pending.push(buf);
      this.pendingBytes += buf.length;
      // Still short of the frame whose size is known: keep the chunk and copy nothing yet.
      if (this.need > 0 && this.pendingBytes < this.need) return;
      buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.need = 0;
    const end = buf.length;
    const reader = this.reader as protobuf.Reader & { buf: Uint8Array };
    reader.buf = buf;
    reader.pos = 0;
    reader.len = end;
    let pos = 0;
    while (pos < end) {
      // The length prefix, read by hand so that its size is known before the frame is buffered.
      let len = 0;
      let shift = 1;
      let p = pos;
      let complete = false;
      while (p < end) {
        const b = buf[p++]!;
        len += (b & 0x7f) * shift;
        if (b < 0x80) {
          complete = true;
          break;
        }
        shift *= 128;
        if (p - pos >= MAX_PREFIX_BYTES) {
          throw new VxfabError('PROTOCOL_ERROR',
            `frame length prefix is longer than ${MAX_PREFIX_BYTES} bytes (a varint32 at most)`,
            { field: 'frame.length', value: buf.subarray(pos, p).toString('hex') });
        }
      }
      if (!complete) break; // the prefix itself is split: wait for more bytes
      if (len > this.maxFrameBytes) {
        throw new VxfabError('PROTOCOL_ERROR',
          `frame of ${len} bytes is over the limit of ${this.maxFrameBytes} bytes`,
          { field: 'frame.length', value: String(len) });
      }
      if (p + len > end) {
        this.need = p - pos + len;
        break;
      }
      pos = p + len;
      if (visitor !== undefined) {
        const lite = this.lite;
        if (readLiteFrame(buf, p, pos, lite)) {
          lite.buf = buf;
          lite.reader = reader;
          visitor.lite(lite);
          if (this.halted) break;
          continue;
        }
      }
      reader.pos = p;
      reader.len = end; // a visitor's decode that failed midway may have left it short
      let frame: vxfab.v1.Frame;
      try {
        frame = vxfab.v1.Frame.decode(reader, len);
      } catch (e) {
        throw new VxfabError('PROTOCOL_ERROR',
          `frame of ${len} bytes does not decode as vxfab.v1.Frame: ${(e as Error).message}`,
          { field: 'frame', value: String(len), cause: e });
      }
      if (visitor !== undefined) {
        visitor.frame(frame);
        if (this.halted) break;
      } else out!.push(frame);
    }
    if (pos < end) {
      this.pending.push(pos === 0 ? buf : buf.subarray(pos));
      this.pendingBytes = end - pos;
    }
    // Hold no chunk between reads (a thousand idle connections would each keep one).
    reader.buf = EMPTY;
    this.lite.buf = EMPTY;
  }

  /**
   * Says the stream has ended. Throws PROTOCOL_ERROR naming the missing bytes when it ended inside
   * a frame. The decoder is reset either way.
   */
  end(): void {
    const held = this.pendingBytes;
    const need = this.need;
    this.pending = [];
    this.pendingBytes = 0;
    this.need = 0;
    if (held > 0) {
      const what = need > 0 ? `a frame of ${need} bytes (prefix included)` : 'a frame length prefix';
      throw new VxfabError('PROTOCOL_ERROR', `stream ended after ${held} bytes of ${what}`,
        { field: 'frame', value: String(held) });
    }
  }
}

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
