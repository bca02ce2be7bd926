// The agent in push mode over SimDataPlane, against an in-process controller + lookup service:
// exact tables for remote NICs (FDB, proxy neighbours, flood), moves and removals as they stream.
import t from 'tap';
import { Fabric, eventually, sortedEntries, until } from './fabric.js';

t.test('agent push - programs every remote NIC, its IPs and one flood entry per remote host', async (t) => {
  const f = await Fabric.start(t);
  await f.basic();
  await f.nic('h1', '02:00:00:00:01:01', '100.64.1.11');
  await f.nic('h2', '02:00:00:00:02:01', '100.64.1.21');
  await f.nic('h2', '02:00:00:00:02:02', '100.64.1.22');
  await f.nic('h3', '02:00:00:00:03:01', '100.64.1.31');
  const { agent, dp } = await f.agent('h1', 'push');
  await until(agent, (s) => s.networks[0]?.fdb === 3, 'three remote FDB entries');
  const tables = await dp.read(5001);
  t.same(sortedEntries(tables.fdb), [
    ['02:00:00:00:02:01', '198.18.0.2'], ['02:00:00:00:02:02', '198.18.0.2'], ['02:00:00:00:03:01', '198.18.0.3'],
  ], 'FDB: remote NICs only (no entry for the local one)');
  t.same(sortedEntries(tables.neigh), [
    ['100.64.1.21', '02:00:00:00:02:01'], ['100.64.1.22', '02:00:00:00:02:02'], ['100.64.1.31', '02:00:00:00:03:01'],
  ], 'proxy neighbours for remote IPs');
  t.same([...tables.flood].sort(), ['198.18.0.2', '198.18.0.3'], 'one flood entry per remote host, none for itself');
  const spec = dp.networkSpec(5001)!;
  t.equal(spec.mtu, 1450);
  t.equal(spec.local, '198.18.0.1');
  t.equal(spec.port, 4789);
  t.equal(spec.learningMisses, false, 'push mode: no miss notifications');
  t.equal(agent.status().degraded, false);
});

t.test('agent push - applies additions, moves and removals as they stream in', async (t) => {
  const f = await Fabric.start(t);
  await f.basic();
  await f.nic('h1', '02:00:00:00:01:01', '100.64.1.11');
  const b = await f.nic('h2', '02:00:00:00:02:01', '100.64.1.21');
  const { agent, dp } = await f.agent('h1', 'push');
  await until(agent, (s) => s.networks[0]?.fdb === 1, 'first entry');

  const c = await f.nic('h3', '02:00:00:00:03:01', '100.64.1.31');
  await eventually(() => dp.fdbLookup(5001, '02:00:00:00:03:01') === '198.18.0.3', 'added NIC programmed');
  t.same(dp.floodList(5001).sort(), ['198.18.0.2', '198.18.0.3'], 'flood list grew');

  await f.controller.moveNic(b.id, 'h3');
  await eventually(() => dp.fdbLookup(5001, '02:00:00:00:02:01') === '198.18.0.3', 'moved NIC re-pointed');
  await eventually(() => dp.floodList(5001).length === 1, 'h2 left the flood list');
  t.same(dp.floodList(5001), ['198.18.0.3']);

  await f.controller.deleteNic(c.id);
  await eventually(() => dp.fdbLookup(5001, '02:00:00:00:03:01') === undefined, 'removed NIC gone');
  t.equal(dp.neighLookup(5001, '100.64.1.31'), undefined, 'its proxy entry too');

  // A remote NIC moving onto this host: no FDB entry for it any more (the bridge forwards locally).
  await f.controller.moveNic(b.id, 'h1');
  await eventually(() => dp.fdbLookup(5001, '02:00:00:00:02:01') === undefined, 'NIC now local: no remote entry');
  t.same(dp.floodList(5001), [], 'no other host carries the network');
});

t.test('agent push - network devices follow the local NICs; two tenants with the same subnet stay apart', async (t) => {
  const f = await Fabric.start(t);
  await f.basic(5001, 't1');
  await f.controller.createTenant('t2');
  await f.controller.createNetwork({ tenant: 't2', name: 'n1', vnid: 5002, subnet4: '100.64.1.0/24', mtu: 1400 });
  const { agent, dp } = await f.agent('h1', 'push');
  t.equal(dp.hasNetwork(5001), false, 'no local NIC: no devices');
  const a = await f.nic('h1', '02:00:00:00:01:01', '100.64.1.11', 't1');
  await f.nic('h1', '02:00:00:01:01:01', '100.64.1.11', 't2');
  await f.nic('h2', '02:00:00:00:02:01', '100.64.1.21', 't1');
  await f.nic('h2', '02:00:00:01:02:01', '100.64.1.21', 't2');
  await agent.syncNow();
  await eventually(() => dp.neighLookup(5001, '100.64.1.21') === '02:00:00:00:02:01' && dp.neighLookup(5002, '100.64.1.21') === '02:00:00:01:02:01', 'both tenants programmed');
  t.equal(dp.networkSpec(5002)?.mtu, 1400, 'network MTU');
  t.equal(dp.fdbLookup(5001, '02:00:00:01:02:01'), undefined, 'no tenant-2 MAC in tenant 1');
  await f.controller.deleteNic(a.id);
  await agent.syncNow();
  t.equal(dp.hasNetwork(5001), false, 'last local NIC gone: devices removed');
  t.equal(dp.hasNetwork(5002), true);
});
