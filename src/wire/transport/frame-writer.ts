// Outgoing frames of one socket, batched: frames are encoded into one protobufjs Writer and handed
// to the socket in one write per batch. A batch ends when the code that filled it says so (uncork,
// used around the handling of one received chunk), at the next turn of the event loop
// (setImmediate, for frames written from promise continuations), or when it grows past
// FLUSH_BYTES. One write per batch instead of one per frame is most of what makes pipelined
// small calls fast: a socket write costs far more than encoding a small frame.
import type { Socket } from 'node:net';
import protobuf from 'protobufjs/minimal.js';
import { writeFrame, type FrameInit } from '../frame-encoder.js';

/** A batch this large is written at once rather than at the end of the tick. */
const FLUSH_BYTES = 64 * 1024;

export class FrameWriter {
  private readonly writer = protobuf.Writer.create();
  private corked = 0;
  private scheduled = false;
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(private readonly socket: Socket) {}

  /** Bytes encoded but not yet handed to the socket. */
  get buffered(): number {
    return this.writer.pos;
  }

  write(frame: FrameInit): void {
    writeFrame(this.writer, frame);
    if (this.writer.pos >= FLUSH_BYTES) this.flush();
    else if (this.corked === 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  /** Holds writes until the matching uncork (which flushes), without scheduling a flush. */
  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked > 0 && --this.corked === 0) this.flush();
  }

  flush(): void {
    if (this.writer.pos === 0) return;
    // finish() copies the batch out, so the writer's buffer can be reused for the next one.
    const bytes = this.writer.finish();
    this.writer.reset();
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }
}
