// The Lookup service over the wire (in-process fabric on a loopback port): answers, typed errors
// on bad queries with the connection still usable, and the Subscribe stream's guarantees.
import t, { type Test } from 'tap';
import { LookupClient } from '../../src/lookup/client.js';
import type { StreamCall } from '../../src/wire/transport/client.js';
import { EventKind, type LookupEventLike } from '../../src/lookup/types.js';
import { VxfabError } from '../../src/model/errors.js';
import protobuf from 'protobufjs/minimal.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { Lookup } from '../../src/wire/gen/services.js';
import { client, startFabric, until, type Fabric } from './harness.js';

const label = (e: LookupEventLike): string => `${e.revision}:${EventKind[e.kind]}:${e.endpoint?.mac ?? ''}:${e.endpoint?.node ?? ''}`;

async function seed(f: Fabric): Promise<void> {
  const c = f.controller;
  await c.createTenant('acme');
  await c.createNetwork({ tenant: 'acme', name: 'web', vnid: 100, subnet4: '100.64.1.0/24', subnet6: 'fd00:64:1::/64' });
  await c.createNetwork({ tenant: 'acme', name: 'db', vnid: 200, subnet4: '100.64.2.0/24' });
  await c.addNode('h1', '198.18.0.1');
  await c.addNode('h2', '198.18.0.2', 4790);
}

/** A stream left running until the test ends: cancelled in teardown, its ending never unhandled. */
function background(t: Test, call: StreamCall): StreamCall {
  call.done.catch(() => undefined);
  t.teardown(() => call.cancel());
  return call;
}

async function expectCode(t: Test, p: Promise<unknown>, code: string, field: string, what: string): Promise<VxfabError | undefined> {
  try {
    await p;
    t.fail(`${what}: no error`);
    return undefined;
  } catch (e) {
    t.match(e, { name: 'VxfabError', code, field }, what);
    return e as VxfabError;
  }
}

t.test('lookup service - VL2, VL3, flood, bulk and status answer what the controller holds', async (t) => {
  const f = await startFabric(t);
  await seed(f);
  const a = await f.controller.createNic({ tenant: 'acme', network: 'web', node: 'h1', mac: '02:00:00:00:00:0a' });
  const b = await f.controller.createNic({ tenant: 'acme', network: 'web', node: 'h2', mac: '02:00:00:00:00:0b' });
  const lc = new LookupClient(await client(t, f.address));
  t.same(await lc.vl2(100, '02:00:00:00:00:0a'), { underlay: '198.18.0.1', port: 4789, node: 'h1' });
  t.same(await lc.vl2(100, '02:00:00:00:00:0B'), { underlay: '198.18.0.2', port: 4790, node: 'h2' }, 'either case');
  t.equal(await lc.vl2(200, '02:00:00:00:00:0a'), undefined, 'another vnid: not found');
  t.same(await lc.vl3(100, a.ips[0]!), { mac: a.mac, underlay: '198.18.0.1', port: 4789, node: 'h1' });
  t.same(await lc.vl3(100, b.ips[1]!), { mac: b.mac, underlay: '198.18.0.2', port: 4790, node: 'h2' }, 'IPv6');
  const flood = await lc.flood(100);
  t.same(flood.members.map((m) => m.node), ['h1', 'h2']);
  t.equal(flood.revision, f.store.revision);
  const bulk = await lc.bulk(100, 1);
  t.same(bulk.endpoints.map((e) => e.nicId).sort(), [a.id, b.id].sort(), 'bulk in pages of 1');
  t.equal(bulk.revision, f.store.revision);
  t.same((await lc.bulk(300)).endpoints, [], 'an empty vnid has an empty bulk');
  t.same(await lc.status(), { revision: f.store.revision, mappings: 2, subscribers: 0, source: 'local' });
  await f.controller.moveNic(a.id, 'h2');
  t.same(await lc.vl2(100, a.mac), { underlay: '198.18.0.2', port: 4790, node: 'h2' }, 'a move is seen at once');
  await f.controller.deleteNic(b.id);
  t.equal(await lc.vl2(100, b.mac), undefined, 'a delete is seen at once');
});

t.test('lookup service - bad queries get typed errors and the connection stays usable', async (t) => {
  const f = await startFabric(t);
  await seed(f);
  const nic = await f.controller.createNic({ tenant: 'acme', network: 'web', node: 'h1' });
  const rpc = await client(t, f.address);
  const nf = await expectCode(t, rpc.call(Lookup.Vl2, { vnid: 100, mac: '02:ff:ff:ff:ff:ff' }), 'NOT_FOUND', 'mac', 'unknown MAC');
  t.match(nf?.message, /02:ff:ff:ff:ff:ff.*100|100.*02:ff:ff:ff:ff:ff/, 'NOT_FOUND names the mac and the vnid');
  await expectCode(t, rpc.call(Lookup.Vl2, { vnid: 100, mac: '02:00:00:00:00' }), 'INVALID_ARGUMENT', 'mac', 'short MAC');
  await expectCode(t, rpc.call(Lookup.Vl2, { vnid: 100, mac: 'zz:00:00:00:00:01' }), 'INVALID_ARGUMENT', 'mac', 'non-hex MAC');
  await expectCode(t, rpc.call(Lookup.Vl2, { vnid: 0, mac: nic.mac }), 'INVALID_ARGUMENT', 'vnid', 'vnid 0');
  await expectCode(t, rpc.call(Lookup.Vl2, { vnid: 16777216, mac: nic.mac }), 'INVALID_ARGUMENT', 'vnid', 'vnid too large');
  await expectCode(t, rpc.call(Lookup.Vl3, { vnid: 100, ip: '100.64.1.300' }), 'INVALID_ARGUMENT', 'ip', 'bad IPv4');
  await expectCode(t, rpc.call(Lookup.Vl3, { vnid: 100, ip: 'fd00::1::2' }), 'INVALID_ARGUMENT', 'ip', 'bad IPv6');
  await expectCode(t, rpc.call(Lookup.Vl3, { vnid: 100, ip: '100.64.1.250' }), 'NOT_FOUND', 'ip', 'unknown IP');
  await expectCode(t, rpc.call(Lookup.Flood, { vnid: 0 }), 'INVALID_ARGUMENT', 'vnid', 'flood vnid 0');
  await expectCode(t, rpc.stream(Lookup.Bulk, { vnid: 99999999 }, () => undefined).done, 'INVALID_ARGUMENT', 'vnid', 'bulk vnid too large');
  await expectCode(t, rpc.stream(Lookup.Subscribe, { vnids: [] }, () => undefined).done, 'INVALID_ARGUMENT', 'vnids', 'subscribe to nothing');
  await expectCode(t, rpc.stream(Lookup.Subscribe, { vnids: [100, 0] }, () => undefined).done, 'INVALID_ARGUMENT', 'vnids[1]', 'subscribe to vnid 0');
  const unknown = { ...Lookup.Status, path: 'vxfab.v1.Lookup/Nope' };
  await expectCode(t, rpc.call(unknown, {}), 'UNIMPLEMENTED', 'method', 'unknown method');
  // A body that is not a Vl2Request at all.
  // Field 2 claims 64 bytes and has one.
  const garbage = { ...Lookup.Vl2, req: { ...vxfab.v1.Vl2Request,
    encode: (_m: unknown, w?: protobuf.Writer) => (w ?? protobuf.Writer.create()).uint32(0x12).uint32(0x40).uint32(1) } };
  await expectCode(t, rpc.call(garbage as unknown as typeof Lookup.Vl2, { vnid: 1, mac: '' }), 'INVALID_ARGUMENT', 'body', 'undecodable body');
  t.ok(rpc.connected, 'still connected after every refusal');
  t.same(await new LookupClient(rpc).vl2(100, nic.mac), { underlay: '198.18.0.1', port: 4789, node: 'h1' }, 'and still answering');
});

t.test('lookup service - each change reaches a subscriber exactly once, in order; cancel unsubscribes', async (t) => {
  const f = await startFabric(t);
  await seed(f);
  const lc = new LookupClient(await client(t, f.address));
  const events: LookupEventLike[] = [];
  const sub = lc.subscribe('h9', [100], 0, (e) => events.push(e));
  await until('SYNCED', () => events.some((e) => e.kind === EventKind.SYNCED));
  t.equal(events[0]!.kind, EventKind.SYNCED);
  t.equal((await lc.status()).subscribers, 1);
  const a = await f.controller.createNic({ tenant: 'acme', network: 'web', node: 'h1', mac: '02:00:00:00:00:01' });
  await f.controller.createNic({ tenant: 'acme', network: 'db', node: 'h1', mac: '02:00:00:00:00:02' }); // other vnid
  const moved = await f.controller.moveNic(a.id, 'h2');
  await f.controller.deleteNic(a.id);
  const r = moved.revision;
  await until('the delete', () => events.some((e) => e.kind === EventKind.ENDPOINT_REMOVED));
  t.same(events.slice(1).map(label), [
    `${r - 2}:ENDPOINT_ADDED:02:00:00:00:00:01:h1`,
    `${r - 2}:FLOOD_CHANGED::`,
    `${r}:ENDPOINT_MOVED:02:00:00:00:00:01:h2`,
    `${r}:FLOOD_CHANGED::`,
    `${r + 1}:ENDPOINT_REMOVED:02:00:00:00:00:01:h2`,
    `${r + 1}:FLOOD_CHANGED::`,
  ]);
  const move = events.find((e) => e.kind === EventKind.ENDPOINT_MOVED)!;
  t.match(move, { oldNode: 'h1', oldUnderlay: '198.18.0.1', oldPort: 4789, endpoint: { underlay: '198.18.0.2', port: 4790, nicId: a.id } });
  t.same(events.find((e) => e.kind === EventKind.FLOOD_CHANGED)!.flood, [{ underlay: '198.18.0.1', port: 4789, node: 'h1' }]);
  sub.cancel();
  await sub.done;
  await until('unsubscribed', async () => (await lc.status()).subscribers === 0);
  t.pass('cancel unsubscribed');
});

t.test('lookup service - a subscriber that comes back with its last revision gets exactly what it missed', async (t) => {
  const f = await startFabric(t);
  await seed(f);
  const lc = new LookupClient(await client(t, f.address));
  const all: LookupEventLike[] = [];
  let live = 0;
  const whole = background(t, lc.subscribe('watcher', [100], 0, (e) => { if (e.kind !== EventKind.SYNCED) all.push(e); else live++; }));
  const first: LookupEventLike[] = [];
  const rpc2 = await client(t, f.address);
  const part = background(t, new LookupClient(rpc2).subscribe('h9', [100], 0, (e) => { if (e.kind !== EventKind.SYNCED) first.push(e); else live++; }));
  await until('both live', () => live === 2);
  const nics = [];
  for (let i = 0; i < 3; i++) nics.push(await f.controller.createNic({ tenant: 'acme', network: 'web', node: 'h1' }));
  await until('three adds', () => first.filter((e) => e.kind === EventKind.ENDPOINT_ADDED).length === 3);
  await rpc2.close(); // the connection is lost
  await part.done.catch(() => undefined);
  const last = first[first.length - 1]!.revision;
  await f.controller.moveNic(nics[0]!.id, 'h2');
  await f.controller.deleteNic(nics[1]!.id);
  await f.controller.createNic({ tenant: 'acme', network: 'web', node: 'h2' });
  const missed: LookupEventLike[] = [];
  let synced: LookupEventLike | undefined;
  background(t, lc.subscribe('h9', [100], last, (e) => { if (e.kind === EventKind.SYNCED) synced = e; else missed.push(e); }));
  await until('replay', () => synced !== undefined);
  await until('the watcher', () => all.length > 0 && all[all.length - 1]!.revision === f.store.revision);
  t.same(missed.map(label), all.filter((e) => e.revision > last).map(label), 'exactly the events after its last revision');
  t.equal(synced!.revision, f.store.revision, 'SYNCED carries the revision it is complete up to');
  t.same(first.concat(missed).map(label), all.map(label), 'before + after the reconnect = the whole stream, no loss, no duplicate');
});

t.test('lookup service - a compacted revision says COMPACTED; Bulk then subscribe from its revision resyncs', async (t) => {
  const f = await startFabric(t, { hub: { historyBatches: 2 } });
  await seed(f);
  const lc = new LookupClient(await client(t, f.address));
  const early = f.store.revision;
  for (let i = 0; i < 4; i++) await f.controller.createNic({ tenant: 'acme', network: 'web', node: 'h1' });
  const sub = lc.subscribe('h9', [100], early, () => undefined);
  await expectCode(t, sub.done, 'COMPACTED', 'from_revision', 'too old a revision');
  const bulk = await lc.bulk(100);
  t.equal(bulk.endpoints.length, 4);
  const events: LookupEventLike[] = [];
  background(t, lc.subscribe('h9', [100], bulk.revision, (e) => events.push(e)));
  await until('SYNCED', () => events.length > 0);
  const nic = await f.controller.createNic({ tenant: 'acme', network: 'web', node: 'h2' });
  await until('the add', () => events.some((e) => e.kind === EventKind.ENDPOINT_ADDED));
  t.same(events.map((e) => EventKind[e.kind]), ['SYNCED', 'ENDPOINT_ADDED', 'FLOOD_CHANGED']);
  t.equal(events[1]!.endpoint!.nicId, nic.id);
});
