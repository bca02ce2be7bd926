// The calls a client is waiting on, by request id, and their deadlines.
//
// Deadlines are enforced by one coarse sweep (every SWEEP_MS while any call is waiting) rather
// than a timer per call: arming and clearing a timer per request would cost more than the rest of
// a small call. A call therefore fails between its timeout and its timeout + SWEEP_MS of the time
// this process was running: a sweep that comes late by a stall of the process moves the deadlines
// on by the stall and expires nothing, so that replies that arrived meanwhile are read first
// (running-clock.ts says why).
import { VxfabError } from '../../model/errors.js';
import type { MethodDesc } from '../rpc.js';
import { STALL_TOLERANCE_MS } from './running-clock.js';

export const SWEEP_MS = 25;
/** The table's smallest size (a power of two); it doubles when full and halves when 1/8 full. */
const MIN_SLOTS = 64;

/** One outstanding unary call or stream. */
export class PendingCall {
  /** Set once the REQUEST frame was written to the current connection. */
  sent = false;
  /** The next call in the same PendingTable slot (ids that collide modulo the table size). */
  chained: PendingCall | undefined = undefined;
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
 * Outstanding calls by id: an array of slots indexed by id & mask, colliding ids chained through
 * PendingCall.chained. Not a Map on purpose: with ids that only grow and a call deleted per reply,
 * V8's Map rehashes its backing store every few dozen calls, and in CPU and GC profiles of
 * pipelined calls the replaced stores kept their deleted calls (and through them the calls'
 * promises and replies) alive past young-generation collections: ~3 MB promoted per scavenge,
 * scavenges of ~10 ms and a fifth of the client's time in GC. Ids are consecutive, so id & mask
 * spreads them evenly and chains stay short (a long-lived stream, at most, shares a slot); not
 * open addressing, whose probe runs would span every call in flight.
 */
export class PendingTable {
  private slots: (PendingCall | undefined)[] = new Array<PendingCall | undefined>(MIN_SLOTS).fill(undefined);
  private mask = MIN_SLOTS - 1;
  private count = 0;
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;
  /** Deadlines count running time only (running-clock.ts): a sweep that comes late by a stall
   *  moves every deadline on by the stall, and expires nothing until the replies that arrived
   *  during it were read. */
  private lastSweep = 0;

  get size(): number {
    return this.count;
  }

  /** Slots in the table now (what a deadline sweep goes over). */
  get capacity(): number {
    return this.slots.length;
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
    if (this.count >= this.slots.length) this.resize(this.slots.length * 2);
    const i = call.id & this.mask;
    call.chained = this.slots[i];
    this.slots[i] = call;
    this.count++;
    if (this.timer === undefined && call.deadline !== Infinity) {
      this.lastSweep = Date.now();
      this.timer = setInterval(() => this.sweep(), SWEEP_MS);
      this.timer.unref();
    }
  }

  get(id: number): PendingCall | undefined {
    let c = this.slots[id & this.mask];
    while (c !== undefined && c.id !== id) c = c.chained;
    return c;
  }

  /** Removes and returns the call with this id, if still waiting. */
  take(id: number): PendingCall | undefined {
    const i = id & this.mask;
    let c = this.slots[i];
    let prev: PendingCall | undefined;
    while (c !== undefined && c.id !== id) {
      prev = c;
      c = c.chained;
    }
    if (c === undefined) return undefined;
    if (prev === undefined) this.slots[i] = c.chained;
    else prev.chained = c.chained;
    c.chained = undefined;
    this.count--;
    // Shrinks after a burst, so that the sweep goes over slots for the calls of now, not of then.
    if (this.count * 8 < this.slots.length && this.slots.length > MIN_SLOTS) this.resize(this.slots.length / 2);
    return c;
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
    const late = now - this.lastSweep - SWEEP_MS;
    this.lastSweep = now;
    const stall = late > STALL_TOLERANCE_MS ? late : 0;
    let timed = 0;
    let expired: PendingCall[] | undefined;
    // Indexed loops, here and in snapshot(): this runs too rarely to be optimised, and an
    // unoptimised for-of makes an iterator result per slot (measured: 5 MB a sweep once a burst
    // had grown the table, the load generator's largest source of garbage).
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      for (let call = slots[i]; call !== undefined; call = call.chained) {
        if (call.deadline === Infinity) continue;
        timed++;
        if (stall > 0) call.deadline += stall;
        else if (now >= call.deadline) (expired ??= []).push(call);
      }
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
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) for (let c = slots[i]; c !== undefined; c = c.chained) out.push(c);
    return out;
  }

  private resize(size: number): void {
    const all = this.snapshot();
    this.slots = new Array<PendingCall | undefined>(size).fill(undefined);
    this.mask = this.slots.length - 1;
    for (const c of all) {
      const i = c.id & this.mask;
      c.chained = this.slots[i];
      this.slots[i] = c;
    }
  }
}
