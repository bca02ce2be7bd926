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

/**
 * Outstanding calls by id: an open-addressing table (linear probing on id & mask, backward-shift
 * deletion). Not a Map on purpose: with ids that only grow and a call deleted per reply, V8's Map
 * rehashes its backing store every few dozen calls, and in CPU and GC profiles of pipelined calls
 * the replaced stores kept their deleted calls (and through them the calls' promises and replies)
 * alive past young-generation collections: ~3 MB promoted per scavenge, scavenges of ~10 ms and a
 * fifth of the client's time in GC. Ids are consecutive, so id & mask spreads them perfectly.
 */
export class PendingTable {
  private slots: (PendingCall | undefined)[] = new Array<PendingCall | undefined>(64).fill(undefined);
  private mask = 63;
  private count = 0;
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;

  get size(): number {
    return this.count;
  }

  /** A request id not in use: ids count up from 1 and wrap, skipping 0 (proto3's "absent"). */
  allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= 0xffffffff ? 1 : id + 1;
      if (this.get(id) === undefined) return id;
    }
  }

  add(call: PendingCall): void {
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    this.insert(call);
    this.count++;
    if (this.timer === undefined && call.deadline !== Infinity) {
      this.timer = setInterval(() => this.sweep(), SWEEP_MS);
      this.timer.unref();
    }
  }

  get(id: number): PendingCall | undefined {
    const slots = this.slots;
    const mask = this.mask;
    for (let i = id & mask; ; i = (i + 1) & mask) {
      const c = slots[i];
      if (c === undefined || c.id === id) return c;
    }
  }

  /** Removes and returns the call with this id, if still waiting. */
  take(id: number): PendingCall | undefined {
    const slots = this.slots;
    const mask = this.mask;
    for (let i = id & mask; ; i = (i + 1) & mask) {
      const c = slots[i];
      if (c === undefined) return undefined;
      if (c.id === id) {
        this.removeAt(i);
        return c;
      }
    }
  }

  /** The calls waiting now (a copy: the table may change while the caller goes through it). */
  values(): IterableIterator<PendingCall> {
    return this.snapshot()[Symbol.iterator]();
  }

  /** Removes every call matching `which` and rejects it with `error(call)`. */
  failWhere(which: (call: PendingCall) => boolean, error: (call: PendingCall) => VxfabError): void {
    for (const call of this.snapshot()) {
      if (!which(call)) continue;
      this.take(call.id);
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
    let expired: PendingCall[] | undefined;
    for (const call of this.slots) {
      if (call === undefined || call.deadline === Infinity) continue;
      timed++;
      if (now >= call.deadline) (expired ??= []).push(call);
    }
    if (expired) {
      for (const call of expired) {
        this.take(call.id);
        call.reject(new VxfabError('DEADLINE_EXCEEDED',
          `${call.desc.path} timed out after ${call.timeoutMs} ms` +
          (call.sent ? '' : ' (still waiting for a connection)'),
          { field: 'timeoutMs', value: String(call.timeoutMs) }));
      }
    }
    if (timed === 0) this.stop(); // add() restarts it
  }

  private snapshot(): PendingCall[] {
    const out: PendingCall[] = [];
    for (const c of this.slots) if (c !== undefined) out.push(c);
    return out;
  }

  private insert(call: PendingCall): void {
    const slots = this.slots;
    const mask = this.mask;
    let i = call.id & mask;
    while (slots[i] !== undefined) i = (i + 1) & mask;
    slots[i] = call;
  }

  /** Empties slot i and moves later calls of its probe run back, so lookups need no tombstones. */
  private removeAt(i: number): void {
    const slots = this.slots;
    const mask = this.mask;
    slots[i] = undefined;
    this.count--;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const c = slots[j];
      if (c === undefined) return;
      const home = c.id & mask;
      // c may stay at j when its home lies cyclically in (i, j].
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      slots[i] = c;
      slots[j] = undefined;
      i = j;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Array<PendingCall | undefined>(old.length * 2).fill(undefined);
    this.mask = this.slots.length - 1;
    for (const c of old) if (c !== undefined) this.insert(c);
  }
}
