import t from 'tap';
import { HierarchicalBitmap } from '../../src/model/bitmap.js';

t.test('bitmap - set, clear, has and count', async (t) => {
  const b = new HierarchicalBitmap(100);
  t.equal(b.count, 0);
  t.equal(b.set(5), true);
  t.equal(b.set(5), false, 'second set reports no change');
  t.equal(b.has(5), true);
  t.equal(b.has(6), false);
  t.equal(b.count, 1);
  t.equal(b.clear(5), true);
  t.equal(b.clear(5), false, 'second clear reports no change');
  t.equal(b.count, 0);
  t.throws(() => b.set(100), RangeError);
  t.throws(() => b.has(-1), RangeError);
});

t.test('bitmap - nextClear skips full words and levels and ignores padding', async (t) => {
  const size = 32 * 32 * 3 + 7; // three level-1 words plus a partial word
  const b = new HierarchicalBitmap(size);
  b.setRange(0, size - 2);
  t.equal(b.count, size - 1);
  t.equal(b.nextClear(0), size - 1, 'only the last bit is clear');
  b.set(size - 1);
  t.equal(b.nextClear(0), -1, 'full bitmap: padding bits are never returned');
  b.clear(1500);
  t.equal(b.nextClear(0), 1500);
  t.equal(b.nextClear(1500), 1500);
  t.equal(b.nextClear(1501), -1, 'no wrap');
  t.equal(b.nextClear(size), -1);
});

t.test('bitmap - nextClear agrees with a linear scan on a random pattern', async (t) => {
  const size = 5000;
  const b = new HierarchicalBitmap(size);
  const plain = new Array<boolean>(size).fill(false);
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  // Dense with a few holes, so that most words are full and the upper levels matter.
  for (let i = 0; i < size; i++) {
    if (rand() < 0.995) {
      b.set(i);
      plain[i] = true;
    }
  }
  b.setRange(1000, 3000);
  for (let i = 1000; i <= 3000; i++) plain[i] = true;
  t.equal(b.count, plain.filter(Boolean).length, 'count matches');
  let mismatches = 0;
  for (let from = 0; from < size; from++) {
    let expected = plain.indexOf(false, from);
    if (expected < 0) expected = -1;
    if (b.nextClear(from) !== expected) mismatches++;
  }
  t.equal(mismatches, 0);
});
