import t from 'tap';
import { LookupIndex } from '../../src/lookup/index.js';
import { keyChangesOf } from '../../src/lookup/feed.js';
import { EventKind, type LookupEventLike } from '../../src/lookup/types.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { delNic, delNode, expectError, mac, putNetwork, putNic, putNode } from './fixtures.js';

const M1 = '02:00:00:00:00:01';
const M2 = '02:00:00:00:00:02';
const M3 = '02:00:00:00:00:03';

/** Two hosts, vnid 100 with a NIC on each, vnid 200 with one on host a. */
function seeded(): LookupIndex {
  const index = new LookupIndex();
  index.applySnapshot(10, [
    putNetwork('t', 'n100', 100),
    putNode('a', '198.18.0.1'),
    putNode('b', '198.18.0.2', 4790),
    putNic({ id: 'nic1', vnid: 100, node: 'a', mac: M1, ips: ['100.64.0.1'] }),
    putNic({ id: 'nic2', vnid: 100, node: 'b', mac: M2, ips: ['100.64.0.2', 'fd00::2'] }),
    putNic({ id: 'nic3', vnid: 200, node: 'a', mac: M1, ips: ['100.64.0.1'] }),
  ]);
  return index;
}

const kinds = (events: LookupEventLike[]) => events.map((e) => `${e.vnid}:${EventKind[e.kind]}`);

t.test('lookup index - snapshot answers VL2, VL3, flood, bulk', async (t) => {
  const index = seeded();
  t.equal(index.revision, 10);
  t.equal(index.mappings, 3);
  t.same(index.vnids(), [100, 200]);
  t.same(index.vl2(100, M1), { underlay: '198.18.0.1', port: 4789, node: 'a' });
  t.same(index.vl2(100, M2.toUpperCase()), { underlay: '198.18.0.2', port: 4790, node: 'b' }, 'MAC case does not matter');
  t.same(index.vl2(200, M1), { underlay: '198.18.0.1', port: 4789, node: 'a' }, 'same MAC in another vnid');
  t.equal(index.vl2(200, M2), undefined, 'NOT_FOUND in another vnid');
  t.equal(index.vl2(300, M1), undefined, 'NOT_FOUND in an unknown vnid');
  t.same(index.vl3(100, '100.64.0.2'), { mac: M2, underlay: '198.18.0.2', port: 4790, node: 'b' });
  t.same(index.flood(100).map((m) => m.node), ['a', 'b']);
  t.same(index.flood(200), [{ underlay: '198.18.0.1', port: 4789, node: 'a' }]);
  t.same(index.flood(300), []);
  const all = [...index.bulk(100)].sort((x, y) => x.nicId.localeCompare(y.nicId));
  t.same(all, [
    { mac: M1, ips: ['100.64.0.1'], underlay: '198.18.0.1', port: 4789, node: 'a', nicId: 'nic1' },
    { mac: M2, ips: ['100.64.0.2', 'fd00::2'], underlay: '198.18.0.2', port: 4790, node: 'b', nicId: 'nic2' },
  ]);
});

t.test('lookup index - dual-stack VL3, any IPv6 spelling, wrong family is NOT_FOUND', async (t) => {
  const index = seeded();
  t.same(index.vl3(100, 'fd00::2'), { mac: M2, underlay: '198.18.0.2', port: 4790, node: 'b' });
  t.same(index.vl3(100, 'FD00:0:0:0:0:0:0:0002'), { mac: M2, underlay: '198.18.0.2', port: 4790, node: 'b' });
  t.equal(index.vl3(100, 'fd00::1'), undefined, 'v6 absent');
  t.equal(index.vl3(200, 'fd00::2'), undefined, 'vnid 200 has no IPv6: not an error');
  t.equal(index.vl3(200, '100.64.0.2'), undefined);
  t.same(index.vl3(200, '100.64.0.1')?.node, 'a');
});

t.test('lookup index - bad input is INVALID_ARGUMENT naming the field', async (t) => {
  const index = seeded();
  expectError(t, () => index.vl2(0, M1), 'INVALID_ARGUMENT', 'vnid', 'vnid 0');
  expectError(t, () => index.vl2(16777216, M1), 'INVALID_ARGUMENT', 'vnid', 'vnid too big');
  expectError(t, () => index.vl2(100, '02:00:00:00:00'), 'INVALID_ARGUMENT', 'mac', 'short MAC');
  expectError(t, () => index.vl2Node(100, 'zz:00:00:00:00:01'), 'INVALID_ARGUMENT', 'mac', 'non-hex MAC');
  expectError(t, () => index.vl3(100, '100.64.0'), 'INVALID_ARGUMENT', 'ip', 'short IPv4');
  expectError(t, () => index.vl3(100, 'fd00:::1'), 'INVALID_ARGUMENT', 'ip', 'bad IPv6');
  expectError(t, () => index.vl3(1.5, '100.64.0.1'), 'INVALID_ARGUMENT', 'vnid', 'fractional vnid');
  expectError(t, () => index.flood(-1), 'INVALID_ARGUMENT', 'vnid', 'flood vnid');
  expectError(t, () => index.bulk(0), 'INVALID_ARGUMENT', 'vnid', 'bulk vnid');
});

t.test('lookup index - ENDPOINT_ADDED and FLOOD_CHANGED for a NIC on a new host', async (t) => {
  const index = seeded();
  const events = index.apply(11, [putNode('c', '198.18.0.3'), putNic({ id: 'nic4', vnid: 100, node: 'c', mac: M3, ips: ['100.64.0.3'] })]);
  t.same(kinds(events), ['100:ENDPOINT_ADDED', '100:FLOOD_CHANGED']);
  t.match(events[0], { revision: 11, vnid: 100, endpoint: { mac: M3, ips: ['100.64.0.3'], underlay: '198.18.0.3', port: 4789, node: 'c', nicId: 'nic4' } });
  t.same(events[1].flood?.map((m) => m.node), ['a', 'b', 'c']);
  t.equal(events[1].revision, 11);
  t.same(index.vl2(100, M3)?.node, 'c');
  t.equal(index.revision, 11);

  const second = index.apply(12, [putNic({ id: 'nic5', vnid: 100, node: 'c', mac: '02:00:00:00:00:05', ips: [] })]);
  t.same(kinds(second), ['100:ENDPOINT_ADDED'], 'host already in the flood list: no FLOOD_CHANGED');
});

t.test('lookup index - ENDPOINT_REMOVED, and the flood list shrinks with the last NIC', async (t) => {
  const index = seeded();
  const events = index.apply(11, [delNic('nic2')]);
  t.same(kinds(events), ['100:ENDPOINT_REMOVED', '100:FLOOD_CHANGED']);
  t.match(events[0].endpoint, { mac: M2, node: 'b', nicId: 'nic2', ips: ['100.64.0.2', 'fd00::2'] });
  t.same(events[1].flood?.map((m) => m.node), ['a']);
  t.equal(index.vl2(100, M2), undefined);
  t.equal(index.vl3(100, '100.64.0.2'), undefined);
  t.equal(index.vl3(100, 'fd00::2'), undefined);
  t.equal(index.mappings, 2);
  t.same(index.apply(12, [delNic('nic2')]), [], 'deleting twice is no change');
  t.same(index.apply(13, [delNic('nic3')]).map((e) => EventKind[e.kind]), ['ENDPOINT_REMOVED', 'FLOOD_CHANGED']);
  t.same(index.vnids(), [100], 'an empty vnid is forgotten');
});

t.test('lookup index - a NIC changing node is ENDPOINT_MOVED with the old place', async (t) => {
  const index = seeded();
  const events = index.apply(11, [putNic({ id: 'nic1', vnid: 100, node: 'b', mac: M1, ips: ['100.64.0.1'] })]);
  t.same(kinds(events), ['100:ENDPOINT_MOVED', '100:FLOOD_CHANGED']);
  t.match(events[0], {
    revision: 11, endpoint: { mac: M1, node: 'b', underlay: '198.18.0.2', port: 4790, nicId: 'nic1' },
    oldUnderlay: '198.18.0.1', oldPort: 4789, oldNode: 'a',
  });
  t.same(events[1].flood?.map((m) => m.node), ['b'], 'host a carries no NIC of vnid 100 any more');
  t.same(index.vl2(100, M1)?.node, 'b');
  t.same(index.vl3(100, '100.64.0.1')?.node, 'b');
  t.same(index.flood(200).map((m) => m.node), ['a'], 'other vnids unaffected');

  const rewrite = index.apply(12, [putNic({ id: 'nic1', vnid: 100, node: 'b', mac: M1, ips: ['100.64.0.1'] })]);
  t.same(rewrite, [], 'rewriting a NIC unchanged causes nothing');
});

t.test('lookup index - changed MAC or IPs replace the endpoint: REMOVED then ADDED', async (t) => {
  const index = seeded();
  const events = index.apply(11, [putNic({ id: 'nic1', vnid: 100, node: 'a', mac: M1, ips: ['100.64.0.9'] })]);
  t.same(kinds(events), ['100:ENDPOINT_REMOVED', '100:ENDPOINT_ADDED']);
  t.same(events[0].endpoint?.ips, ['100.64.0.1']);
  t.same(events[1].endpoint?.ips, ['100.64.0.9']);
  t.equal(index.vl3(100, '100.64.0.1'), undefined);
  t.same(index.vl3(100, '100.64.0.9')?.mac, M1);
});

t.test('lookup index - a MAC handed from one NIC to another in one batch: REMOVED comes first', async (t) => {
  const index = seeded();
  const events = index.apply(11, [
    putNic({ id: 'nic9', vnid: 100, node: 'b', mac: M1, ips: ['100.64.0.9'] }),
    delNic('nic1'),
  ]);
  t.same(kinds(events), ['100:ENDPOINT_REMOVED', '100:ENDPOINT_ADDED', '100:FLOOD_CHANGED']);
  t.equal(events[0].endpoint?.nicId, 'nic1');
  t.equal(events[1].endpoint?.nicId, 'nic9');
  t.same(index.vl2(100, M1)?.node, 'b');
});

t.test('lookup index - node re-registered on a new underlay moves every NIC and changes floods', async (t) => {
  const index = seeded();
  const vl2Before = index.vl2ReplyBytes(index.vl2Node(100, M1));
  t.same(vxfab.v1.Vl2Reply.decode(vl2Before), { underlay: '198.18.0.1', port: 4789, node: 'a' }, 'cached reply decodes');
  t.equal(index.vl2ReplyBytes(index.vl2Node(200, M1)), vl2Before, 'one cached reply per node');

  const events = index.apply(11, [putNode('a', '198.18.7.7', 4789)]);
  t.same(kinds(events), ['100:ENDPOINT_MOVED', '100:FLOOD_CHANGED', '200:ENDPOINT_MOVED', '200:FLOOD_CHANGED']);
  t.match(events[0], { endpoint: { nicId: 'nic1', underlay: '198.18.7.7', node: 'a' }, oldUnderlay: '198.18.0.1', oldNode: 'a' });
  t.match(events[2], { endpoint: { nicId: 'nic3', underlay: '198.18.7.7' }, oldUnderlay: '198.18.0.1' });
  t.same(events[3].flood, [{ underlay: '198.18.7.7', port: 4789, node: 'a' }]);
  t.same(index.vl2(100, M1), { underlay: '198.18.7.7', port: 4789, node: 'a' });
  const after = index.vl2ReplyBytes(index.vl2Node(100, M1));
  t.same(vxfab.v1.Vl2Reply.decode(after).underlay, '198.18.7.7', 'cached reply was invalidated');

  t.same(index.apply(12, [putNode('a', '198.18.7.7', 4789, Date.now())]), [], 'a heartbeat changes nothing');
  t.equal(index.vl2ReplyBytes(index.vl2Node(100, M1)), after, 'and keeps the cached reply');
  t.same(kinds(index.apply(13, [putNode('b', '198.18.0.2', 4799)])), ['100:ENDPOINT_MOVED', '100:FLOOD_CHANGED'], 'port change is a move');
});

t.test('lookup index - a node deleted under its NICs hides them; its return shows them again', async (t) => {
  const index = seeded();
  const gone = index.apply(11, [delNode('a')]);
  t.same(kinds(gone), ['100:ENDPOINT_REMOVED', '100:FLOOD_CHANGED', '200:ENDPOINT_REMOVED', '200:FLOOD_CHANGED']);
  t.equal(index.vl2(100, M1), undefined);
  t.equal(index.vl3(200, '100.64.0.1'), undefined);
  t.same(index.flood(200), []);
  t.equal(index.bulk(100).total, 1);
  t.equal(index.mappings, 3, 'the NICs are kept');
  t.same(index.apply(12, [delNode('a')]), [], 'deleting an absent node is no change');
  const back = index.apply(13, [putNode('a', '198.18.0.9')]);
  t.same(kinds(back), ['100:ENDPOINT_ADDED', '100:FLOOD_CHANGED', '200:ENDPOINT_ADDED', '200:FLOOD_CHANGED']);
  t.same(index.vl2(100, M1)?.underlay, '198.18.0.9');
});

t.test('lookup index - a NIC on an unknown node appears when the node does', async (t) => {
  const index = new LookupIndex();
  t.same(index.apply(1, [putNic({ id: 'x', vnid: 5, node: 'later', mac: M1, ips: ['100.64.0.1'] })]), []);
  t.equal(index.vl2(5, M1), undefined);
  t.same(kinds(index.apply(2, [putNode('later', '198.18.0.5')])), ['5:ENDPOINT_ADDED', '5:FLOOD_CHANGED']);
  t.same(index.vl2(5, M1)?.node, 'later');
});

t.test('lookup index - old batches are ignored; bad records are skipped', async (t) => {
  const index = seeded();
  // (A batch at the current revision is a leading part of the next one: big-nic.test.ts.)
  t.same(index.apply(9, [delNic('nic1')]), [], 'revision older than the index');
  t.same(index.vl2(100, M1)?.node, 'a');
  const events = index.apply(11, [
    { key: 'i/broken', value: new Uint8Array([0xff, 0xff, 0xff]) },
    putNic({ id: 'badmac', vnid: 100, node: 'a', mac: 'nope', ips: [] }),
    putNic({ id: 'badvnid', vnid: 0, node: 'a', mac: M3, ips: [] }),
    { key: 't/tenant', value: new Uint8Array(0) },
  ]);
  t.same(events, []);
  t.equal(index.mappings, 3);
  t.equal(index.revision, 11);
});

t.test('lookup index - bulk is a consistent copy, paged', async (t) => {
  const index = new LookupIndex({ initialCapacity: 16 });
  const changes = [putNode('a', '198.18.0.1')];
  for (let i = 0; i < 1200; i++) changes.push(putNic({ id: `n${i}`, vnid: 7, node: 'a', mac: mac(i), ips: [] }));
  index.applySnapshot(1, changes);
  const cursor = index.bulk(7);
  t.equal(cursor.revision, 1);
  t.equal(cursor.total, 1200);
  index.apply(2, [delNic('n0'), putNode('a', '198.18.9.9')]);
  const pages = [...cursor.pages(512)];
  t.same(pages.map((p) => p.length), [512, 512, 176]);
  const ids = new Set(pages.flat().map((e) => e.nicId));
  t.equal(ids.size, 1200, 'every endpoint once');
  t.ok(ids.has('n0'), 'as of the revision of the copy');
  t.ok(pages.flat().every((e) => e.underlay === '198.18.0.1'), 'with the place it had then');
  t.same(cursor.next(10), [], 'empty once done');
  t.equal(index.bulk(7).total, 1199);
});

t.test('lookup index - slots are reused and tables stay correct through churn', async (t) => {
  const index = new LookupIndex({ initialCapacity: 16 });
  index.apply(1, [putNode('a', '198.18.0.1')]);
  let rev = 2;
  for (let round = 0; round < 5; round++) {
    const add = [];
    for (let i = 0; i < 300; i++) add.push(putNic({ id: `r${round}-${i}`, vnid: 1 + (i % 3), node: 'a', mac: mac(round * 1000 + i), ips: [`100.64.${round}.${i % 250}`] }));
    index.apply(rev++, add);
    if (round > 0) {
      const del = [];
      for (let i = 0; i < 300; i++) del.push(delNic(`r${round - 1}-${i}`));
      index.apply(rev++, del);
    }
  }
  t.equal(index.mappings, 300);
  const bulk = [...index.bulk(1), ...index.bulk(2), ...index.bulk(3)];
  t.equal(bulk.length, 300);
  for (const e of bulk) {
    const vnid = 1 + (Number(e.nicId.split('-')[1]) % 3);
    t.equal(index.vl2(vnid, e.mac)?.node, 'a');
  }
});

t.test('lookup index - clear and a new snapshot replace everything', async (t) => {
  const index = seeded();
  index.applySnapshot(50, [putNode('z', '198.18.0.50'), putNic({ id: 'only', vnid: 9, node: 'z', mac: M3, ips: ['100.64.9.9'] })]);
  t.equal(index.revision, 50);
  t.equal(index.mappings, 1);
  t.equal(index.vl2(100, M1), undefined);
  t.same(index.vl3(9, '100.64.9.9')?.mac, M3);
  t.same(index.vnids(), [9]);
});

t.test('lookup index - store onCommit ops feed the index like Watch batches', async (t) => {
  const index = new LookupIndex();
  const node = putNode('a', '198.18.0.1');
  const nic = putNic({ id: 'n', vnid: 4, node: 'a', mac: M1, ips: ['100.64.0.4'] });
  const events = index.apply(1, keyChangesOf([
    { type: 'put', key: node.key, value: node.value as Uint8Array },
    { type: 'put', key: nic.key, value: nic.value as Uint8Array },
  ]));
  t.same(kinds(events), ['4:ENDPOINT_ADDED', '4:FLOOD_CHANGED']);
  t.same(kinds(index.apply(2, keyChangesOf([{ type: 'del', key: 'i/n' }]))), ['4:ENDPOINT_REMOVED', '4:FLOOD_CHANGED']);
});
