// Oversized NICs in the lookup index (issue #11): a NIC stored before the controller limited
// addresses per NIC (MAX_NIC_IPS) can hold tens of thousands; indexing, re-indexing and removing
// one must cost O(1) per address. The duplicate check was `Array.includes`: 40,000 IPv6 addresses
// took ~24 s (quadratic), and every client and restart waited on it. The subtests are bounded by
// tap timeouts far above the linear cost and far below the quadratic one; `npm run bench --
// lookup-index` prints the time beside a one-address baseline.
//
// Also the other half of oversized batches: a committed batch too big for one frame arrives as
// parts (controller/feed.ts), every part but the last at the index's current revision.
import t from 'tap';
import { LookupIndex } from '../../src/lookup/index.js';
import { EventKind } from '../../src/lookup/types.js';
import { mac, putNic, putNode } from './fixtures.js';

const BIG = 40_000;

/** `count` distinct IPv6 addresses in fd00:64::/96, written in full (uncompressed) form. */
function v6(count: number, offset = 0): string[] {
  const out: string[] = [];
  for (let i = offset; i < offset + count; i++) out.push(`fd00:64:0:0:0:0:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}`);
  return out;
}

function v4(count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(`100.${64 + (i >>> 16)}.${(i >>> 8) & 255}.${i & 255}`);
  return out;
}

t.test('lookup index - a NIC with 40,000 IPv6 addresses is indexed, re-indexed and removed in linear time', { timeout: 15_000 }, async (t) => {
  const index = new LookupIndex();
  const ips = v6(BIG);
  index.applySnapshot(1, [putNode('a', '198.18.0.1'), putNic({ id: 'big', vnid: 100, node: 'a', mac: mac(1), ips: [...ips, ...ips.slice(0, 100)] })]);
  t.same(index.vl3(100, ips[0]!), { mac: mac(1), underlay: '198.18.0.1', port: 4789, node: 'a' });
  t.equal(index.vl3(100, ips[BIG - 1]!)?.mac, mac(1), 'the last address too');
  t.equal(index.vl3(100, v6(1, BIG)[0]!), undefined, 'one past the end is not there');
  let found = 0;
  for (let i = 0; i < BIG; i += 97) if (index.vl3(100, ips[i]!) !== undefined) found++;
  t.equal(found, Math.ceil(BIG / 97), 'every sampled address answers');

  // A re-write that keeps half and adds as many new ones: one batch, one event pair.
  const next = [...ips.slice(BIG / 2), ...v6(BIG / 2, BIG)];
  const events = index.apply(2, [putNic({ id: 'big', vnid: 100, node: 'a', mac: mac(1), ips: next })]);
  t.same(events.map((e) => EventKind[e.kind]), ['ENDPOINT_REMOVED', 'ENDPOINT_ADDED'], 'a changed address set is a remove and an add');
  t.equal(index.vl3(100, ips[0]!), undefined, 'a dropped address is gone');
  t.equal(index.vl3(100, next[next.length - 1]!)?.mac, mac(1), 'an added one answers');
  t.equal([...index.bulk(100)][0]!.ips.length, BIG, 'bulk returns the whole address list');

  index.apply(3, [{ key: 'i/big', deleted: true }]);
  t.equal(index.vl3(100, next[0]!), undefined);
  t.equal(index.mappings, 0);
});

t.test('lookup index - a NIC with 45,000 IPv4 addresses is indexed in linear time', { timeout: 15_000 }, async (t) => {
  const index = new LookupIndex();
  const ips = v4(45_000);
  index.applySnapshot(1, [putNode('a', '198.18.0.1'), putNic({ id: 'big4', vnid: 7, node: 'a', mac: mac(2), ips: [...ips, ips[0]!] })]);
  t.equal(index.vl3(7, ips[44_999]!)?.mac, mac(2));
  t.equal(index.vl3(7, ips[12_345]!)?.mac, mac(2));
  index.apply(2, [putNic({ id: 'big4', vnid: 7, node: 'a', mac: mac(2), ips: ips.slice(0, 10) })]);
  t.equal(index.vl3(7, ips[44_999]!), undefined, 'shrunk: the rest is unindexed');
  t.equal(index.vl3(7, ips[9]!)?.mac, mac(2));
});

t.test('lookup index - a batch sent in parts: events once, with the final part, also when a part is replayed', async (t) => {
  const index = new LookupIndex();
  index.applySnapshot(5, [putNode('a', '198.18.0.1'), putNode('b', '198.18.0.2')]);
  const nics = [1, 2, 3, 4].map((i) => putNic({ id: `n${i}`, vnid: 100, node: i % 2 ? 'a' : 'b', mac: mac(i), ips: [`100.64.0.${i}`] }));
  // Revision 6 in three parts: two at 5 (the revision before), the last at 6.
  t.same(index.apply(5, nics.slice(0, 2)), [], 'a leading part publishes nothing yet');
  t.equal(index.revision, 5, 'and does not advance the revision');
  t.equal(index.vl2(100, mac(1))?.node, 'a', 'its changes are applied already');
  // The stream broke here; the watcher resumes after 5 and gets the whole batch again.
  t.same(index.apply(5, nics.slice(0, 2)), []);
  t.same(index.apply(5, nics.slice(2, 3)), []);
  const events = index.apply(6, nics.slice(3));
  t.equal(index.revision, 6);
  const added = events.filter((e) => e.kind === EventKind.ENDPOINT_ADDED).map((e) => e.endpoint!.nicId).sort();
  t.same(added, ['n1', 'n2', 'n3', 'n4'], 'every NIC of the batch is added once');
  t.same(events.filter((e) => e.kind === EventKind.FLOOD_CHANGED).map((e) => e.flood!.map((m) => m.node)), [['a', 'b']], 'one flood change, from empty');
  t.same(index.apply(5, nics.slice(0, 1)), [], 'an older revision is still ignored');
  t.same(index.apply(7, [putNic({ id: 'n1', vnid: 100, node: 'b', mac: mac(1), ips: ['100.64.0.1'] })]).map((e) => EventKind[e.kind]), ['ENDPOINT_MOVED'],
    'the next whole batch diffs from the state the parts left');
});
