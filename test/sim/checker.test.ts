import t from 'tap';
import { SimDataPlane } from '../../src/dataplane/sim/sim-dataplane.js';
import { checkFabric } from '../../src/sim/checker.js';
import { diffHost } from '../../src/sim/desired.js';
import { FabricView, type SimEndpoint, type SimHost } from '../../src/sim/fabric.js';

// Three hosts; red/web (vnid 100) and blue/web (vnid 200) use the same subnet.
const U = { h1: '198.18.0.1', h2: '198.18.0.2', h3: '198.18.0.3' } as const;
const EPS: SimEndpoint[] = [
  { name: 'ra', network: 'red/web', vnid: 100, host: 'h1', mac: '02:00:00:00:01:01', ips: ['100.64.0.10'] },
  { name: 'rb', network: 'red/web', vnid: 100, host: 'h2', mac: '02:00:00:00:01:02', ips: ['100.64.0.11'] },
  { name: 'rc', network: 'red/web', vnid: 100, host: 'h3', mac: '02:00:00:00:01:03', ips: ['100.64.0.12'] },
  { name: 'ba', network: 'blue/web', vnid: 200, host: 'h1', mac: '02:00:00:00:02:01', ips: ['100.64.0.10'] },
  { name: 'bb', network: 'blue/web', vnid: 200, host: 'h2', mac: '02:00:00:00:02:02', ips: ['100.64.0.11'] },
];

/** Programs every host exactly as a correct push-mode agent would. */
async function correctFabric(): Promise<{ hosts: Map<string, SimHost>; view: () => FabricView }> {
  const hosts = new Map<string, SimHost>();
  for (const [name, underlay] of Object.entries(U)) hosts.set(name, { name, underlay, mode: 'push', dp: new SimDataPlane() });
  for (const h of hosts.values()) {
    for (const vnid of new Set(EPS.filter((e) => e.host === h.name).map((e) => e.vnid))) {
      await h.dp.ensureNetwork({ vnid, mtu: 1450, local: h.underlay, port: 4789, learningMisses: false });
      const remote = EPS.filter((e) => e.vnid === vnid && e.host !== h.name);
      await h.dp.apply(vnid, {
        fdbSet: remote.map((e) => ({ mac: e.mac, dst: U[e.host as keyof typeof U] })),
        neighSet: remote.map((e) => ({ ip: e.ips[0]!, mac: e.mac })),
        floodAdd: [...new Set(remote.map((e) => U[e.host as keyof typeof U]))],
      });
    }
  }
  return { hosts, view: () => new FabricView(hosts, EPS) };
}

const kinds = (r: ReturnType<typeof checkFabric>) => r.violations.map((v) => v.kind).sort();

t.test('sim checker - a correctly programmed fabric has no violations', async (t) => {
  const { view } = await correctFabric();
  const r = checkFabric(view(), { default: true, reach: [{ from: 'ra', to: 'rc', where: { path: '', line: 1 } }],
    isolated: [{ from: 'ra', to: 'bb', where: { path: '', line: 2 } }, { from: 'ba', to: 'rb', where: { path: '', line: 3 } }] });
  t.same(r.violations, []);
  t.ok(r.walks >= 3 * 2 + 2 * 1, `walked ${r.walks} pairs`);
  for (const h of ['h1', 'h2', 'h3']) t.same(diffHost(view(), h), [], `${h} converged`);
});

t.test('sim checker - an FDB entry pointing at the old host names the pair and the entry', async (t) => {
  const { hosts, view } = await correctFabric();
  await hosts.get('h1')!.dp.apply(100, { fdbSet: [{ mac: '02:00:00:00:01:03', dst: U.h2 }] });
  const r = checkFabric(view(), { default: true });
  const reach = r.violations.filter((v) => v.kind === 'reach');
  t.equal(reach.length, 1);
  t.match(reach[0], { from: 'ra', to: 'rc', entry: { host: 'h1', vnid: 100, table: 'fdb', key: '02:00:00:00:01:03', have: U.h2, want: U.h3 } });
  t.match(reach[0]!.message, /ra \(h1\) does not reach rc \(h3\)/);
  t.ok(r.violations.some((v) => v.kind === 'table' && v.entry?.table === 'fdb'), 'audit reports it too');
});

t.test('sim checker - a missing proxy entry and a wrong one are the fault', async (t) => {
  const { hosts, view } = await correctFabric();
  await hosts.get('h2')!.dp.apply(100, { neighDel: ['100.64.0.10'], neighSet: [{ ip: '100.64.0.12', mac: '02:00:00:00:01:01' }] });
  const r = checkFabric(view(), { default: true, audit: false });
  const faults = r.violations.map((v) => `${v.from}->${v.to} ${v.entry?.table} ${v.entry?.key} have=${v.entry?.have}`).sort();
  t.same(faults, ['rb->ra neigh 100.64.0.10 have=', 'rb->rc neigh 100.64.0.12 have=02:00:00:00:01:01']);
});

t.test('sim checker - no flood entries fail the broadcast check', async (t) => {
  const { hosts, view } = await correctFabric();
  await hosts.get('h3')!.dp.apply(100, { floodDel: [U.h1, U.h2] });
  const r = checkFabric(view(), { default: true, audit: false });
  t.same(kinds(r), ['broadcast', 'broadcast']);
  t.match(r.violations[0], { from: 'rc', entry: { host: 'h3', table: 'flood', want: U.h1 } });
});

t.test('sim checker - a removal that was ignored is a stale entry in the audit', async (t) => {
  const { view } = await correctFabric();
  // rb is deleted from the controller, but nobody removed its entries.
  const eps = EPS.filter((e) => e.name !== 'rb');
  const v = new FabricView(view().hosts, eps);
  const r = checkFabric(v, { default: true });
  t.ok(r.violations.length > 0);
  t.ok(r.violations.every((x) => x.kind === 'table'), 'still reachable: only the audit sees it');
  const keys = r.violations.map((x) => `${x.entry!.host} ${x.entry!.table} ${x.entry!.key}`).sort();
  t.ok(keys.includes('h1 fdb 02:00:00:00:01:02'));
  t.ok(keys.includes('h1 neigh 100.64.0.11'));
  t.ok(keys.includes('h2 network 100'), 'h2 no longer carries red/web');
});

t.test('sim checker - an entry leaked from another network breaks isolation', async (t) => {
  const { hosts, view } = await correctFabric();
  // h1's red table answers for blue's bb and forwards its MAC to h2, where blue/web lives.
  await hosts.get('h1')!.dp.apply(100, { fdbSet: [{ mac: '02:00:00:00:02:02', dst: U.h2 }] });
  const r = checkFabric(view(), { default: false, audit: false, isolated: [{ from: 'ra', to: 'bb', where: { path: '', line: 7 } }] });
  t.same(r.violations, [], 'VXLAN keeps the frame in vnid 100: h2 hands it to red\'s bridge only');
  const audit = checkFabric(view(), { default: true });
  t.ok(audit.violations.some((v) => v.kind === 'table' && v.entry?.key === '02:00:00:00:02:02'), 'the leaked entry is reported');
});

t.test('sim checker - a frame in the wrong bridge crosses networks and is caught', async (t) => {
  const { view } = await correctFabric();
  // A (broken) view in which bb sits in vnid 100: simulates an agent plugging it into red's bridge.
  const eps = EPS.map((e) => (e.name === 'bb' ? { ...e, vnid: 100 } : e));
  const r = checkFabric(new FabricView(view().hosts, eps), { default: false, audit: false, isolated: [{ from: 'ra', to: 'bb', where: { path: '', line: 9 } }] });
  t.equal(r.violations.length, 1);
  t.match(r.violations[0]!.message, /line 9: ra \(red\/web\) reaches bb/);
});

t.test('sim checker - impaired hosts are exempt from the default but not from named pairs', async (t) => {
  const { hosts, view } = await correctFabric();
  await hosts.get('h3')!.dp.removeNetwork(100);
  hosts.get('h3')!.impaired = 'agent stopped';
  t.same(checkFabric(view(), { default: true }).violations, []);
  const r = checkFabric(view(), { default: false, reach: [{ from: 'ra', to: 'rc', where: { path: '', line: 4 } }] });
  t.equal(r.violations.length, 1);
  t.match(r.violations[0], { kind: 'reach', entry: { host: 'h3', table: 'network' } });
});
