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
import protobuf from 'protobufjs/minimal.js';
import { VxfabError } from '../model/errors.js';
import { vxfab } from './gen/proto.js';

/** Default largest Frame (without its length prefix) a peer may send: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1 << 20;

/** A varint32 length prefix is at most 5 bytes long. */
const MAX_PREFIX_BYTES = 5;

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
    const reader = protobuf.Reader.create(buf);
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
      reader.pos = p;
      let frame: vxfab.v1.Frame;
      try {
        frame = vxfab.v1.Frame.decode(reader, len);
      } catch (e) {
        throw new VxfabError('PROTOCOL_ERROR',
          `frame of ${len} bytes does not decode as vxfab.v1.Frame: ${(e as Error).message}`,
          { field: 'frame', value: String(len), cause: e });
      }
      out.push(frame);
      pos = p + len;
    }
    if (pos < end) {
      this.pending.push(pos === 0 ? buf : buf.subarray(pos));
      this.pendingBytes = end - pos;
    }
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
