import fc from 'fast-check';
import t from 'tap';
import { IdTable } from '../../src/lookup/id-table.js';

t.test('lookup - id table property: slots by id and ids by slot agree with a Map, through churn and arena rewrites', async (t) => {
  const idArb = fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
    fc.nat(3000).map((n) => `nic-${n.toString(16).padStart(10, '0')}`));
  fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), idArb), { maxLength: 3000 }), (ops) => {
    let cap = 16;
    const table = new IdTable(cap);
    const ref = new Map<string, number>();
    const free: number[] = [];
    let top = 0;
    for (const [add, id] of ops) {
      if (add && !ref.has(id)) {
        let slot = free.pop();
        if (slot === undefined) {
          if (top === cap) table.grow((cap *= 2));
          slot = top++;
        }
        table.add(slot, id);
        ref.set(id, slot);
      } else if (!add && ref.has(id)) {
        const slot = ref.get(id)!;
        table.remove(slot);
        ref.delete(id);
        free.push(slot);
      }
    }
    for (const [id, slot] of ref) if (table.slotOf(id) !== slot || table.idAt(slot) !== id) return false;
    for (const slot of free) if (table.idAt(slot) !== '') return false;
    return ops.every(([, id]) => ref.has(id) || table.slotOf(id) === undefined);
  }), { numRuns: 200 });
  t.pass('200 random sequences');
});

t.test('lookup - id table rewrites its arena instead of growing without end under churn', async (t) => {
  const table = new IdTable(4);
  for (let round = 0; round < 50_000; round++) {
    const slot = round % 4;
    if (round >= 4) table.remove(slot);
    table.add(slot, `nic-${round.toString(16).padStart(10, '0')}-with-a-long-tail`);
  }
  t.ok(table.bytes < 200_000, `${table.bytes} bytes held for 4 live ids after 50,000 adds`);
  t.equal(table.slotOf(`nic-${(49_999).toString(16).padStart(10, '0')}-with-a-long-tail`), 49_999 % 4);
  t.equal(table.slotOf(`nic-${(49_995).toString(16).padStart(10, '0')}-with-a-long-tail`), undefined);
});
