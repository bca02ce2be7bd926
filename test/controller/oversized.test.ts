// Oversized objects (issue #11): the controller refuses a NIC with more than MAX_NIC_IPS
// addresses, and every stream pages by encoded size, so NICs at the limit — and a NIC stored
// before the limit existed, with 45,000 IPv4 addresses — still stream: ListNics (`nic list`),
// Snapshot (a real LookupReplica starts from it), Watch (one committed batch larger than a frame
// reaches the replica whole, its events once) and Bulk. Each stream is read by a client that
// refuses frames over STREAM_PAGE_BYTES + 8 KiB where no single object is larger, so a page cut
// by count alone (500 NICs of 64 long IPv6 addresses: 1.4 MB) fails there. An object too big for
// any frame is refused by name.
import t, { type Test } from 'tap';
import { Controller } from '../../src/controller/controller.js';
import { registerController } from '../../src/controller/service.js';
import { LookupClient } from '../../src/lookup/client.js';
import { startLocalLookup } from '../../src/lookup/local-feed.js';
import { registerLookup } from '../../src/lookup/service.js';
import { EventKind, type LookupEventLike } from '../../src/lookup/types.js';
import { VxfabError } from '../../src/model/errors.js';
import { nicKey } from '../../src/model/keys.js';
import { MAX_NIC_IPS, STREAM_PAGE_BYTES } from '../../src/model/limits.js';
import type { Nic } from '../../src/model/objects.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { Controller as Methods } from '../../src/wire/gen/services.js';
import { encodeNic } from '../../src/wire/objects.js';
import { RpcClient } from '../../src/wire/transport/client.js';
import { collect } from '../../src/wire/transport/collect.js';
import { RpcServer } from '../../src/wire/transport/server.js';
import { quiet, startReplica, until } from '../lookup/harness.js';

const NICS = 600;
const LEGACY_IPS = 45_000;
const SMALL_FRAMES = STREAM_PAGE_BYTES + 8192;

/** MAX_NIC_IPS IPv6 addresses for NIC `i`, each 39 characters (no zero group to compress). */
function longV6(i: number): string[] {
  return Array.from({ length: MAX_NIC_IPS }, (_, j) => `fd12:3456:789a:bcde:1234:5678:${(0x1000 + i).toString(16)}:${(0x1000 + j).toString(16)}`);
}

function v4(count: number): string[] {
  return Array.from({ length: count }, (_, k) => { const i = k + 2; return `100.64.${i >>> 8}.${i & 255}`; });
}

const mac = (i: number) => `02:00:00:${((i >>> 16) & 255).toString(16).padStart(2, '0')}:${((i >>> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

async function rpcClient(t: Test, address: string, maxFrameBytes?: number): Promise<RpcClient> {
  const c = new RpcClient({
    address, role: vxfab.v1.Role.ROLE_BENCH, identity: 'test', logger: quiet, timeoutMs: 20_000, reconnect: false,
    ...(maxFrameBytes !== undefined ? { maxFrameBytes } : {}),
  });
  t.teardown(() => c.close());
  await c.connect();
  return c;
}

async function serve(t: Test, store: MemoryStore): Promise<{ controller: Controller; address: string }> {
  const controller = await Controller.open(store);
  const lookup = await startLocalLookup(store);
  const server = new RpcServer({ identity: 'test-oversized', logger: quiet });
  registerController(server, controller);
  registerLookup(server, lookup);
  const bound = await server.listen('127.0.0.1', 0);
  t.teardown(async () => {
    await server.close();
    lookup.close();
    await controller.idle();
  });
  return { controller, address: `127.0.0.1:${bound.port}` };
}

async function refused(t: Test, p: Promise<unknown>, code: string, field: string, value?: string): Promise<void> {
  try {
    await p;
    t.fail(`expected ${code}`);
  } catch (e) {
    t.ok(e instanceof VxfabError, `a typed error: ${String(e)}`);
    t.match({ code: (e as VxfabError).code, field: (e as VxfabError).field }, { code, field });
    if (value !== undefined) t.equal((e as VxfabError).value, value);
  }
}

t.test('oversized - the NIC limit, and NICs at the limit and before it through every stream', async (t) => {
  const store = new MemoryStore({ logRetention: 100_000 });
  t.teardown(() => store.close());
  // A fabric whose one NIC predates the limit: written to the store straight, then loaded.
  const setup = await Controller.open(store);
  await setup.createTenant('acme');
  const v6net = await setup.createNetwork({ tenant: 'acme', name: 'v6', subnet6: 'fd12:3456:789a:bcde::/64' });
  const legacyNet = await setup.createNetwork({ tenant: 'acme', name: 'legacy', subnet4: '100.64.0.0/16' });
  await setup.addNode('host-a', '198.18.0.1');
  await setup.addNode('host-b', '198.18.0.2');
  await setup.idle();
  const legacyIps = v4(LEGACY_IPS);
  const legacy: Nic = { id: 'legacy-1', tenant: 'acme', network: 'legacy', vnid: legacyNet.vnid, node: 'host-a', mac: '02:00:00:00:ff:01', ips: legacyIps, revision: store.revision + 1 };
  await store.batch([{ type: 'put', key: nicKey(legacy.id), value: encodeNic(legacy) }]);
  const { controller: c, address } = await serve(t, store);

  // The limit: one over is refused, naming the field and the count, and writes nothing.
  const before = store.revision;
  await refused(t, c.createNic({ tenant: 'acme', network: 'v6', node: 'host-a', ips: [...longV6(0), 'fd12:3456:789a:bcde::1'] }), 'INVALID_ARGUMENT', 'ips', String(MAX_NIC_IPS + 1));
  const wire = await rpcClient(t, address);
  await refused(t, wire.call(Methods.CreateNic, { tenant: 'acme', network: 'v6', node: 'host-a', ips: [...longV6(0), 'fd12:3456:789a:bcde::1'] }), 'INVALID_ARGUMENT', 'ips', String(MAX_NIC_IPS + 1));
  t.equal(store.revision, before, 'nothing was written');
  t.equal(c.state.nics.size, 1, 'no NIC was made');

  // NICs at the limit: 600 × 64 addresses of 39 characters.
  for (let i = 0; i < NICS; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, k) => c.createNic({ tenant: 'acme', network: 'v6', node: k % 2 ? 'host-a' : 'host-b', mac: mac(i + k + 1), ips: longV6(i + k) })));
  }

  // ListNics (what `vxfab nic list` calls): by size, pages fit small frames.
  const small = await rpcClient(t, address, SMALL_FRAMES);
  const pages = await collect(small, Methods.ListNics, { tenant: 'acme', network: 'v6' });
  t.equal(pages.flatMap((p) => p.nics).length, NICS, 'every NIC at the limit is listed');
  t.ok(pages.length >= 5, `in ${pages.length} pages, each under ${SMALL_FRAMES} bytes`);
  t.ok(pages.every((p) => vxfab.v1.NicPage.encode(p).finish().length <= STREAM_PAGE_BYTES), 'each page within the page budget');
  const old = (await collect(wire, Methods.ListNics, { tenant: 'acme', network: 'legacy' })).flatMap((p) => p.nics);
  t.equal(old.length, 1);
  t.equal(old[0]!.ips!.length, LEGACY_IPS, 'the NIC from before the limit streams whole, in a page of its own');
  t.equal((await collect(wire, Methods.ListNics, {})).flatMap((p) => p.nics).length, NICS + 1, 'and with every other NIC');

  // Bulk, from the in-process lookup.
  const bulk = await new LookupClient(small).bulk(v6net.vnid, 4096);
  t.equal(bulk.endpoints.length, NICS, 'Bulk pages by size: small frames, asked for 4096 a page');

  // Snapshot: a real replica starts from it (its client refuses frames over 1 MiB).
  const replica = await startReplica(t, address);
  const idx = () => replica.replica.index;
  t.equal(idx().revision, store.revision, 'the replica loaded the snapshot');
  t.equal(idx().vl3(legacyNet.vnid, legacyIps[LEGACY_IPS - 1]!)?.mac, legacy.mac, 'with the NIC from before the limit');
  t.equal(idx().vl3(v6net.vnid, longV6(NICS - 1)[MAX_NIC_IPS - 1]!)?.mac, mac(NICS), 'and the NICs at the limit');
  const rbulk = await new LookupClient(await rpcClient(t, replica.address, SMALL_FRAMES)).bulk(v6net.vnid, 4096);
  t.equal(rbulk.endpoints.length, NICS, 'Bulk from the replica pages by size too');

  // Watch: one committed batch of 600 more NICs at the limit (1.7 MB), written straight to the
  // store as one revision, reaches the replica in parts; a subscriber sees each NIC added once.
  const events: LookupEventLike[] = [];
  const sub = replica.replica.hub.subscribe([v6net.vnid], idx().revision, { push: (e) => { events.push(e); return true; }, close: () => undefined });
  t.teardown(() => sub.close());
  const batch = Array.from({ length: NICS }, (_, k) => {
    const nic: Nic = { id: `batch-${k}`, tenant: 'acme', network: 'v6', vnid: v6net.vnid, node: 'host-b', mac: mac(10_000 + k), ips: longV6(1000 + k), revision: store.revision + 1 };
    return { type: 'put' as const, key: nicKey(nic.id), value: encodeNic(nic) };
  });
  t.ok(batch.reduce((n, op) => n + op.value.length, 0) > 1 << 20, 'the batch is bigger than a frame');
  const rev = await store.batch(batch);
  await until('the replica applied the big batch', () => idx().revision === rev, 30_000);
  t.equal(idx().vl2(v6net.vnid, mac(10_000))?.node, 'host-b', 'its first NIC');
  t.equal(idx().vl2(v6net.vnid, mac(10_000 + NICS - 1))?.node, 'host-b', 'and its last');
  const added = events.filter((e) => e.kind === EventKind.ENDPOINT_ADDED);
  t.equal(added.length, NICS, 'each NIC of the batch added once');
  t.ok(added.every((e) => e.revision === rev), 'all at the batch\'s revision');
  t.equal(new Set(added.map((e) => e.endpoint!.nicId)).size, NICS);
});

t.test('oversized - an object too big for any frame is refused by name, not sent', async (t) => {
  const store = new MemoryStore();
  t.teardown(() => store.close());
  const setup = await Controller.open(store);
  await setup.createTenant('acme');
  const net = await setup.createNetwork({ tenant: 'acme', name: 'v6', subnet6: 'fd12:3456:789a:bcde::/64' });
  await setup.addNode('host-a', '198.18.0.1');
  await setup.idle();
  // 40,000 long IPv6 addresses: 1.6 MB encoded.
  const ips = Array.from({ length: 40_000 }, (_, i) => `fd12:3456:789a:bcde:1234:5678:${(0x1000 + (i >>> 12)).toString(16)}:${(0x1000 + (i & 0xfff)).toString(16)}`);
  const huge: Nic = { id: 'huge-1', tenant: 'acme', network: 'v6', vnid: net.vnid, node: 'host-a', mac: '02:00:00:00:ee:01', ips, revision: store.revision + 1 };
  await store.batch([{ type: 'put', key: nicKey(huge.id), value: encodeNic(huge) }]);
  const { address } = await serve(t, store);
  const wire = await rpcClient(t, address);
  await refused(t, collect(wire, Methods.ListNics, {}), 'RESOURCE_EXHAUSTED', 'object', 'object huge-1');
  await refused(t, collect(wire, Methods.Snapshot, {}), 'RESOURCE_EXHAUSTED', 'object', `key ${nicKey('huge-1')}`);
  t.equal((await wire.call(Methods.GetNode, { name: 'host-a' })).name, 'host-a', 'the connection is still good');
});
