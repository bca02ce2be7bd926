// End to end durability: `vxfab serve` is killed with SIGKILL while 64 writers, each on its own
// connection, stream creates, moves and deletes of NICs with allocated addresses and MACs. After
// a restart on the same data directory the controller opens, every acknowledged write is there
// (an acknowledged create stored with the address and MAC it was acknowledged with, an
// acknowledged delete gone, an acknowledged move on its node), no address or MAC is held by two
// NICs, and the rebuilt allocators hand out nothing twice.
import t from 'tap';
import { startServe, tlsFor } from '../helpers/serve-process.js';
import { RpcClient } from '../../src/wire/transport/client.js';
import { collect } from '../../src/wire/transport/collect.js';
import { Controller } from '../../src/wire/gen/services.js';
import { vxfab } from '../../src/wire/gen/proto.js';

const WRITERS = 64;
const KILL_AFTER = 3000;
const NODES = ['host-a', 'host-b', 'host-c'];

const client = (address: string, id: number) =>
  new RpcClient({ address, role: vxfab.v1.Role.ROLE_BENCH, identity: `test-kill9-${id}`, reconnect: false, ...tlsFor(address) });

interface Acked { ip: string; mac: string; node: string }

/** One writer's view: what it was told, and the one write it had in flight when the server died. */
interface Writer {
  alive: Map<string, Acked>;
  deleted: Set<string>;
  inFlight?: { kind: 'create' } | { kind: 'move'; id: string; node: string } | { kind: 'delete'; id: string };
}

t.test('controller - acknowledged writes of 64 writers survive kill -9 of vxfab serve', async (t) => {
  let serve = await startServe(t);
  const admin = client(serve.address, 0);
  await admin.connect();
  await admin.call(Controller.CreateTenant, { name: 'acme' });
  await admin.call(Controller.CreateNetwork, { tenant: 'acme', name: 'web', subnet4: '100.64.0.0/16', subnet6: 'fd00:64::/64' });
  for (const [i, name] of NODES.entries()) await admin.call(Controller.AddNode, { name, underlay: `198.18.0.${i + 1}` });
  await admin.close();

  const clients = await Promise.all(Array.from({ length: WRITERS }, async (_, i) => {
    const c = client(serve.address, i + 1);
    await c.connect();
    return c;
  }));
  const writers: Writer[] = clients.map(() => ({ alive: new Map(), deleted: new Set() }));
  let acks = 0;
  let killed = false;
  const ack = () => {
    if (++acks >= KILL_AFTER && !killed) {
      killed = true;
      serve.child.kill('SIGKILL');
    }
  };
  await Promise.all(clients.map(async (c, w) => {
    const me = writers[w]!;
    for (let step = 0; !killed; step++) {
      const mine = [...me.alive.keys()];
      try {
        if (step % 5 === 3 && mine.length > 0) {
          const id = mine[step % mine.length]!;
          const node = NODES[(NODES.indexOf(me.alive.get(id)!.node) + 1) % NODES.length]!;
          me.inFlight = { kind: 'move', id, node };
          const nic = await c.call(Controller.MoveNic, { id, node });
          me.alive.get(id)!.node = nic.node;
        } else if (step % 5 === 4 && mine.length > 1) {
          const id = mine[0]!;
          me.inFlight = { kind: 'delete', id };
          await c.call(Controller.DeleteNic, { id });
          me.alive.delete(id);
          me.deleted.add(id);
        } else {
          me.inFlight = { kind: 'create' };
          const nic = await c.call(Controller.CreateNic, { tenant: 'acme', network: 'web', node: NODES[step % NODES.length]! });
          me.alive.set(nic.id, { ip: nic.ips.join(' '), mac: nic.mac, node: nic.node });
        }
        me.inFlight = undefined;
        ack();
      } catch {
        return; // the connection died with the process: the write in flight is unacknowledged
      }
    }
  }));
  t.ok(acks >= KILL_AFTER, `${acks} writes acknowledged before the kill`);
  await Promise.all(clients.map((c) => c.close()));
  await serve.stop();

  serve = await serve.restart();
  const c = client(serve.address, 0);
  await c.connect();
  t.teardown(() => c.close());
  const stored = new Map<string, Acked>();
  for (const page of await collect(c, Controller.ListNics, {})) {
    for (const nic of page.nics) stored.set(nic.id ?? '', { ip: (nic.ips ?? []).join(' '), mac: nic.mac ?? '', node: nic.node ?? '' });
  }

  let checked = 0;
  for (const me of writers) {
    const f = me.inFlight;
    for (const [id, want] of me.alive) {
      const got = stored.get(id);
      checked++;
      if (!got) {
        // Only an unacknowledged delete may have taken an acknowledged NIC away.
        if (!(f?.kind === 'delete' && f.id === id)) t.fail(`acknowledged ${id} is missing`);
        continue;
      }
      if (got.ip !== want.ip || got.mac !== want.mac) t.fail(`${id} is stored with ${got.ip} ${got.mac}, acknowledged with ${want.ip} ${want.mac}`);
      const nodeOk = got.node === want.node || (f?.kind === 'move' && f.id === id && got.node === f.node);
      if (!nodeOk) t.fail(`${id} is on ${got.node}, acknowledged on ${want.node}`);
    }
    for (const id of me.deleted) if (stored.has(id)) t.fail(`deleted ${id} is still stored`);
  }
  t.ok(checked > 0, `${checked} acknowledged NICs checked, ${stored.size} stored`);
  const ips = [...stored.values()].flatMap((n) => n.ip.split(' '));
  t.equal(new Set(ips).size, ips.length, 'no address is held by two NICs');
  const macs = [...stored.values()].map((n) => n.mac);
  t.equal(new Set(macs).size, macs.length, 'no MAC is held by two NICs');

  // New creates after the restart must not reuse a stored address or MAC.
  const usedIps = new Set(ips);
  const usedMacs = new Set(macs);
  for (let i = 0; i < 50; i++) {
    const nic = await c.call(Controller.CreateNic, { tenant: 'acme', network: 'web', node: 'host-a' });
    for (const ip of nic.ips) {
      t.notOk(usedIps.has(ip), `new address ${ip} was free`);
      usedIps.add(ip);
    }
    t.notOk(usedMacs.has(nic.mac), `new MAC ${nic.mac} was free`);
    usedMacs.add(nic.mac);
  }
});
