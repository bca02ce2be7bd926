// Controller operations in process: allocation under pipelining, group commit, refusals that
// leave nothing behind, undo when the store fails, and state rebuilt from the store.
import t, { type Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller } from '../../src/controller/controller.js';
import { LevelStore } from '../../src/store/level-store.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { Store, StoreOp } from '../../src/store/store.js';
import { VxfabError } from '../../src/model/errors.js';

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vxfab-ctl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function refusedWith(t: Test, p: Promise<unknown> | (() => unknown), code: string, field?: string) {
  try {
    await (typeof p === 'function' ? p() : p);
    t.fail(`expected ${code}`);
  } catch (e) {
    t.ok(e instanceof VxfabError, 'a typed error');
    t.equal((e as VxfabError).code, code);
    if (field !== undefined) t.equal((e as VxfabError).field, field);
  }
}

async function fabric(store: Store) {
  const c = await Controller.open(store);
  await c.createTenant('acme');
  await c.createNetwork({ tenant: 'acme', name: 'web', subnet4: '100.64.0.0/16', subnet6: 'fd00:64::/64' });
  await c.addNode('host-a', '198.18.0.1');
  await c.addNode('host-b', '198.18.0.2');
  return c;
}

t.test('controller - pipelined creates are group-committed and allocate uniquely', async (t) => {
  const dir = await tempDir(t);
  const store = await LevelStore.open(dir);
  t.teardown(() => store.close());
  const c = await fabric(store);
  const before = c.commitStats.batches;
  const nics = await Promise.all(Array.from({ length: 2000 }, (_, i) =>
    c.createNic({ tenant: 'acme', network: 'web', node: i % 2 ? 'host-a' : 'host-b' })));
  const batches = c.commitStats.batches - before;
  t.ok(batches < 200, `2000 creates took ${batches} batches`);
  t.equal(new Set(nics.map((n) => n.ips[0])).size, 2000, 'unique IPv4 addresses');
  t.equal(new Set(nics.map((n) => n.ips[1])).size, 2000, 'unique IPv6 addresses');
  t.equal(new Set(nics.map((n) => n.mac)).size, 2000, 'unique MACs');
  t.equal(new Set(nics.map((n) => n.id)).size, 2000, 'unique ids');
  t.notOk(nics.some((n) => n.ips[0] === '100.64.0.1' || n.ips[1] === 'fd00:64::1'), 'no NIC got a gateway');
  // Every acknowledged NIC is in the store at the revision it reports.
  const stored = new Map<string, number>();
  for await (const [k] of store.scan('i/')) stored.set(k.slice(2), 1);
  t.equal(stored.size, 2000);
  t.ok(nics.every((n) => n.revision > 0 && n.revision <= store.revision), 'revisions are committed ones');
});

t.test('controller - state is rebuilt from the store on open', async (t) => {
  const dir = await tempDir(t);
  let store = await LevelStore.open(dir);
  const c = await fabric(store);
  const a = await c.createNic({ tenant: 'acme', network: 'web', node: 'host-a', ips: ['100.64.0.10'] });
  const net = c.getNetwork('acme', 'web');
  await store.close();
  store = await LevelStore.open(dir);
  t.teardown(() => store.close());
  const again = await Controller.open(store);
  t.same(again.getNic(a.id), a);
  await refusedWith(t, again.createNic({ tenant: 'acme', network: 'web', node: 'host-b', ips: ['100.64.0.10'] }), 'ALREADY_EXISTS', 'ips[0]');
  await refusedWith(t, again.createNetwork({ tenant: 'acme', name: 'other', vnid: net.vnid }), 'ALREADY_EXISTS', 'vnid');
  const b = await again.createNic({ tenant: 'acme', network: 'web', node: 'host-b', mac: a.mac.replace(/^02/, '06') });
  t.not(b.ips[0], '100.64.0.10');
});

t.test('controller - refusals change nothing', async (t) => {
  const store = new MemoryStore();
  const c = await fabric(store);
  const rev = store.revision;
  await refusedWith(t, c.createNic({ tenant: 'acme', network: 'web', node: 'host-a', ips: ['100.64.0.20', '10.0.0.1'] }), 'INVALID_ARGUMENT', 'ips[1]');
  // The first, valid, address must not stay reserved by the refused request.
  const ok = await c.createNic({ tenant: 'acme', network: 'web', node: 'host-a', ips: ['100.64.0.20'] });
  t.same(ok.ips, ['100.64.0.20']);
  await refusedWith(t, c.deleteNode('host-a'), 'CONFLICT', 'name');
  await refusedWith(t, c.deleteNetwork('acme', 'web'), 'CONFLICT', 'network');
  await refusedWith(t, c.deleteTenant('acme'), 'CONFLICT', 'name');
  t.equal(store.revision, rev + 1, 'only the successful create was written');
});

t.test('controller - moves, deletes and registration', async (t) => {
  const store = new MemoryStore();
  const c = await fabric(store);
  const nic = await c.createNic({ tenant: 'acme', network: 'web', node: 'host-a' });
  const moved = await c.moveNic(nic.id, 'host-b');
  t.equal(moved.node, 'host-b');
  t.same(c.listNics({ node: 'host-a' }), []);
  t.same(c.listNics({ node: 'host-b' }).map((n) => n.id), [nic.id]);
  const rev = store.revision;
  await c.moveNic(nic.id, 'host-b');
  t.equal(store.revision, rev, 'moving to the same node writes nothing');
  t.same(await c.registerNode('host-a', '198.18.0.1'), c.getNode('host-a'), 'register is idempotent');
  t.equal(store.revision, rev, 'an idempotent register writes nothing');
  await refusedWith(t, c.registerNode('host-a', '198.18.0.9'), 'CONFLICT', 'underlay');
  const created = await c.registerNode('host-c', '198.18.0.3');
  t.equal(created.port, 4789);
  await c.deleteNic(nic.id);
  await c.deleteNetwork('acme', 'web');
  await c.deleteTenant('acme');
  t.same(c.listTenants(), []);
  // The VNID and addresses were released.
  await c.createTenant('acme');
  const net = await c.createNetwork({ tenant: 'acme', name: 'web', subnet4: '100.64.0.0/16' });
  t.ok(net.vnid > 0);
});

/** A store whose next batch fails: the controller must undo what it reserved. */
class FailingStore extends MemoryStore {
  failNext = false;
  override async batch(ops: StoreOp[]): Promise<number> {
    if (this.failNext) {
      this.failNext = false;
      throw new VxfabError('UNAVAILABLE', 'disk on fire');
    }
    return super.batch(ops);
  }
}

t.test('controller - a failed commit is undone in memory', async (t) => {
  const store = new FailingStore();
  const c = await fabric(store);
  store.failNext = true;
  await refusedWith(t, c.createNic({ tenant: 'acme', network: 'web', node: 'host-a', ips: ['100.64.0.30'], mac: '02:00:00:00:99:99' }), 'UNAVAILABLE');
  t.same(c.listNics(), [], 'no NIC left behind');
  const again = await c.createNic({ tenant: 'acme', network: 'web', node: 'host-a', ips: ['100.64.0.30'], mac: '02:00:00:00:99:99' });
  t.same(again.ips, ['100.64.0.30'], 'the address and MAC were released');
  store.failNext = true;
  await refusedWith(t, c.createNetwork({ tenant: 'acme', name: 'db', vnid: 777 }), 'UNAVAILABLE');
  await refusedWith(t, () => c.getNetwork('acme', 'db'), 'NOT_FOUND');
  t.equal((await c.createNetwork({ tenant: 'acme', name: 'db', vnid: 777 })).vnid, 777, 'the VNID was released');
});
