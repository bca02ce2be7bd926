import fc from 'fast-check';
import t from 'tap';
import { Lookup } from '../../src/wire/gen/services.js';
import { PendingCall, PendingTable } from '../../src/wire/transport/pending.js';

const noop = (): void => undefined;
function call(id: number, deadline = Infinity): PendingCall {
  return new PendingCall(id, Lookup.Vl2, undefined, deadline, 1000, noop, noop, undefined);
}

t.test('wire - pending table property: adds and takes agree with a Map', async (t) => {
  // Ids as the client makes them (allocateId), taken in any order, some never: chains in a slot
  // (ids a table size apart), growth and removal from the middle of a chain are all exercised.
  fc.assert(fc.property(fc.array(fc.oneof(fc.constant(-1), fc.nat(400)), { maxLength: 600 }), (ops) => {
    const table = new PendingTable();
    const ref = new Map<number, PendingCall>();
    for (const op of ops) {
      if (op === -1) {
        const c = call(table.allocateId());
        if (ref.has(c.id)) return false;
        table.add(c);
        ref.set(c.id, c);
      } else {
        const live = [...ref.keys()];
        const id = live.length > 0 && op % 3 !== 0 ? live[op % live.length]! : op + 1;
        if (table.take(id) !== ref.get(id)) return false;
        ref.delete(id);
      }
      if (table.size !== ref.size) return false;
    }
    for (const [id, c] of ref) if (table.get(id) !== c) return false;
    table.stop();
    return [...table.values()].length === ref.size;
  }), { numRuns: 300 });
  t.pass('300 random sequences');
});

t.test('wire - pending table grows for a burst and shrinks back once it is answered', async (t) => {
  const table = new PendingTable();
  const ids = Array.from({ length: 10_000 }, () => {
    const c = call(table.allocateId());
    table.add(c);
    return c.id;
  });
  t.ok(table.capacity >= 10_000, `capacity ${table.capacity} during the burst`);
  t.equal(ids.slice(3).filter((id) => table.take(id)?.id !== id).length, 0, 'every answered call was found');
  t.equal(table.capacity, 64, 'back to its smallest size with 3 calls left');
  for (const id of ids.slice(0, 3)) t.equal(table.get(id)?.id, id, 'the calls left are still found');
  table.stop();
});

t.test('wire - pending table failWhere removes and rejects exactly the matching calls', async (t) => {
  const table = new PendingTable();
  const rejected: number[] = [];
  for (let id = 1; id <= 100; id++) {
    table.add(new PendingCall(id, Lookup.Vl2, undefined, Infinity, 1000, noop, () => rejected.push(id), undefined));
  }
  table.failWhere((c) => c.id % 2 === 0, () => new Error('x') as never);
  t.equal(table.size, 50);
  t.same(rejected, Array.from({ length: 50 }, (_, i) => (i + 1) * 2));
  for (let id = 1; id <= 100; id++) t.equal(table.get(id)?.id, id % 2 ? id : undefined);
  table.stop();
});
