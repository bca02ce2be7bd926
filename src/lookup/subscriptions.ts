// Fan-out of index events to subscribers (agents), per vnid, with a short replay history.
//
// Guarantees, per subscription: every event of a subscribed vnid with revision > fromRevision is
// delivered exactly once, in revision order (batch order within a revision), followed — after
// the replay — by one SYNCED marker; events of other vnids never. SYNCED means "this server has
// reached fromRevision": a hub that is behind the client (a lagging replica the client failed
// over to from a newer one) holds SYNCED back until it has published fromRevision, so a client
// that loads Bulk/Flood or asks VL2/VL3 after SYNCED never gets answers older than what it had. Memory is bounded twice: the
// history keeps the last N batches' events (older ones are "compacted": subscribing from before
// them throws COMPACTED, and the client resyncs with Bulk), and each subscriber's queue has a
// limit: a subscriber that falls further behind is dropped with RESYNC instead of growing the
// queue or holding back anyone else.
//
// Backpressure follows Node's stream.write convention: EventSink.push takes the event and returns
// false when the sink is now full (a socket over its high-water mark). The hub then queues that
// subscriber's events until the owner calls Subscription.resume() (on 'drain').

import { pino, type Logger } from 'pino';
import { invalid, VxfabError } from '../model/errors.js';
import { checkVnid } from './addr.js';
import { EventKind, type LookupEventLike } from './types.js';

export interface EventSink {
  /** Takes one event; false = taken, but send no more until Subscription.resume(). */
  push(event: LookupEventLike): boolean;
  /** Called once when the hub ends the subscription (RESYNC: fell behind, or the index was
   *  reloaded). The owner ends the stream with this error. Not called on Subscription.close(). */
  close(error: VxfabError): void;
}

export interface Subscription {
  readonly vnids: readonly number[];
  /** Events waiting for the sink. */
  readonly queued: number;
  readonly closed: boolean;
  /** The sink can take events again: flush the queue (until the sink is full again). */
  resume(): void;
  /** Unsubscribes (the client went away). Idempotent; the sink is not called. */
  close(): void;
}

export interface SubscriptionHubOptions {
  /** The index revision the hub starts at (events after it will be published). */
  revision?: number;
  /** History bound in batches (default 1024)… */
  historyBatches?: number;
  /** …and in events (default 65536); whichever is hit first evicts the oldest batch. */
  historyEvents?: number;
  /** Default per-subscriber queue limit in events (default 4096). */
  queueLimit?: number;
  log?: Logger;
}

export interface SubscribeOptions {
  queueLimit?: number;
}

interface HistoryBatch {
  revision: number;
  events: readonly LookupEventLike[];
}

class Subscriber implements Subscription {
  readonly vnids: readonly number[];
  closed = false;
  private paused = false;
  private queue: LookupEventLike[] = [];
  private head = 0;

  constructor(
    private readonly hub: SubscriptionHub,
    vnids: number[],
    /** Events at or below this revision are already known to the client. */
    readonly after: number,
    private readonly sink: EventSink,
    private readonly limit: number,
  ) {
    this.vnids = vnids;
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  deliver(event: LookupEventLike): void {
    if (this.closed) return;
    if (event.revision <= this.after && event.kind !== EventKind.SYNCED) return;
    if (this.paused) {
      this.queue.push(event);
      if (this.queue.length - this.head > this.limit) this.overflow();
      return;
    }
    if (!this.sink.push(event)) this.paused = true;
  }

  resume(): void {
    if (this.closed) return;
    this.paused = false;
    while (this.head < this.queue.length) {
      const event = this.queue[this.head++];
      if (!this.sink.push(event)) {
        this.paused = true;
        break;
      }
      if (this.closed) return; // the sink closed us from inside push
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.hub.remove(this);
  }

  /** Ends the subscription from the hub's side with `error`. */
  end(error: VxfabError): void {
    if (this.closed) return;
    this.close();
    this.sink.close(error);
  }

  private overflow(): void {
    this.hub.onOverflow(this);
    this.end(new VxfabError('RESYNC',
      `subscriber fell more than ${this.limit} events behind: resync with Bulk and subscribe again`));
  }
}

export class SubscriptionHub {
  private rev: number;
  /** Every event with revision > floor is in the history. */
  private floor: number;
  private history: HistoryBatch[] = [];
  private historyHead = 0;
  private historyEventCount = 0;
  private readonly byVnid = new Map<number, Set<Subscriber>>();
  /** Subscribers whose fromRevision is ahead of this hub: SYNCED once `rev` reaches it. */
  private readonly waitingSync = new Set<Subscriber>();
  private subscriberCount = 0;
  private readonly maxBatches: number;
  private readonly maxEvents: number;
  private readonly queueLimit: number;
  private readonly log: Logger;

  constructor(options: SubscriptionHubOptions = {}) {
    this.rev = options.revision ?? 0;
    this.floor = this.rev;
    this.maxBatches = Math.max(1, options.historyBatches ?? 1024);
    this.maxEvents = Math.max(1, options.historyEvents ?? 65536);
    this.queueLimit = Math.max(1, options.queueLimit ?? 4096);
    this.log = (options.log ?? pino({ level: 'silent' })).child({ module: 'lookup-subscriptions' });
  }

  /** The revision of the last published batch. */
  get revision(): number {
    return this.rev;
  }

  /** The oldest fromRevision a subscription can still start from. */
  get oldestReplayable(): number {
    return this.floor;
  }

  /** Live subscriptions. */
  get size(): number {
    return this.subscriberCount;
  }

  /** Starts a subscription to `vnids` for events after `fromRevision` (0: from now on, after the
   *  client's Bulk). Replays history synchronously, then pushes SYNCED (revision: everything up to
   *  it was delivered; never below fromRevision, and only once the hub has reached fromRevision:
   *  until then the subscription is open but silent), then live events. Throws INVALID_ARGUMENT ('vnids[i]', 'from_revision'),
   *  or COMPACTED when fromRevision is older than the history. May close with RESYNC before
   *  returning when the replay alone overflows a slow sink. */
  subscribe(vnids: Iterable<number>, fromRevision: number, sink: EventSink, options: SubscribeOptions = {}): Subscription {
    const list = [...new Set(vnids)];
    list.forEach((v, i) => checkVnid(v, `vnids[${i}]`));
    if (!(Number.isSafeInteger(fromRevision) && fromRevision >= 0)) {
      throw invalid('from_revision', fromRevision, 'must be a non-negative integer');
    }
    const from = fromRevision === 0 ? this.rev : fromRevision;
    if (from < this.floor) {
      throw new VxfabError('COMPACTED',
        `from_revision ${fromRevision} is older than the replay history (oldest ${this.floor}): resync with Bulk`,
        { field: 'from_revision', value: String(fromRevision) });
    }
    const sub = new Subscriber(this, list, from, sink, Math.max(1, options.queueLimit ?? this.queueLimit));
    const wanted = new Set(list);
    for (let b = this.historyHead; b < this.history.length && !sub.closed; b++) {
      const batch = this.history[b];
      if (batch.revision <= from) continue;
      for (const event of batch.events) if (wanted.has(event.vnid)) sub.deliver(event);
    }
    if (sub.closed) return sub;
    for (const v of list) {
      let set = this.byVnid.get(v);
      if (set === undefined) {
        set = new Set();
        this.byVnid.set(v, set);
      }
      set.add(sub);
    }
    this.subscriberCount++;
    if (from > this.rev) {
      this.waitingSync.add(sub);
      this.log.debug({ from, revision: this.rev }, 'subscriber ahead of this server: SYNCED held back until it catches up');
    } else sub.deliver({ revision: this.rev, kind: EventKind.SYNCED, vnid: 0 });
    return sub;
  }

  /** Delivers one applied batch's events (LookupIndex.apply's result) and keeps them for replay.
   *  A revision at or below the current one is ignored. */
  publish(revision: number, events: readonly LookupEventLike[]): void {
    if (revision <= this.rev) return;
    this.rev = revision;
    if (events.length > 0) {
      this.history.push({ revision, events });
      this.historyEventCount += events.length;
      this.evict();
      for (const event of events) {
        const subs = this.byVnid.get(event.vnid);
        if (subs !== undefined) for (const sub of subs) sub.deliver(event);
      }
    }
    if (this.waitingSync.size > 0) this.releaseSynced();
  }

  /** Sends SYNCED to the waiting subscribers this hub has now caught up with. Their events at or
   *  below fromRevision were filtered out (the client had them), later ones already delivered. */
  private releaseSynced(): void {
    for (const sub of this.waitingSync) {
      if (sub.closed) this.waitingSync.delete(sub);
      else if (sub.after <= this.rev) {
        this.waitingSync.delete(sub);
        sub.deliver({ revision: this.rev, kind: EventKind.SYNCED, vnid: 0 });
      }
    }
  }

  /** The index was reloaded from a snapshot at `revision`: history is void, and every subscriber
   *  gets RESYNC (its client re-runs Bulk and subscribes again). */
  reset(revision: number): void {
    const all = new Set<Subscriber>();
    for (const subs of this.byVnid.values()) for (const s of subs) all.add(s);
    this.history = [];
    this.historyHead = 0;
    this.historyEventCount = 0;
    this.waitingSync.clear();
    this.rev = revision;
    this.floor = revision;
    for (const s of all) s.end(new VxfabError('RESYNC', `lookup index reloaded at revision ${revision}: resync with Bulk`));
  }

  /** @internal */
  remove(sub: Subscriber): void {
    this.waitingSync.delete(sub);
    let found = false;
    for (const v of sub.vnids) {
      const set = this.byVnid.get(v);
      if (set === undefined || !set.delete(sub)) continue;
      found = true;
      if (set.size === 0) this.byVnid.delete(v);
    }
    if (found) this.subscriberCount--;
  }

  /** @internal */
  onOverflow(sub: Subscriber): void {
    this.log.info({ vnids: sub.vnids.length, queued: sub.queued }, 'slow subscriber dropped: RESYNC');
  }

  private evict(): void {
    while (this.history.length - this.historyHead > this.maxBatches || this.historyEventCount > this.maxEvents) {
      if (this.history.length - this.historyHead <= 1) break; // always keep the newest batch
      const old = this.history[this.historyHead++];
      this.historyEventCount -= old.events.length;
      this.floor = old.revision;
    }
    if (this.historyHead > 1024 && this.historyHead * 2 > this.history.length) {
      this.history = this.history.slice(this.historyHead);
      this.historyHead = 0;
    }
  }
}
