// Lookup failover, degraded mode, reconcile and restart, over SimDataPlane.
import t from 'tap';
import type { SimWrite } from '../../src/dataplane/sim/sim-dataplane.js';
import { Fabric, eventually, sortedEntries, until } from './fabric.js';

t.test('agent link - fails over between lookup servers; degraded keeps entries; resyncs when one is back', async (t) => {
  const f = await Fabric.start(t);
  await f.basic();
  await f.nic('h1', '02:00:00:00:01:01', '100.64.1.11');
  await f.nic('h2', '02:00:00:00:02:01', '100.64.1.21');
  const l1 = await f.lookupServer();
  const l2 = await f.lookupServer();
  const { agent, dp } = await f.agent('h1', 'push', { lookups: [l1.address, l2.address] });
  await until(agent, (s) => s.lookup.state === 'connected' && s.entries.fdb === 1, 'connected and programmed');
  t.equal(agent.status().lookup.address, l1.address, 'first server first');

  await l1.stop();
  await until(agent, (s) => s.lookup.state === 'connected' && s.lookup.address === l2.address, 'failed over to the second server');
  t.equal(agent.status().degraded, false, 'one server left: not degraded');
  await f.nic('h3', '02:00:00:00:03:01', '100.64.1.31');
  await eventually(() => dp.fdbLookup(5001, '02:00:00:00:03:01') === '198.18.0.3', 'events flow from the second server');

  await l2.stop();
  await until(agent, (s) => s.degraded, 'degraded with no server');
  const kept = await dp.read(5001);
  t.same(sortedEntries(kept.fdb), [['02:00:00:00:02:01', '198.18.0.2'], ['02:00:00:00:03:01', '198.18.0.3']], 'every programmed entry kept');
  const d = await f.nic('h2', '02:00:00:00:02:02', '100.64.1.22');
  await l1.start();
  await until(agent, (s) => !s.degraded && s.lookup.state === 'connected', 'back', 8000);
  await eventually(() => dp.fdbLookup(5001, d.mac) === '198.18.0.2', 'what changed during the outage is loaded on resync');
  t.pass('resynced after the outage');
});

t.test('agent reconcile - removes stale entries and leaves live ones untouched; a restart changes nothing', async (t) => {
  const f = await Fabric.start(t);
  await f.basic();
  await f.nic('h1', '02:00:00:00:01:01', '100.64.1.11');
  await f.nic('h2', '02:00:00:00:02:01', '100.64.1.21');
  await f.nic('h3', '02:00:00:00:03:01', '100.64.1.31');
  const first = await f.agent('h1', 'push');
  const dp = first.dp;
  await until(first.agent, (s) => s.entries.fdb === 2 && s.entries.flood === 2, 'programmed');
  const programmed = await dp.read(5001);

  // Drift: a stale entry, a wrong one and a missing one, behind the agent's back.
  await dp.apply(5001, { fdbSet: [{ mac: '02:de:ad:00:00:01', dst: '198.18.0.9' }, { mac: '02:00:00:00:03:01', dst: '198.18.0.9' }], neighDel: ['100.64.1.21'] });
  const writes: SimWrite[] = [];
  dp.observeWrites((w) => writes.push(w));
  const report = await first.agent.reconcile();
  t.match(report, { fdbSet: 1, fdbDel: 1, neighSet: 1, neighDel: 0, floodAdd: 0, floodDel: 0 }, 'the diff, and only it');
  t.same(writes.map((w) => `${w.table} ${w.op} ${w.key}`).sort(), [
    'fdb del 02:de:ad:00:00:01', 'fdb set 02:00:00:00:03:01', 'neigh set 100.64.1.21',
  ], 'no write touched a live entry');
  t.same(await dp.read(5001), programmed, 'tables are as programmed again');

  // Restart: a new agent on the same tables writes nothing.
  await first.agent.close();
  writes.length = 0;
  const second = await f.agent('h1', 'push', { dp });
  await until(second.agent, (s) => s.networks[0]?.loaded === true, 'second agent loaded');
  await second.agent.reconcile();
  await new Promise((r) => setTimeout(r, 200));
  t.same(writes, [], 'a second agent instance on the same tables changes nothing');
  t.same(await dp.read(5001), programmed);
  dp.observeWrites(undefined);
});

t.test('agent reconcile - stray networks of ours without local NICs go after a good poll', async (t) => {
  const f = await Fabric.start(t);
  await f.basic();
  await f.nic('h1', '02:00:00:00:01:01', '100.64.1.11');
  const { SimDataPlane } = await import('../../src/dataplane/sim/sim-dataplane.js');
  const dp = new SimDataPlane();
  await dp.ensureNetwork({ vnid: 7777, mtu: 1450, local: '198.18.0.1', port: 4789, learningMisses: false });
  const { agent } = await f.agent('h1', 'push', { dp });
  await agent.syncNow();
  t.equal(dp.hasNetwork(7777), false, 'leftover network removed');
  t.equal(dp.hasNetwork(5001), true, 'the live one stays');
});
