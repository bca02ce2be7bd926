// Lookup replicas fed over the wire, and the property that matters: after any sequence of NIC
// creates, moves and deletes through the controller's API, every VL2 / VL3 / flood answer of the
// in-process lookup (vxfab serve) and of a replica equals what the controller holds — also when
// the replica or the controller was restarted in the middle.
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { LookupClient } from '../../src/lookup/client.js';
import { EventKind } from '../../src/lookup/types.js';
import { isVxfabError } from '../../src/model/errors.js';
import { nicFrom, nodeFrom } from '../../src/wire/objects.js';
import { Controller } from '../../src/wire/gen/services.js';
import { collect } from '../../src/wire/transport/collect.js';
import type { RpcClient } from '../../src/wire/transport/client.js';
import { startServe } from '../helpers/serve-process.js';
import { client, freePort, startFabric, startReplica, until, type ReplicaHandle } from './harness.js';

const NODES = ['h1', 'h2', 'h3'];
const NETS = [{ name: 'web', vnid: 100, subnet4: '100.64.1.0/24', subnet6: 'fd00:64:1::/64' }, { name: 'db', vnid: 200, subnet4: '100.64.2.0/24' }];

/** Compares every answer of the lookup at `address` with what the controller at `ctl` holds. */
async function compare(t: Test, ctl: RpcClient, lookup: LookupClient, gone: Set<string>, what: string): Promise<void> {
  const nics = (await collect(ctl, Controller.ListNics, {})).flatMap((p) => p.nics.map(nicFrom));
  const nodes = new Map((await collect(ctl, Controller.ListNodes, {})).flatMap((p) => p.nodes.map(nodeFrom)).map((n) => [n.name, n]));
  const mismatches: string[] = [];
  const check = (label: string, got: unknown, want: unknown): void => {
    if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${label}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  };
  const floods = new Map<number, Set<string>>();
  for (const nic of nics) {
    const node = nodes.get(nic.node)!;
    const where = { underlay: node.underlay, port: node.port, node: node.name };
    check(`vl2 ${nic.vnid} ${nic.mac}`, await lookup.vl2(nic.vnid, nic.mac), where);
    for (const ip of nic.ips) check(`vl3 ${nic.vnid} ${ip}`, await lookup.vl3(nic.vnid, ip), { mac: nic.mac, ...where });
    if (!floods.has(nic.vnid)) floods.set(nic.vnid, new Set());
    floods.get(nic.vnid)!.add(nic.node);
  }
  const live = new Set(nics.map((n) => `${n.vnid}/${n.mac}`));
  for (const key of gone) {
    if (live.has(key)) continue;
    const [vnid, mac] = key.split('/');
    check(`vl2 of removed ${key}`, await lookup.vl2(Number(vnid), mac!), undefined);
  }
  for (const net of NETS) {
    const want = [...(floods.get(net.vnid) ?? [])].sort().map((n) => ({ underlay: nodes.get(n)!.underlay, port: nodes.get(n)!.port, node: n }));
    check(`flood ${net.vnid}`, (await lookup.flood(net.vnid)).members, want);
    check(`bulk ${net.vnid}`, (await lookup.bulk(net.vnid)).endpoints.map((e) => e.nicId).sort(),
      nics.filter((n) => n.vnid === net.vnid).map((n) => n.id).sort());
  }
  t.same(mismatches, [], `${what}: every answer matches the controller (${nics.length} NICs)`);
}

type Cmd =
  | { op: 'create'; net: number; node: number }
  | { op: 'move'; nic: number; node: number }
  | { op: 'delete'; nic: number }
  | { op: 'restartReplica' }
  | { op: 'restartController' };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('create' as const), net: fc.nat(NETS.length - 1), node: fc.nat(NODES.length - 1) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('move' as const), nic: fc.nat(50), node: fc.nat(NODES.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), nic: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'restartReplica' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'restartController' as const }) },
);

t.test('lookup replica - property: serve and replica answer what the controller holds, across restarts', async (t) => {
  const port = await freePort();
  let serve = await startServe(t, { listen: `127.0.0.1:${port}` });
  let ctl = await client(t, serve.address, true);
  const nics: string[] = [];
  const gone = new Set<string>();
  await ctl.call(Controller.CreateTenant, { name: 'acme' });
  for (const n of NETS) await ctl.call(Controller.CreateNetwork, { tenant: 'acme', ...n });
  for (const [i, n] of NODES.entries()) await ctl.call(Controller.AddNode, { name: n, underlay: `198.18.0.${i + 1}`, port: 4789 + i });
  let rep: ReplicaHandle = await startReplica(t, serve.address);
  let local = new LookupClient(await client(t, serve.address, true));
  let remote = new LookupClient(await client(t, rep.address));
  const restarts = { replica: 0, controller: 0 };

  const caughtUp = async (): Promise<void> => {
    const want = (await local.status()).revision;
    await until('the replica to catch up', () => rep.replica.index.revision >= want);
  };

  await fc.assert(fc.asyncProperty(fc.array(cmdArb, { minLength: 5, maxLength: 25 }), async (cmds) => {
    for (const cmd of cmds) {
      if (cmd.op === 'create') {
        const nic = await ctl.call(Controller.CreateNic, { tenant: 'acme', network: NETS[cmd.net]!.name, node: NODES[cmd.node]! });
        nics.push(nic.id);
      } else if (cmd.op === 'move' && nics.length > 0) {
        await ctl.call(Controller.MoveNic, { id: nics[cmd.nic % nics.length]!, node: NODES[cmd.node]! });
      } else if (cmd.op === 'delete' && nics.length > 0) {
        const [id] = nics.splice(cmd.nic % nics.length, 1);
        const nic = await ctl.call(Controller.GetNic, { id: id! });
        await ctl.call(Controller.DeleteNic, { id: id! });
        gone.add(`${nic.vnid}/${nic.mac}`);
      } else if (cmd.op === 'restartReplica') {
        await rep.close();
        rep = await startReplica(t, serve.address);
        remote = new LookupClient(await client(t, rep.address));
        restarts.replica++;
      } else if (cmd.op === 'restartController') {
        const snapshots = rep.replica.snapshots;
        await serve.stop();
        // While the controller is down the replica goes on answering from its last state.
        t.equal((await remote.status()).mappings, nics.length, 'the replica answers while the controller is down');
        serve = await serve.restart();
        ctl = await client(t, serve.address, true);
        local = new LookupClient(await client(t, serve.address, true));
        await until('the replica to reconnect', () => rep.replica.status === 'following');
        await ctl.call(Controller.Heartbeat, { name: 'h1' }); // one more write, to see the replica follow
        await caughtUp();
        t.equal(rep.replica.snapshots, snapshots, 'the replica resumed its Watch: no new snapshot');
        restarts.controller++;
      }
    }
    await caughtUp();
    await compare(t, ctl, local, gone, 'in-process lookup');
    await compare(t, ctl, remote, gone, 'replica');
  }), { numRuns: 4, seed: Number(process.env.VXFAB_TEST_SEED ?? Date.now() % 100000) });
  // Make sure both kinds of restart were exercised at least once, whatever the random runs did.
  if (restarts.controller === 0 || restarts.replica === 0) {
    await rep.close();
    rep = await startReplica(t, serve.address);
    remote = new LookupClient(await client(t, rep.address));
    await ctl.call(Controller.CreateNic, { tenant: 'acme', network: 'web', node: 'h2' });
    await serve.stop();
    serve = await serve.restart();
    ctl = await client(t, serve.address, true);
    local = new LookupClient(await client(t, serve.address, true));
    await ctl.call(Controller.CreateNic, { tenant: 'acme', network: 'db', node: 'h3' });
    await caughtUp();
    t.equal(rep.replica.snapshots, 1, 'the replica resumed after the controller restart');
    await compare(t, ctl, local, gone, 'in-process lookup after forced restarts');
    await compare(t, ctl, remote, gone, 'replica after forced restarts');
  }
});

t.test('lookup replica - COMPACTED: a new snapshot is swapped in and subscribers are told to RESYNC', async (t) => {
  const f = await startFabric(t, { logRetention: 5 });
  await f.controller.createTenant('acme');
  await f.controller.createNetwork({ tenant: 'acme', name: 'web', vnid: 100, subnet4: '100.64.1.0/24' });
  await f.controller.addNode('h1', '198.18.0.1');
  const before = await f.controller.createNic({ tenant: 'acme', network: 'web', node: 'h1' });
  const rep = await startReplica(t, f.address);
  const lc = new LookupClient(await client(t, rep.address));
  let synced = false;
  const sub = lc.subscribe('h9', [100], 0, (e) => { if (e.kind === EventKind.SYNCED) synced = true; });
  await until('SYNCED', () => synced);
  await f.stopListening();
  await until('the replica to notice', () => rep.replica.status === 'disconnected');
  t.same(await lc.vl2(100, before.mac), { underlay: '198.18.0.1', port: 4789, node: 'h1' }, 'answers from its last state meanwhile');
  const later = [];
  for (let i = 0; i < 12; i++) later.push(await f.controller.createNic({ tenant: 'acme', network: 'web', node: 'h1' }));
  await f.controller.deleteNic(before.id);
  await f.listenAgain();
  try {
    await sub.done;
    t.fail('the subscription should end');
  } catch (e) {
    t.ok(isVxfabError(e, 'RESYNC'), 'the subscriber is told to RESYNC');
  }
  await until('the new snapshot', () => rep.replica.snapshots === 2 && rep.replica.index.revision === f.store.revision);
  t.equal(await lc.vl2(100, before.mac), undefined, 'the deleted NIC is gone');
  for (const nic of later) t.same(await lc.vl2(100, nic.mac), { underlay: '198.18.0.1', port: 4789, node: 'h1' });
  t.equal((await lc.status()).mappings, 12);
});
