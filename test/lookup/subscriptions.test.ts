import t from 'tap';
import fc from 'fast-check';
import { SubscriptionHub, type EventSink } from '../../src/lookup/subscriptions.js';
import { EventKind, type LookupEventLike } from '../../src/lookup/types.js';
import type { VxfabError } from '../../src/model/errors.js';
import { expectError } from './fixtures.js';

/** A sink that records events and can pretend to be full. */
class RecordingSink implements EventSink {
  events: LookupEventLike[] = [];
  closedWith: VxfabError | undefined;
  /** Accept this many more events before reporting full (Infinity: never full). */
  room = Infinity;
  push(event: LookupEventLike): boolean {
    this.events.push(event);
    this.room--;
    return this.room > 0;
  }
  close(error: VxfabError): void {
    this.closedWith = error;
  }
  get labels(): string[] {
    return this.events.map((e) => `${e.revision}:${e.vnid}:${EventKind[e.kind]}`);
  }
}

const added = (revision: number, vnid: number, mac = '02:00:00:00:00:01'): LookupEventLike => ({
  revision, vnid, kind: EventKind.ENDPOINT_ADDED,
  endpoint: { mac, ips: [], underlay: '198.18.0.1', port: 4789, node: 'a', nicId: `${vnid}-${revision}` },
});
const flood = (revision: number, vnid: number): LookupEventLike => ({ revision, vnid, kind: EventKind.FLOOD_CHANGED, flood: [] });

t.test('lookup subscriptions - live events of subscribed vnids only, in order, once', async (t) => {
  const hub = new SubscriptionHub({ revision: 5 });
  const a = new RecordingSink();
  const b = new RecordingSink();
  hub.subscribe([1, 2, 2], 0, a);
  hub.subscribe([2], 0, b);
  t.equal(hub.size, 2);
  hub.publish(6, [added(6, 1), flood(6, 1), added(6, 3)]);
  hub.publish(7, [added(7, 2), added(7, 1)]);
  hub.publish(7, [added(7, 2)]); // a repeated revision is ignored
  t.same(a.labels, ['5:0:SYNCED', '6:1:ENDPOINT_ADDED', '6:1:FLOOD_CHANGED', '7:2:ENDPOINT_ADDED', '7:1:ENDPOINT_ADDED']);
  t.same(b.labels, ['5:0:SYNCED', '7:2:ENDPOINT_ADDED'], 'a vnid listed twice still gives each event once');
  t.equal(hub.revision, 7);
});

t.test('lookup subscriptions - replay from a revision, then SYNCED, then live', async (t) => {
  const hub = new SubscriptionHub({ revision: 0 });
  hub.publish(1, [added(1, 1)]);
  hub.publish(2, [added(2, 2)]);
  hub.publish(3, []); // a heartbeat-only batch
  hub.publish(4, [added(4, 1), flood(4, 1)]);
  const sink = new RecordingSink();
  hub.subscribe([1], 1, sink);
  t.same(sink.labels, ['4:1:ENDPOINT_ADDED', '4:1:FLOOD_CHANGED', '4:0:SYNCED'], 'events after revision 1 only');
  hub.publish(5, [added(5, 1)]);
  t.same(sink.labels.slice(3), ['5:1:ENDPOINT_ADDED']);
  const ahead = new RecordingSink();
  hub.subscribe([1], 9, ahead);
  hub.publish(6, [added(6, 1)]);
  t.same(ahead.labels, [], 'a client ahead of this replica gets nothing it has, and no SYNCED yet');
  hub.publish(10, [added(10, 1)]);
  t.same(ahead.labels, ['10:1:ENDPOINT_ADDED', '10:0:SYNCED'], 'SYNCED once the hub has passed the client');
});

t.test('lookup subscriptions - SYNCED is held back while the hub is behind fromRevision', async (t) => {
  const hub = new SubscriptionHub({ revision: 3 });
  const sink = new RecordingSink();
  const sub = hub.subscribe([1], 6, sink);
  t.equal(hub.size, 1, 'registered while waiting');
  hub.publish(4, [added(4, 1)]);
  hub.publish(5, []);
  t.same(sink.labels, [], 'nothing at or below 6, no SYNCED below it');
  hub.publish(6, [added(6, 1), flood(6, 1)]);
  t.same(sink.labels, ['6:0:SYNCED'], 'the batch of revision 6 itself is what the client had; SYNCED at 6');
  hub.publish(7, [added(7, 1)]);
  t.same(sink.labels, ['6:0:SYNCED', '7:1:ENDPOINT_ADDED'], 'then live');
  sub.close();

  const empty = new RecordingSink();
  hub.subscribe([2], 8, empty);
  hub.publish(8, []);
  t.same(empty.labels, ['8:0:SYNCED'], 'an empty batch reaching fromRevision releases it too');

  const gone = new RecordingSink();
  hub.subscribe([1], 20, gone).close();
  hub.publish(21, [added(21, 1)]);
  t.same(gone.labels, [], 'a subscription closed while waiting gets nothing');

  const reset = new RecordingSink();
  hub.subscribe([1], 30, reset);
  hub.reset(25);
  t.equal(reset.closedWith?.code, 'RESYNC', 'a reload ends a waiting subscription with RESYNC');
  hub.publish(31, [added(31, 1)]);
  t.same(reset.labels, [], 'and nothing after');
});

t.test('lookup subscriptions - a revision older than the history is COMPACTED', async (t) => {
  const hub = new SubscriptionHub({ revision: 0, historyBatches: 2 });
  for (let r = 1; r <= 5; r++) hub.publish(r, [added(r, 1)]);
  t.equal(hub.oldestReplayable, 3);
  expectError(t, () => hub.subscribe([1], 2, new RecordingSink()), 'COMPACTED', 'from_revision', 'revision 2 is gone');
  const sink = new RecordingSink();
  hub.subscribe([1], 3, sink);
  t.same(sink.labels, ['4:1:ENDPOINT_ADDED', '5:1:ENDPOINT_ADDED', '5:0:SYNCED']);
  t.equal(hub.size, 1, 'the refused subscription was not registered');

  const byEvents = new SubscriptionHub({ revision: 0, historyEvents: 3 });
  byEvents.publish(1, [added(1, 1), added(1, 2)]);
  byEvents.publish(2, [added(2, 1), added(2, 2)]);
  t.equal(byEvents.oldestReplayable, 1, 'the event bound evicts too');
  expectError(t, () => byEvents.subscribe([1], 0.5, new RecordingSink()), 'INVALID_ARGUMENT', 'from_revision', 'fractional revision');
  expectError(t, () => byEvents.subscribe([1, 0], 0, new RecordingSink()), 'INVALID_ARGUMENT', 'vnids[1]', 'bad vnid');
});

t.test('lookup subscriptions - a slow subscriber gets RESYNC while a fast one keeps receiving', async (t) => {
  const hub = new SubscriptionHub({ revision: 0, queueLimit: 10 });
  const fast = new RecordingSink();
  const slow = new RecordingSink();
  slow.room = 3; // SYNCED + 2 events, then its socket is full
  hub.subscribe([1], 0, fast);
  const slowSub = hub.subscribe([1], 0, slow);
  for (let r = 1; r <= 5; r++) hub.publish(r, [added(r, 1)]);
  t.equal(slowSub.queued, 3, 'events wait in the bounded queue');
  slow.room = 2;
  slowSub.resume();
  t.equal(slowSub.queued, 1, 'resume sends until the sink is full again');
  t.same(slow.labels, ['0:0:SYNCED', '1:1:ENDPOINT_ADDED', '2:1:ENDPOINT_ADDED', '3:1:ENDPOINT_ADDED', '4:1:ENDPOINT_ADDED']);
  for (let r = 6; r <= 20; r++) hub.publish(r, [added(r, 1)]);
  t.equal(slow.closedWith?.code, 'RESYNC', 'queue over its limit: RESYNC');
  t.ok(slowSub.closed);
  t.equal(slowSub.queued, 0, 'its queue was dropped');
  t.equal(hub.size, 1);
  t.equal(fast.events.length, 21, 'the fast subscriber got every event');
  t.equal(fast.closedWith, undefined);
  const after = slow.events.length;
  hub.publish(21, [added(21, 1)]);
  t.equal(slow.events.length, after, 'nothing more after RESYNC');
});

t.test('lookup subscriptions - close unsubscribes; reset ends everyone with RESYNC', async (t) => {
  const hub = new SubscriptionHub({ revision: 0 });
  const one = new RecordingSink();
  const two = new RecordingSink();
  const sub1 = hub.subscribe([1], 0, one);
  hub.subscribe([1, 2], 0, two);
  sub1.close();
  sub1.close();
  t.equal(hub.size, 1);
  hub.publish(1, [added(1, 1)]);
  t.equal(one.events.length, 1, 'only SYNCED before close');
  t.equal(one.closedWith, undefined, 'close does not call the sink');
  hub.reset(50);
  t.equal(two.closedWith?.code, 'RESYNC');
  t.equal(hub.size, 0);
  t.equal(hub.revision, 50);
  expectError(t, () => hub.subscribe([1], 10, new RecordingSink()), 'COMPACTED', 'from_revision', 'history was voided');
});

t.test('lookup subscriptions - any subscribe point and pause pattern gives exactly once, in order', async (t) => {
  fc.assert(fc.property(
    fc.array(fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 4 }), { minLength: 1, maxLength: 30 }),
    fc.integer({ min: 0, max: 30 }),
    fc.uniqueArray(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
    fc.array(fc.boolean(), { maxLength: 60 }),
    (batches, subscribeAt, vnids, fullPattern) => {
      const hub = new SubscriptionHub({ revision: 0, queueLimit: 1000 });
      const published: LookupEventLike[] = [];
      let p = 0;
      const sink = new RecordingSink();
      sink.push = (e) => {
        sink.events.push(e);
        return !(fullPattern[p++ % Math.max(1, fullPattern.length)] ?? false);
      };
      let sub: ReturnType<SubscriptionHub['subscribe']> | undefined;
      const from = Math.min(subscribeAt, batches.length);
      let start = 0;
      const subscribe = () => {
        // Three batches back, as a reconnecting client would; 0 means "from now on".
        const fromArg = Math.max(0, from - 3);
        start = fromArg === 0 ? hub.revision : fromArg;
        return hub.subscribe(vnids, fromArg, sink);
      };
      batches.forEach((vs, i) => {
        const r = i + 1;
        if (r - 1 === from && sub === undefined) sub = subscribe();
        const events = vs.map((v, k) => added(r, v, `02:00:00:00:00:${k.toString(16).padStart(2, '0')}`));
        published.push(...events.map((e) => e));
        hub.publish(r, events);
        if (r % 2 === 0) sub?.resume();
      });
      if (sub === undefined) sub = subscribe();
      for (let i = 0; i < 1000 && sub.queued > 0; i++) sub.resume();
      const want = published.filter((e) => e.revision > start && vnids.includes(e.vnid));
      const got = sink.events.filter((e) => e.kind !== EventKind.SYNCED);
      const synced = sink.events.filter((e) => e.kind === EventKind.SYNCED);
      return synced.length === 1 && got.length === want.length && got.every((e, i) => e === want[i]);
    },
  ), { numRuns: 300 });
  t.pass('300 histories checked');
});
