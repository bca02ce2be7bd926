// Outgoing frames of one socket, batched: frames are written into a slab buffer and handed to the
// socket in one write per batch. A batch ends when the code that filled it says so (uncork,
// used around the handling of one received chunk), at the next turn of the event loop
// (setImmediate, for frames written from promise continuations), or when it grows past
// FLUSH_BYTES. One write per batch instead of one per frame is most of what makes pipelined
// small calls fast: a socket write costs far more than encoding a small frame.
//
// Frames of the common shape (kind, id, method, body) get their few header bytes written by hand
// straight into the slab: no protobufjs Writer, no per-frame objects. A flushed batch is a view
// of the slab (the socket may hold it until the kernel takes it), so the slab is not written
// over while the socket may hold it: the next batch starts where the last ended, and a full slab
// is replaced by a new one. Most writes, though, go to the kernel before socket.write returns
// (nothing left queued): then the next batch starts at the slab's start again, and a busy
// connection writes from one slab for its whole life (see slab-reads.ts for why fresh
// ArrayBuffers cost more than their scavenge).
// Bodies of messages are encoded by one reused protobufjs Writer (a growable buffer) and copied in.
import type { Socket } from 'node:net';
import protobuf from 'protobufjs/minimal.js';
import { encodeFrame, type BodyEncoder, type FrameInit } from '../frame-encoder.js';
import type { vxfab } from '../gen/proto.js';

/**
 * A batch this large is written at once rather than at the end of the tick. Small on purpose:
 * with one big batch per tick, client and server fall into lockstep (the client encodes all 64
 * requests, then the server answers all 64, then the client…) and each side idles while the other
 * works. Writing every ~1 KiB (some 20 small frames) keeps several batches in flight so both
 * processes work at once; on the 2-core bench machine this roughly doubled calls/s at 64 in flight
 * against 64 KiB batches, while still writing about 20 frames per system call.
 */
const FLUSH_BYTES = 1024;
/** Slab sizes: the first is allocated on a connection's first write and is small, so that a
 *  thousand quiet connections (subscribers) hold 2 KiB each, not 16 MB between them; each next
 *  slab is twice the last, up to a new slab every ~16 batches of FLUSH_BYTES. */
const FIRST_SLAB_BYTES = 2 * 1024;
const MAX_SLAB_BYTES = 16 * 1024;
const NO_SLAB = Buffer.alloc(0);

// Frame's field tags (field << 3 | wire type).
const TAG_KIND = 0x08;
const TAG_ID = 0x10;
const TAG_METHOD = 0x1a;
const TAG_BODY = 0x22;

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

function putVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/** Copies src[0, n) to dst at `at`. Small bodies (most) byte by byte: Buffer#copy and set would
 *  each make a view object of a partial source, which showed up in allocation profiles. */
function copyBytes(src: Uint8Array, dst: Buffer, at: number, n: number): void {
  if (n <= 128) {
    for (let i = 0; i < n; i++) dst[at + i] = src[i]!;
  } else {
    dst.set(n === src.length ? src : src.subarray(0, n), at);
  }
}

/** UTF-8 bytes of method paths, cached: the set of paths a process uses is small and fixed. */
const pathBytes = new Map<string, Buffer>();
function methodBytes(method: string): Buffer {
  let b = pathBytes.get(method);
  if (b === undefined) {
    b = Buffer.from(method, 'utf8');
    if (pathBytes.size < 1024) pathBytes.set(method, b);
  }
  return b;
}

export class FrameWriter {
  private slab = NO_SLAB;
  private slabCount = 0;
  /** The batch is slab[from, pos). */
  private from = 0;
  private pos = 0;
  private scratch = protobuf.Writer.create();
  private corked = 0;
  private scheduled = false;
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /** Called after a flush that leaves more than backlogLimit bytes queued on the socket (a peer
   *  not reading). Checked only when a write could not complete at once: no cost otherwise. */
  backlogLimit = Infinity;
  onBacklog: () => void = () => undefined;
  /** The most bytes a flush has left queued on the socket. */
  peakQueued = 0;

  constructor(private readonly socket: Socket) {}

  /** Bytes encoded but not yet handed to the socket. */
  get buffered(): number {
    return this.pos - this.from;
  }

  /** Any frame (hello, errors…): encoded by the generated encoder. */
  write(frame: FrameInit): void {
    this.copyIn(encodeFrame(frame));
    this.written();
  }

  /**
   * Writes a frame whose body is `message` encoded by `encoder`. If the message does not encode,
   * nothing is written and the error is thrown.
   */
  writeMessage(kind: vxfab.v1.FrameKind, id: number, method: string, encoder: BodyEncoder, message: object): void {
    const w = this.scratch as protobuf.Writer & { buf: Uint8Array; pos: number; states: number[] | null };
    w.pos = 0;
    try {
      (encoder.encode as (m: object, w: protobuf.Writer) => protobuf.Writer)(message, w);
    } catch (e) {
      // It may hold half a message and open forks.
      w.pos = 0;
      if (w.states) w.states.length = 0;
      throw e;
    }
    this.writeFrame(kind, id, method, w.buf, w.pos);
  }

  /** Writes a frame of kind, id, method ('' for none) and an already-encoded body. The bytes are
   *  those the generated encoder writes for { kind, id, method, body }. */
  writeBody(kind: vxfab.v1.FrameKind, id: number, method: string, body: Uint8Array): void {
    this.writeFrame(kind, id, method, body, body.length);
  }

  /** The frame { kind, id, method, body: src[0, bodyLen) }, header written by hand. */
  private writeFrame(kind: vxfab.v1.FrameKind, id: number, method: string, src: Uint8Array, bodyLen: number): void {
    const m = method === '' ? undefined : methodBytes(method);
    let size = 0;
    if (kind !== 0) size += 1 + varintSize(kind);
    if (id !== 0) size += 1 + varintSize(id);
    if (m !== undefined) size += 1 + varintSize(m.length) + m.length;
    if (bodyLen > 0) size += 1 + varintSize(bodyLen) + bodyLen;
    let p = this.reserve(varintSize(size) + size);
    const buf = this.slab;
    p = putVarint(buf, p, size);
    if (kind !== 0) {
      buf[p++] = TAG_KIND;
      p = putVarint(buf, p, kind);
    }
    if (id !== 0) {
      buf[p++] = TAG_ID;
      p = putVarint(buf, p, id);
    }
    if (m !== undefined) {
      buf[p++] = TAG_METHOD;
      p = putVarint(buf, p, m.length);
      m.copy(buf, p);
      p += m.length;
    }
    if (bodyLen > 0) {
      buf[p++] = TAG_BODY;
      p = putVarint(buf, p, bodyLen);
      copyBytes(src, buf, p, bodyLen);
      p += bodyLen;
    }
    this.pos = p;
    this.written();
  }

  /** Holds writes until the matching uncork (which flushes), without scheduling a flush. */
  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked > 0 && --this.corked === 0) this.flush();
  }

  flush(): void {
    if (this.pos === this.from) return;
    const bytes = this.slab.subarray(this.from, this.pos);
    this.from = this.pos;
    if (!this.socket.destroyed && this.socket.writable) {
      this.socket.write(bytes);
      // Nothing queued means the kernel has the bytes (a write that could not complete at once
      // stays counted, and its request holds `bytes`, until it does): the slab is free again.
      const queued = this.socket.writableLength;
      if (queued === 0) this.from = this.pos = 0;
      else {
        if (queued > this.peakQueued) this.peakQueued = queued;
        if (queued > this.backlogLimit) this.onBacklog();
      }
    }
  }

  /** Slabs allocated so far: a connection whose writes complete at once stays at one. */
  get slabs(): number {
    return this.slabCount;
  }

  private written(): void {
    if (this.pos - this.from >= FLUSH_BYTES) this.flush();
    else if (this.corked === 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  private copyIn(bytes: Uint8Array): void {
    const p = this.reserve(bytes.length);
    copyBytes(bytes, this.slab, p, bytes.length);
    this.pos = p + bytes.length;
  }

  /** Makes room for n more bytes of the batch; returns where they go. A new slab takes over the
   *  batch so far (copied: the old slab's flushed part may still be the socket's). */
  private reserve(n: number): number {
    if (this.pos + n <= this.slab.length) return this.pos;
    const batch = this.pos - this.from;
    const size = this.slab.length === 0 ? FIRST_SLAB_BYTES : Math.min(MAX_SLAB_BYTES, this.slab.length * 2);
    const next = Buffer.allocUnsafeSlow(Math.max(size, (batch + n) * 2));
    this.slabCount++;
    this.slab.copy(next, 0, this.from, this.pos);
    this.slab = next;
    this.from = 0;
    this.pos = batch;
    return batch;
  }
}
