// Property: a push-mode network flushed through the delta path (only the keys events touched)
// writes exactly what the full path (rebuild every desired table and diff it) writes, step by
// step, whatever the sequence of loads, additions, moves, removals and flood changes — including
// addresses shared by several endpoints, endpoints moving onto and off this host, non-canonical
// IPv6 spellings and values the diff rejects.
import t from 'tap';
import fc from 'fast-check';
import { flushNetwork } from '../../src/agent/flush.js';
import { NetState } from '../../src/agent/net-state.js';
import type { EndpointLocation, FloodTarget } from '../../src/agent/ports.js';
import type { TableChanges } from '../../src/dataplane/dataplane.js';
import { SimDataPlane } from '../../src/dataplane/sim/sim-dataplane.js';

const VNID = 7001;
const SELF = 'h0';
const NODES = ['h0', 'h1', 'h2', 'h3'];
const UNDERLAY: Record<string, string> = { h0: '198.18.0.1', h1: '198.18.0.2', h2: '198.18.0.3', h3: '198.18.0.4' };
const MACS = ['02:00:00:00:00:01', '02:00:00:00:00:02', '02:00:00:00:00:0A', '02:00:00:00:00:0b', '03:00:00:00:00:01', 'nonsense'];
const IPS = ['100.64.0.1', '100.64.0.2', '100.64.0.3', '2001:db8::1', '2001:DB8:0::1', '2001:db8::2', 'bogus'];

type Op =
  | { kind: 'load'; endpoints: EndpointLocation[] }
  | { kind: 'added' | 'moved'; endpoint: EndpointLocation }
  | { kind: 'removed'; mac: string; nicId: string }
  | { kind: 'flood'; members: FloodTarget[] };

// Mostly valid values; the rare bad ones (a multicast MAC, a bad address or underlay) must make
// both paths fail at the same steps.
const macArb = fc.oneof({ weight: 60, arbitrary: fc.constantFrom(...MACS.slice(0, 4)) }, { weight: 1, arbitrary: fc.constantFrom(...MACS.slice(4)) });
const ipArb = fc.oneof({ weight: 60, arbitrary: fc.constantFrom(...IPS.slice(0, 6)) }, { weight: 1, arbitrary: fc.constant(IPS[6]!) });
const nodeArb = fc.constantFrom(...NODES);
const underlayArb = (node: string) => fc.oneof({ weight: 60, arbitrary: fc.constant(UNDERLAY[node]!) }, { weight: 1, arbitrary: fc.constantFrom('2001:db8::ff', 'bad') });
const endpointArb: fc.Arbitrary<EndpointLocation> = fc.record({
  mac: macArb, ips: fc.array(ipArb, { maxLength: 3 }), node: nodeArb, nicId: fc.constantFrom('n1', 'n2', 'n3'),
}).chain((e) => underlayArb(e.node).map((underlay) => ({ ...e, underlay, port: 4789 })));
const floodArb: fc.Arbitrary<FloodTarget[]> = fc.subarray(NODES).chain((nodes) =>
  fc.tuple(...nodes.map((n) => underlayArb(n).map((underlay) => ({ node: n, underlay, port: 4789 })))));
const loadArb = fc.array(endpointArb, { maxLength: 6 }).map((endpoints): Op => ({ kind: 'load', endpoints }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: loadArb },
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom('added' as const, 'moved' as const), endpointArb).map(([kind, endpoint]): Op => ({ kind, endpoint })) },
  { weight: 3, arbitrary: fc.record({ mac: macArb, nicId: fc.constantFrom('n1', 'n2', '') }).map((r): Op => ({ kind: 'removed', ...r })) },
  { weight: 2, arbitrary: floodArb.map((members): Op => ({ kind: 'flood', members })) },
);

/** One network as the agent holds it, over its own data plane. */
class Side {
  readonly net = new NetState(VNID, 't', 'n', 1450, SELF);
  readonly dp = new SimDataPlane();
  /** Writes that went through the delta path. */
  deltaWrites = 0;
  constructor(readonly full: boolean) {
    const plan = this.net.plan.bind(this.net);
    this.net.plan = (mode, forceFull) => {
      const p = plan(mode, forceFull);
      if (p !== undefined && !p.full && Object.keys(p.changes).length > 0) this.deltaWrites++;
      return p;
    };
  }

  async start(): Promise<void> {
    await this.dp.ensureNetwork({ vnid: VNID, mtu: 1450, local: UNDERLAY[SELF]!, port: 4789, learningMisses: false });
  }

  apply(op: Op): void {
    // Each side gets its own copies, as each agent decodes its own.
    const copy = (e: EndpointLocation): EndpointLocation => ({ ...e, ips: [...e.ips] });
    if (op.kind === 'load') this.net.loadEndpoints(op.endpoints.map(copy), 1);
    else if (op.kind === 'flood') this.net.flood = op.members.map((m) => ({ ...m }));
    else if (op.kind === 'removed') this.net.applyEndpointEvent('removed', { mac: op.mac, ips: [], underlay: '', port: 0, node: '', nicId: op.nicId });
    else this.net.applyEndpointEvent(op.kind, copy(op.endpoint));
  }

  /** What the agent's flush does with one network: written changes, or the error's code. */
  async flush(): Promise<TableChanges | string | undefined> {
    if (!this.net.loaded) return undefined;
    try {
      return await flushNetwork(this.net, this.dp, 'push', (c) => this.dp.apply(VNID, c), this.full);
    } catch (e) {
      this.net.mirror = undefined;
      return (e as { code?: string }).code ?? String(e);
    }
  }
}

t.test('agent delta flush - property: same writes and tables as the full diff, step by step', async (t) => {
  let runs = 0;
  let deltaWrites = 0;
  let failures = 0;
  await fc.assert(
    fc.asyncProperty(loadArb, fc.array(opArb, { maxLength: 60 }), fc.array(fc.boolean(), { maxLength: 60 }), async (load, rest, batch) => {
      runs++;
      const ops = [load, ...rest];
      const full = new Side(true);
      const delta = new Side(false);
      await full.start();
      await delta.start();
      for (let i = 0; i < ops.length; i++) {
        full.apply(ops[i]!);
        delta.apply(ops[i]!);
        // Sometimes several events land before one flush (the agent coalesces a burst).
        if (batch[i] === true && i < ops.length - 1) continue;
        const a = await full.flush();
        const b = await delta.flush();
        if (typeof a === 'string') failures++;
        if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`step ${i} (${JSON.stringify(ops[i])}): full wrote ${JSON.stringify(a)}, delta ${JSON.stringify(b)}`);
        const ta = await full.dp.read(VNID);
        const tb = await delta.dp.read(VNID);
        const same = JSON.stringify([[...ta.fdb].sort(), [...ta.flood].sort(), [...ta.neigh].sort()]) ===
          JSON.stringify([[...tb.fdb].sort(), [...tb.flood].sort(), [...tb.neigh].sort()]);
        if (!same) throw new Error(`step ${i}: tables differ`);
        // Where the delta side's mirror is set, it is what its kernel holds.
        const m = delta.net.mirror;
        if (m !== undefined && JSON.stringify([[...m.fdb].sort(), [...m.flood].sort(), [...m.neigh].sort()]) !==
          JSON.stringify([[...tb.fdb].sort(), [...tb.flood].sort(), [...tb.neigh].sort()])) throw new Error(`step ${i}: delta mirror differs from its kernel`);
      }
      deltaWrites += delta.deltaWrites;
    }),
    { numRuns: 1000 },
  );
  t.equal(runs, 1000, 'every generated sequence was checked');
  t.ok(deltaWrites > 1000, `the delta path wrote (${deltaWrites} times), so the comparison is not vacuous`);
  t.ok(failures > 10, `flushes rejected an invalid entry on both sides alike (${failures} times)`);
});

t.test('agent delta flush - an event flushes through the delta path and updates the mirror in place', async (t) => {
  const s = new Side(false);
  await s.start();
  const ep = (mac: string, node: string, ip: string): EndpointLocation => ({ mac, ips: [ip], node, underlay: UNDERLAY[node]!, port: 4789, nicId: mac });
  s.net.loadEndpoints([ep('02:00:00:00:00:01', 'h1', '100.64.0.1'), ep('02:00:00:00:00:02', 'h2', '100.64.0.2')], 1);
  s.net.flood = [{ node: 'h1', underlay: UNDERLAY.h1!, port: 4789 }, { node: 'h2', underlay: UNDERLAY.h2!, port: 4789 }];
  await s.flush();
  const mirror = s.net.mirror;
  s.net.applyEndpointEvent('moved', ep('02:00:00:00:00:01', 'h3', '100.64.0.1'));
  const plan = s.net.plan('push');
  t.equal(plan?.full, false, 'an endpoint event takes the delta path');
  t.same(plan?.changes, { fdbSet: [{ mac: '02:00:00:00:00:01', dst: UNDERLAY.h3 }] }, 'only the moved MAC is written (its address still points at it)');
  await s.dp.apply(VNID, plan!.changes);
  plan!.commit();
  t.equal(s.net.mirror, mirror, 'the mirror is updated in place, not rebuilt');
  t.equal(s.net.mirror?.fdb.get('02:00:00:00:00:01'), UNDERLAY.h3);
  t.equal(s.net.plan('push'), undefined, 'nothing dirty: nothing to do');
});
