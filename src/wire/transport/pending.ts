// The calls a client is waiting on, by request id, and their deadlines.
//
// Deadlines are enforced by one coarse sweep (every SWEEP_MS while any call is waiting) rather
// than a timer per call: arming and clearing a timer per request would cost more than the rest of
// a small call. A call therefore fails between its timeout and its timeout + SWEEP_MS.
import { VxfabError } from '../../model/errors.js';
import type { MethodDesc } from '../rpc.js';

export const SWEEP_MS = 25;

/** One outstanding unary call or stream. */
export class PendingCall {
  /** Set once the REQUEST frame was written to the current connection. */
  sent = false;
  constructor(
    readonly id: number,
    readonly desc: MethodDesc<unknown, unknown>,
    /** The encoded request, kept until sent (a call may wait for a connection). */
    public body: Uint8Array | undefined,
    /** Absolute time (Date.now()) after which the call fails; Infinity for none. */
    public deadline: number,
    readonly timeoutMs: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (e: Error) => void,
    /** Stream calls: receives each item. Undefined for unary calls. */
    readonly onItem: ((item: unknown) => void) | undefined,
  ) {}
}

export class PendingTable {
  private readonly calls = new Map<number, PendingCall>();
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;

  get size(): number {
    return this.calls.size;
  }

  /** A request id not in use: ids count up from 1 and wrap, skipping 0 (proto3's "absent"). */
  allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= 0xffffffff ? 1 : id + 1;
      if (!this.calls.has(id)) return id;
    }
  }

  add(call: PendingCall): void {
    this.calls.set(call.id, call);
    if (this.timer === undefined && call.deadline !== Infinity) {
      this.timer = setInterval(() => this.sweep(), SWEEP_MS);
      this.timer.unref();
    }
  }

  get(id: number): PendingCall | undefined {
    return this.calls.get(id);
  }

  /** Removes and returns the call with this id, if still waiting. */
  take(id: number): PendingCall | undefined {
    const call = this.calls.get(id);
    if (call !== undefined) this.calls.delete(id);
    return call;
  }

  values(): IterableIterator<PendingCall> {
    return this.calls.values();
  }

  /** Removes every call matching `which` and rejects it with `error(call)`. */
  failWhere(which: (call: PendingCall) => boolean, error: (call: PendingCall) => VxfabError): void {
    for (const call of this.calls.values()) {
      if (!which(call)) continue;
      this.calls.delete(call.id);
      call.reject(error(call));
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private sweep(): void {
    const now = Date.now();
    let timed = 0;
    for (const call of this.calls.values()) {
      if (call.deadline === Infinity) continue;
      timed++;
      if (now < call.deadline) continue;
      this.calls.delete(call.id);
      call.reject(new VxfabError('DEADLINE_EXCEEDED',
        `${call.desc.path} timed out after ${call.timeoutMs} ms` +
        (call.sent ? '' : ' (still waiting for a connection)'),
        { field: 'timeoutMs', value: String(call.timeoutMs) }));
    }
    if (timed === 0) this.stop(); // add() restarts it
  }
}
