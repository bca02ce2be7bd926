// The agent in on-demand mode over SimDataPlane: a kernel miss is resolved by a lookup and
// installed; entries expire after their TTL; an invalidation (removal) drops them, a move
// re-points them; flood entries come from the flood list.
import t from 'tap';
import { Fabric, eventually, until } from './fabric.js';

t.test('agent on-demand - miss, lookup, entry; flood list programmed without misses', async (t) => {
  const f = await Fabric.start(t);
  await f.basic();
  await f.nic('h1', '02:00:00:00:01:01', '100.64.1.11');
  await f.nic('h2', '02:00:00:00:02:01', '100.64.1.21');
  const { agent, dp } = await f.agent('h1', 'on-demand', { cacheTtlMs: 60_000 });
  await until(agent, (s) => s.networks[0]?.loaded === true, 'flood list loaded');
  t.equal(dp.networkSpec(5001)?.learningMisses, true, 'l2miss/l3miss on');
  t.same(dp.floodList(5001), ['198.18.0.2'], 'flood entry for the other host');
  t.equal(dp.fdbLookup(5001, '02:00:00:00:02:01'), undefined, 'nothing installed before a miss');

  t.equal(dp.resolve(5001, '100.64.1.21'), undefined, 'first ARP: proxy has no answer (l3 miss raised)');
  await eventually(() => dp.neighLookup(5001, '100.64.1.21') === '02:00:00:00:02:01', 'l3 miss resolved');
  t.equal(dp.fdbLookup(5001, '02:00:00:00:02:01'), '198.18.0.2', 'and the FDB entry for its MAC');
  t.equal(dp.resolve(5001, '100.64.1.21'), '02:00:00:00:02:01', 'the next ARP is answered');

  dp.resolve(5001, '100.64.1.99');
  await until(agent, (s) => s.misses.notFound === 1, 'NOT_FOUND counted');
  t.equal(dp.neighLookup(5001, '100.64.1.99'), undefined, 'an unknown IP installs nothing');
  dp.resolve(5001, '100.64.1.11');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(dp.neighLookup(5001, '100.64.1.11'), undefined, 'a local NIC is not installed (the bridge answers)');
  t.equal(agent.status().misses.resolved, 1);
});

t.test('agent on-demand - TTL expiry and invalidations', async (t) => {
  const f = await Fabric.start(t);
  await f.basic();
  await f.nic('h1', '02:00:00:00:01:01', '100.64.1.11');
  const b = await f.nic('h2', '02:00:00:00:02:01', '100.64.1.21');
  const c = await f.nic('h3', '02:00:00:00:03:01', '100.64.1.31');

  const short = await f.agent('h1', 'on-demand', { cacheTtlMs: 300 });
  await until(short.agent, (s) => s.networks[0]?.loaded === true, 'loaded');
  short.dp.resolve(5001, '100.64.1.21');
  await eventually(() => short.dp.neighLookup(5001, '100.64.1.21') !== undefined, 'installed');
  await eventually(() => short.dp.neighLookup(5001, '100.64.1.21') === undefined && short.dp.fdbLookup(5001, '02:00:00:00:02:01') === undefined,
    'expired after the TTL', 3000);
  t.pass('entry installed, then removed after its TTL');
  await short.agent.close();

  const { agent, dp } = await f.agent('h1', 'on-demand', { cacheTtlMs: 60_000, dp: short.dp });
  await until(agent, (s) => s.networks[0]?.loaded === true, 'loaded');
  dp.resolve(5001, '100.64.1.21');
  dp.resolve(5001, '100.64.1.31');
  await eventually(() => dp.neighLookup(5001, '100.64.1.21') !== undefined && dp.neighLookup(5001, '100.64.1.31') !== undefined, 'both installed');

  await f.controller.moveNic(b.id, 'h3');
  await eventually(() => dp.fdbLookup(5001, '02:00:00:00:02:01') === '198.18.0.3', 'a move re-points the cached entry');
  t.equal(dp.neighLookup(5001, '100.64.1.21'), '02:00:00:00:02:01', 'its proxy entry stays');

  await f.controller.deleteNic(c.id);
  await eventually(() => dp.neighLookup(5001, '100.64.1.31') === undefined && dp.fdbLookup(5001, '02:00:00:00:03:01') === undefined,
    'a removal drops the entries');
  t.pass('invalidation dropped the removed endpoint');
});
