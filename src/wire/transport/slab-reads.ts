// Socket reads into slabs instead of one new ArrayBuffer per read.
//
// Why: by default Node gives every socket read an ArrayBuffer of its own, and V8 frees each dead
// one during the next young-generation GC ("sweep_array_buffers" in --trace-gc-nvp), about 1 µs
// apiece on the bench machine. A lookup replica answering 300k calls/s reads a few thousand
// chunks a second, and freeing them was 85-90% of every scavenge pause it had (3.5-4.6 ms of
// 4-5 ms), which was the whole p99 tail of its answers.
//
// With Node's `onread` option the kernel reads into a buffer we supply, and we supply the unread
// rest of a slab: each chunk is a view into the slab (a small heap object, no ArrayBuffer), and
// one slab serves many reads. By default a slab is never written twice, so a chunk stays valid
// after the read callback, exactly like the fresh chunks of 'data' events: the frame decoder may
// keep a partial frame, and a decoded `bytes` field may stay a view. What changes is what a kept
// view pins: its slab (at most MAX_SLAB), where it pinned its read's ArrayBuffer (up to 64 KiB)
// before.
//
// Slabs start small and double while a connection keeps filling them, so an idle connection (a
// thousand subscribers) holds 4 KiB, and a busy one makes one ArrayBuffer per ~20 reads.
//
// A consumer that knows what it keeps (both ends' connections) can do better: it sets
// `recycles` and calls keep() whenever something of a chunk may be used after the callback (a
// partial frame, a body view handed to a handler). A chunk nobody kept is read over by the next
// read, so a connection answering in place (VL2 lookups) reads into one slab for its whole life.
// Why this matters beyond the scavenges: V8 counts live ArrayBuffers as external memory against
// a small heap's old-generation limit. A replica of 12 MB heap making fresh slabs at ~20 MB/s
// (reads and writes) ran a full mark-compact every 0.7-1.5 s that freed nothing, 3-7 ms each
// (--trace-gc: "finalize incremental marking via task; GC in old space requested").
import { Socket } from 'node:net';

const FIRST_SLAB = 4 * 1024;
const MAX_SLAB = 64 * 1024;
/** A read is offered at least this much room; a slab with less left is replaced. */
const MIN_ROOM = 2 * 1024;

export class SlabReads {
  private slab = Buffer.allocUnsafeSlow(FIRST_SLAB);
  private pos = 0;
  /** Reads so far, and the slabs they used: the second stays far below the first. */
  reads = 0;
  slabs = 1;
  /** Receives each chunk read; set by the connection once it exists. */
  sink: (chunk: Buffer) => void = () => undefined;
  /** When true, a chunk's bytes are read over after the sink returns unless it called keep(). */
  recycles = false;
  private kept = false;

  /** Node's onread option: where the next read goes, and what happens with it. */
  readonly options = {
    buffer: (): Uint8Array => this.room(),
    callback: (bytes: number, buf: Uint8Array): boolean => {
      this.reads++;
      this.kept = !this.recycles;
      this.sink((buf as Buffer).subarray(0, bytes));
      if (this.kept) this.pos += bytes;
      return true;
    },
  };

  /** Says that the chunk being handled (or a view of it) may be used after the sink returns. */
  keep(): void {
    this.kept = true;
  }

  /** The unread rest of the current slab, or of a new one when it is nearly used up. */
  private room(): Buffer {
    if (this.slab.length - this.pos < MIN_ROOM) {
      this.slab = Buffer.allocUnsafeSlow(Math.min(MAX_SLAB, this.slab.length * 2));
      this.pos = 0;
      this.slabs++;
    }
    return this.slab.subarray(this.pos);
  }
}

/** The parts of an accepted net.Socket that adoption uses; not in Node's public types. */
interface AcceptedSocket {
  _handle?: object | null;
}

/**
 * Moves the connection of `accepted` (from a net.Server with pauseOnConnect, so nothing was read
 * yet) into a new Socket that reads through `reads`; the old Socket is destroyed, which only
 * releases its count on the server. Node has no onread option for accepted sockets, so this uses
 * the socket's `_handle`, the one way in; without it (another runtime), the accepted socket is
 * returned as it was, resumed, with `reads.sink` on its 'data' events.
 */
export function adoptWithSlabReads(accepted: Socket, reads: SlabReads): Socket {
  const shell = accepted as Socket & AcceptedSocket;
  const handle = shell._handle;
  if (handle === undefined || handle === null) {
    accepted.on('data', (chunk: Buffer) => reads.sink(chunk));
    accepted.resume();
    return accepted;
  }
  shell._handle = null;
  accepted.destroy();
  return new Socket({ handle, readable: true, writable: true, onread: reads.options } as ConstructorParameters<typeof Socket>[0]);
}
