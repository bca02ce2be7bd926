import t from 'tap';
import { expandTopology } from '../../src/sim/expand.js';
import { parseTopology } from '../../src/sim/loader.js';
import { TopologyError } from '../../src/sim/yaml-reader.js';

function problems(text: string, expand = false): string[] {
  try {
    const topo = parseTopology(text, 'x.yaml');
    if (expand) expandTopology(topo);
  } catch (e) {
    if (e instanceof TopologyError) return e.problems.map((p) => `${p.line} ${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

const BASE = `name: t
hosts:
  - { name: h1, underlay: 198.18.0.1 }
  - { name: h2, underlay: 198.18.0.2 }
tenants:
  - name: red
    networks:
      - { name: web, subnet: 100.64.0.0/24 }
`;

t.test('sim loader - a valid file loads and expands', async (t) => {
  const plan = expandTopology(parseTopology(BASE + `nics:
  - { name: a, network: red/web, host: h1, ip: 100.64.0.5 }
timeline:
  - move: { nic: a, to: h2 }
  - checkpoint: { name: c, reach: ["a -> a"], isolated: [[a, a]] }
`));
  t.equal(plan.hosts.length, 2);
  t.same(plan.nics, [{ name: 'a', network: 'red/web', host: 'h1', ip: '100.64.0.5' }]);
  t.same(plan.steps.map((s) => s.op), ['move', 'checkpoint']);
  t.equal(plan.steps[0]!.where.line, 12);
});

t.test('sim loader - shape errors name the line and the path', async (t) => {
  const p = problems(`name: t
hosts:
  - { name: h1, underlay: 198.18.0.999 }
  - { name: H2, underlay: 198.18.0.2, colour: red }
tenants:
  - name: red
    networks:
      - { name: web, subnet: 100.64.0.1/24, vnid: many }
timeline:
  - { move: { nic: a }, delete: b }
`);
  t.match(p.join('\n'), /^3 hosts\[0\]\.underlay: .*198\.18\.0\.999/m);
  t.match(p.join('\n'), /^4 hosts\[1\]\.name: .*lowercase/m);
  t.match(p.join('\n'), /^4 hosts\[1\]\.colour: unknown key "colour"/m);
  t.match(p.join('\n'), /^8 tenants\[0\]\.networks\[0\]\.subnet: /m);
  t.match(p.join('\n'), /^8 tenants\[0\]\.networks\[0\]\.vnid: expected a whole number/m);
  t.match(p.join('\n'), /^10 timeline\[0\]: a timeline step is exactly one of/m);
});

t.test('sim loader - YAML syntax errors carry their line', async (t) => {
  const p = problems('name: t\nhosts:\n  - { name: h1, underlay: 198.18.0.1\n');
  t.ok(p.length > 0);
  t.match(p[0], /^\d+ : /);
});

t.test('sim loader - references are checked at expansion, with the declaring line', async (t) => {
  const p = problems(BASE + `nics:
  - { name: a, network: red/db, host: h1 }
  - { name: b, network: red/web, host: h9 }
  - { name: c, network: red/web, host: h1, ip: 100.64.1.5 }
  - { name: d, network: red/web, host: h1 }
timeline:
  - delete: d
  - move: { nic: d, to: h2 }
  - stop-lookup: lookup-2
`, true);
  t.same(p, [
    '10 nics[0]: network "red/db" is not declared',
    '11 nics[1]: host "h9" is not declared',
    '12 nics[2]: ip 100.64.1.5 is outside red/web\'s subnet 100.64.0.0/24',
    '16 timeline[1]: NIC "d" does not exist at this point of the timeline',
    '17 timeline[2]: lookup replica "lookup-2" is not declared (have lookup-1)',
  ]);
});

t.test('sim loader - generators are seeded: same seed same plan, another seed another', async (t) => {
  const text = `name: g
seed: 5
hosts:
  - generate: { count: 10, prefix: n-, underlay: 198.18.0.250 }
tenants:
  - generate: { count: 3, prefix: t, networks: { count: 2, subnet: 100.64.0.0/16 } }
nics:
  - generate: { count: 200, prefix: vm-, hosts-per-network: 4 }
timeline:
  - move-random: { count: 5 }
`;
  const a = expandTopology(parseTopology(text));
  const b = expandTopology(parseTopology(text));
  const c = expandTopology(parseTopology(text), 6);
  t.same(a, b);
  t.not(JSON.stringify(a.nics), JSON.stringify(c.nics));
  t.equal(a.hosts[9]!.underlay, '198.18.1.3', 'consecutive underlays cross the octet');
  t.same(a.networks.map((n) => n.subnet).slice(0, 3), ['100.64.0.0/24', '100.64.1.0/24', '100.64.0.0/24'], 'the same blocks in every tenant');
  const perNet = new Map<string, Set<string>>();
  for (const n of a.nics) perNet.set(n.network, (perNet.get(n.network) ?? new Set()).add(n.host));
  for (const hosts of perNet.values()) t.ok(hosts.size <= 4, 'hosts-per-network holds');
  t.equal(a.steps.filter((s) => s.op === 'move').length, 5);
});

t.test('sim loader - a generator that does not fit is refused', async (t) => {
  const p = problems(`name: g
hosts:
  - { name: h1, underlay: 198.18.0.1 }
tenants:
  - generate: { count: 1, prefix: t, networks: { count: 300, subnet: 100.64.0.0/16 } }
`);
  t.match(p.join('\n'), /5 tenants\[0\]\.generate\.networks\.count: 300 networks of \/24 do not fit in 100\.64\.0\.0\/16/);
});
