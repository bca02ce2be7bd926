import t from 'tap';
import { throwsVx } from './expect-error.js';
import { VNID_MAX, VNID_MIN, VnidAllocator, parseVnid } from '../../src/model/vnid.js';

t.test('vnid - parseVnid accepts 1..16777215 from numbers and decimal text', async (t) => {
  t.equal(parseVnid(1), 1);
  t.equal(parseVnid('16777215'), VNID_MAX);
  t.equal(parseVnid(4096, 'network.vnid'), 4096);
  for (const bad of [0, -1, 16777216, 1.5, NaN, '', ' 7', '0x10', '1e3', '007', null, undefined, {}]) {
    throwsVx(t, () => parseVnid(bad), 'INVALID_ARGUMENT', { field: 'vnid' }, `rejects ${String(bad)}`);
  }
  throwsVx(t, () => parseVnid(0, 'net.vnid'), 'INVALID_ARGUMENT', { field: 'net.vnid', value: '0', message: /out of range/ });
});

t.test('vnid - first allocations start at the bottom, the last VNID is reachable', async (t) => {
  const a = new VnidAllocator();
  t.equal(a.capacity, VNID_MAX);
  t.equal(a.allocate(), VNID_MIN);
  t.equal(a.allocate(), 2);
  a.claim(VNID_MAX);
  t.equal(a.isAllocated(VNID_MAX), true);
  t.equal(a.used, 3);
});

t.test('vnid - ranges and reserved VNIDs are respected', async (t) => {
  const a = new VnidAllocator({ ranges: [[10, 12], [20, 21]], reserved: [11, 20, 999] });
  t.equal(a.capacity, 3, '10, 12, 21');
  t.same([a.allocate(), a.allocate(), a.allocate()], [10, 12, 21]);
  throwsVx(t, () => a.allocate(), 'RESOURCE_EXHAUSTED', { field: 'vnid' });
  throwsVx(t, () => a.claim(11), 'INVALID_ARGUMENT', { field: 'vnid', value: '11', message: /reserved/ });
  throwsVx(t, () => a.claim(15), 'INVALID_ARGUMENT', { message: /outside the configured VNID ranges 10-12, 20-21/ });
  t.equal(a.isAllocated(11), false, 'reserved is not reported as allocated');
  t.equal(a.isAllocated(15), false, 'outside a range is not reported as allocated');
  t.equal(a.release(11), false, 'releasing a reserved VNID changes nothing');
  throwsVx(t, () => a.allocate(), 'RESOURCE_EXHAUSTED', {}, 'still exhausted');
  t.equal(a.used, 3);
});

t.test('vnid - overlapping and adjacent ranges merge', async (t) => {
  const a = new VnidAllocator({ ranges: [[5, 8], [1, 5], [9, 9]] });
  t.equal(a.capacity, 9);
});

t.test('vnid - bad ranges are rejected with field vnid-range', async (t) => {
  const bad: Array<Array<[number, number]>> = [[], [[0, 5]], [[1, 16777216]], [[7, 3]], [[1.5, 3]]];
  for (const ranges of bad) {
    throwsVx(t, () => new VnidAllocator({ ranges }), 'INVALID_ARGUMENT', { field: 'vnid-range' }, JSON.stringify(ranges));
  }
  throwsVx(t, () => new VnidAllocator({ reserved: [0] }), 'INVALID_ARGUMENT');
});

t.test('vnid - explicit claim: taken, out of range, not an integer', async (t) => {
  const a = new VnidAllocator();
  a.claim(100);
  throwsVx(t, () => a.claim(100, 'vnid'), 'ALREADY_EXISTS', { field: 'vnid', value: '100' });
  throwsVx(t, () => a.claim(0), 'INVALID_ARGUMENT', { value: '0' });
  throwsVx(t, () => a.claim(16777216), 'INVALID_ARGUMENT', { value: '16777216' });
  throwsVx(t, () => a.claim(3.5, 'spec.vnid'), 'INVALID_ARGUMENT', { field: 'spec.vnid' });
  t.equal(a.used, 1);
  // allocate never returns a claimed VNID
  a.claim(1);
  a.claim(2);
  t.equal(a.allocate(), 3);
});

t.test('vnid - release and reuse after wrapping (next-fit)', async (t) => {
  const a = new VnidAllocator({ ranges: [[1, 4]] });
  t.same([a.allocate(), a.allocate(), a.allocate(), a.allocate()], [1, 2, 3, 4]);
  t.equal(a.release(2), true);
  t.equal(a.release(2), false, 'double release is a no-op');
  t.equal(a.isAllocated(2), false);
  t.equal(a.allocate(), 2, 'released VNID is reused once the cursor wraps');
  t.equal(a.release(3), true);
  t.equal(a.release(1), true);
  t.equal(a.allocate(), 3, 'next-fit: continues after the last one handed out');
  t.equal(a.allocate(), 1);
  throwsVx(t, () => a.allocate(), 'RESOURCE_EXHAUSTED');
});

t.test('vnid - freshly released VNID is not handed out again before others', async (t) => {
  const a = new VnidAllocator();
  const v = a.allocate();
  a.release(v);
  t.not(a.allocate(), v);
});

t.test('vnid - a million allocations never repeat, and the space fills exactly', async (t) => {
  const a = new VnidAllocator({ ranges: [[1, 1_000_000], [5_000_000, 5_000_009]] });
  const seen = new Uint8Array(VNID_MAX + 1);
  let repeats = 0;
  let outside = 0;
  for (let i = 0; i < 1_000_010; i++) {
    const v = a.allocate();
    if (seen[v] === 1) repeats++;
    seen[v] = 1;
    if (!(v <= 1_000_000 || (v >= 5_000_000 && v <= 5_000_009))) outside++;
  }
  t.equal(repeats, 0, 'no VNID handed out twice');
  t.equal(outside, 0, 'all within ranges');
  t.equal(a.used, 1_000_010);
  throwsVx(t, () => a.allocate(), 'RESOURCE_EXHAUSTED');
  // Churn at full load: free scattered VNIDs, get exactly those back.
  const freed = [7, 123_456, 999_999, 5_000_003];
  for (const v of freed) a.release(v);
  const got = [a.allocate(), a.allocate(), a.allocate(), a.allocate()].sort((x, y) => x - y);
  t.same(got, freed);
});

t.test('vnid - a million allocations in the default space with releases in between', async (t) => {
  const a = new VnidAllocator();
  const live = new Set<number>();
  let dup = 0;
  for (let i = 0; i < 1_000_000; i++) {
    const v = a.allocate();
    if (live.has(v)) dup++;
    live.add(v);
    if (i % 3 === 0) {
      a.release(v);
      live.delete(v);
    }
  }
  t.equal(dup, 0, 'never returns a VNID in use');
  t.equal(a.used, live.size);
});
