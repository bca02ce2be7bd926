// topologies/failover-40.yaml through the simulator: 40 hosts in both modes, three lookup servers,
// NICs moving and flood lists changing while hosts are cut off from every lookup server and while
// replicas are down. Every checkpoint must hold once the hosts are back — a host that kept an entry
// from before its reconnect fails the table audit (stale) and the reach walks.
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { expandTopology } from '../../src/sim/expand.js';
import { loadTopologyFile } from '../../src/sim/loader.js';
import { runTopology } from '../../src/sim/runner.js';

const topo = (name: string) => fileURLToPath(new URL(`../../../topologies/${name}`, import.meta.url));

t.test('sim run - failover-40: moves during cuts and replica outages, mixed modes, all right after healing', async (t) => {
  const plan = expandTopology(await loadTopologyFile(topo('failover-40.yaml')));
  t.equal(plan.hosts.filter((h) => h.mode === 'on-demand').length, 20, 'half the hosts on-demand');
  const r = await runTopology(plan);
  t.equal(r.ok, true, JSON.stringify(r.checkpoints.flatMap((c) => c.violations).slice(0, 3)));
  t.same(r.checkpoints.map((c) => c.name), ['boot', 'warm', 'healed', 'replicas-back']);
  t.ok(r.steps.every((s) => s.converged), `every step converged: ${r.steps.filter((s) => !s.converged).map((s) => s.what).join('; ')}`);
  t.ok(r.steps.filter((s) => s.op === 'move').length >= 14, 'the moves ran');
  t.ok(r.checkpoints.every((c) => c.walks > 0));
});
