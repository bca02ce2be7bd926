import { fileURLToPath } from 'node:url';
import t from 'tap';
import { expandTopology } from '../../src/sim/expand.js';
import { loadTopologyFile, parseTopology } from '../../src/sim/loader.js';
import { runTopology } from '../../src/sim/runner.js';

const topo = (name: string) => fileURLToPath(new URL(`../../../topologies/${name}`, import.meta.url));

t.test('sim run - the small example passes every checkpoint', async (t) => {
  const r = await runTopology(expandTopology(await loadTopologyFile(topo('small.yaml'))));
  t.equal(r.ok, true, JSON.stringify(r.checkpoints.flatMap((c) => c.violations).slice(0, 3)));
  t.equal(r.boot.converged, true);
  t.same(r.checkpoints.map((c) => c.name), ['boot', 'same-subnet-isolated', 'after-move', 'after-delete']);
  t.ok(r.steps.every((s) => s.converged));
  t.ok(r.checkpoints[2]!.messages.lookupEvents > 0, 'the move reached agents as lookup events');
  t.ok(r.checkpoints.every((c) => c.walks > 0));
  t.equal(r.nics, 5);
});

t.test('sim run - the 100-host example with moves, a lookup outage, a cut and an agent restart passes', async (t) => {
  const r = await runTopology(expandTopology(await loadTopologyFile(topo('fabric-100.yaml'))));
  t.equal(r.ok, true, JSON.stringify(r.checkpoints.flatMap((c) => c.violations).slice(0, 3)));
  t.equal(r.hosts, 100);
  t.ok(r.steps.filter((s) => s.op === 'move').length >= 21);
  t.ok(r.steps.every((s) => s.converged), 'every step converged');
  const cut = r.checkpoints.find((c) => c.name === 'host-3-cut')!;
  t.ok(cut.walks > 1000);
});

const SMALL_DELETE = `name: broken
defaults: { settle-timeout-ms: 600 }
hosts:
  - { name: h1, underlay: 198.18.0.1 }
  - { name: h2, underlay: 198.18.0.2 }
  - { name: h3, underlay: 198.18.0.3 }
tenants:
  - name: red
    networks: [{ name: web, subnet: 100.64.0.0/24 }]
nics:
  - { name: a, network: red/web, host: h1, ip: 100.64.0.10 }
  - { name: b, network: red/web, host: h2, ip: 100.64.0.11 }
  - { name: c, network: red/web, host: h3, ip: 100.64.0.12 }
timeline:
  - delete: c
  - checkpoint: after-delete
`;

t.test('sim run - an agent that ignores removals fails the run with the stale entries', async (t) => {
  const plan = expandTopology(parseTopology(SMALL_DELETE));
  const good = await runTopology(plan);
  t.equal(good.ok, true, 'the same topology passes with correct agents');
  const r = await runTopology(plan, { fault: { kind: 'ignore-removals' } });
  t.equal(r.ok, false);
  t.equal(r.checkpoints[0]!.violationCount, 0, 'boot is fine: nothing had to be removed yet');
  const after = r.checkpoints.find((c) => c.name === 'after-delete')!;
  t.ok(after.violationCount > 0);
  const stale = after.violations.filter((v) => v.kind === 'table' && v.entry !== undefined).map((v) => `${v.entry!.host} ${v.entry!.table} ${v.entry!.key} ${v.entry!.have}`);
  t.ok(stale.includes('h1 fdb 02:00:00:00:00:03 198.18.0.3') || stale.some((s) => s.startsWith('h1 fdb ') && s.endsWith(' 198.18.0.3')), `h1 keeps c's FDB entry: ${stale.join('; ')}`);
  t.ok(stale.includes('h1 neigh 100.64.0.12 ' + after.violations.find((v) => v.entry?.key === '100.64.0.12')?.entry?.have), 'and its proxy entry');
  t.ok(stale.some((s) => s.startsWith('h3 network ')), 'h3 keeps a network it no longer carries');
  t.ok(r.steps.some((s) => !s.converged), 'the delete never converged');
});

t.test('sim run - an agent that never installs flood entries fails the broadcast check', async (t) => {
  const plan = expandTopology(parseTopology(SMALL_DELETE));
  const r = await runTopology(plan, { fault: { kind: 'no-flood', hosts: ['h2'] } });
  t.equal(r.ok, false);
  const boot = r.checkpoints[0]!;
  const bcast = boot.violations.filter((v) => v.kind === 'broadcast');
  t.same(bcast.map((v) => `${v.from}->${v.to} ${v.entry?.host} ${v.entry?.table} ${v.entry?.want}`).sort(), [
    'b->a h2 flood 198.18.0.1',
    'b->c h2 flood 198.18.0.3',
  ]);
  t.equal(boot.violations.filter((v) => v.kind === 'reach').length, 0, 'unicast still works: FDB entries are there');
});
