// Judges a namespaced fabric at a checkpoint with real packets, and audits the kernel's tables.
//
// The default expectation, as the simulator's checker has it but proven by pings:
// - reach: from one endpoint per (host, network) to every other endpoint of the network (the path
//   depends on the source host's bridge and tables, not on which local endpoint sends);
// - broadcast: the same sender's broadcast ping (255.255.255.255, flooded by head-end replication)
//   must be answered by every other endpoint of the network, and by nothing else;
// - isolation: two seeded random endpoints of other networks per (host, network) must not answer;
// - table audit: every healthy host's tables, read back from its kernel, against the desired state.
// Endpoints on impaired hosts (agent stopped, cut off) are exempt from the default; explicit pairs
// judge them anyway.
//
// "Reaches" means an echo reply came back AND the address resolved to the destination's MAC;
// "must not reach" is violated only when both hold (another tenant's endpoint with the same address
// answering is no leak).
import { SimDataPlane } from '../dataplane/sim/sim-dataplane.js';
import type { Violation } from './checker.js';
import { diffHost, formatDiff } from './desired.js';
import { FabricView, type SimEndpoint, type SimHost } from './fabric.js';
import type { LinuxHostRuntime } from './linux-host.js';
import { boundedAll, broadcastPing, ping, type PingResult } from './pings.js';
import { Prng } from './prng.js';
import type { PairDecl } from './topology.js';

export interface LinuxCheckOptions {
  default: boolean;
  reach: PairDecl[];
  isolated: PairDecl[];
  seed: number;
  /** NIC name → its endpoint namespace. */
  endpointNs: Map<string, string>;
  /** Pings in flight at once. Default 8. */
  concurrency?: number;
}

export interface LinuxCheckResult {
  violations: Violation[];
  violationCount: number;
  /** Ping pairs judged. */
  pings: number;
}

interface Job {
  kind: 'reach' | 'isolation';
  from: SimEndpoint;
  to: SimEndpoint;
  /** The checkpoint line of an explicit pair. */
  line?: number;
}

const REACH_ATTEMPTS = 3;
const ISOLATION_ATTEMPTS = 2;

function describe(r: PingResult, to: SimEndpoint): string {
  const ip = to.ips[0]!;
  if (!r.answered) return `ping ${ip} × ${r.attempts}: no reply${r.mac ? ` (resolved to ${r.mac})` : ', address unresolved'}`;
  return `ping ${ip}: reply, address resolved to ${r.mac || 'nothing'}${r.mac === to.mac ? '' : ` (${to.name}'s MAC is ${to.mac})`}`;
}

export async function checkLinuxFabric(view: FabricView, kernel: FabricView, o: LinuxCheckOptions): Promise<LinuxCheckResult> {
  const result: LinuxCheckResult = { violations: [], violationCount: 0, pings: 0 };
  const report = (v: Violation) => {
    result.violationCount++;
    if (result.violations.length < 1000) result.violations.push(v);
  };
  const jobs: Job[] = [];
  /** One sender per (host, network) and the endpoints its broadcast must reach. */
  const broadcasts: Array<{ from: SimEndpoint; members: SimEndpoint[]; all: SimEndpoint[] }> = [];
  const seen = new Set<string>();
  const add = (j: Job) => {
    const key = `${j.kind} ${j.from.name} ${j.to.name} ${j.line ?? ''}`;
    if (j.from === j.to || j.to.ips.length === 0 || seen.has(key)) return;
    seen.add(key);
    jobs.push(j);
  };
  if (o.default) {
    const rng = new Prng(o.seed);
    const healthy = (e: SimEndpoint) => !view.isImpaired(e.host);
    const all = [...view.byName.values()].filter(healthy);
    for (const [vnid, perHost] of view.byVnidHost) {
      const members = (view.byVnid.get(vnid) ?? []).filter(healthy);
      for (const [srcHost, senders] of perHost) {
        if (view.isImpaired(srcHost)) continue;
        const sender = [...senders].sort((a, b) => a.name.localeCompare(b.name))[0]!;
        for (const to of members) add({ kind: 'reach', from: sender, to });
        if (sender.ips.length > 0) broadcasts.push({ from: sender, members, all: view.byVnid.get(vnid) ?? [] });
        const others = all.filter((e) => e.vnid !== vnid);
        for (let i = 0; i < 2 && others.length > 0; i++) add({ kind: 'isolation', from: sender, to: rng.pick(others) });
      }
    }
  }
  for (const [kind, pairs] of [['reach', o.reach], ['isolation', o.isolated]] as const) {
    for (const pair of pairs) {
      const from = view.byName.get(pair.from);
      const to = view.byName.get(pair.to);
      if (!from || !to) {
        // An absent endpoint is isolated, and reaches nothing.
        if (kind === 'reach') report({ kind, from: pair.from, to: pair.to, message: `line ${pair.where.line}: ${!from ? pair.from : pair.to} does not exist now` });
        continue;
      }
      add({ kind, from, to, line: pair.where.line });
    }
  }

  // Pings of one source to one address run in turn (each flushes and reads the source's neighbour
  // entry for the address); all others at once, up to the concurrency.
  const groups = new Map<string, number[]>();
  jobs.forEach((j, i) => {
    const key = `${j.from.name} ${j.to.ips[0]!}`;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  const results: PingResult[] = new Array<PingResult>(jobs.length);
  await boundedAll([...groups.values()], o.concurrency ?? 8, async (g) => {
    for (const i of g) {
      const j = jobs[i]!;
      results[i] = await ping(o.endpointNs.get(j.from.name)!, j.to.ips[0]!, j.kind === 'reach' ? REACH_ATTEMPTS : ISOLATION_ATTEMPTS);
    }
  });
  result.pings = jobs.length;
  jobs.forEach((j, i) => {
    const r = results[i]!;
    const reached = r.answered && r.mac === j.to.mac;
    const at = j.line === undefined ? '' : `line ${j.line}: `;
    if (j.kind === 'reach' && (!reached || j.from.vnid !== j.to.vnid)) {
      report({
        kind: 'reach', from: j.from.name, to: j.to.name,
        message: `${at}${j.from.name} (${j.from.host}, ${j.from.network}) does not reach ${j.to.name} (${j.to.host}, ${j.to.network})` +
          `${j.from.vnid !== j.to.vnid ? ': they are in different networks' : ''}: ${describe(r, j.to)}`,
      });
    }
    if (j.kind === 'isolation' && reached) {
      report({
        kind: 'isolation', from: j.from.name, to: j.to.name,
        message: `${at}${j.from.name} (${j.from.host}, ${j.from.network}) reaches ${j.to.name} (${j.to.host}, ${j.to.network}): ${describe(r, j.to)}`,
      });
    }
  });

  const heard = await boundedAll(broadcasts, o.concurrency ?? 8, (b) => broadcastPing(o.endpointNs.get(b.from.name)!));
  broadcasts.forEach((b, i) => {
    const from = heard[i]!;
    // Endpoints of the network on impaired hosts need not answer, but may.
    const own = new Set([...b.from.ips, ...b.all.flatMap((e) => e.ips)]);
    const expected = new Set<string>();
    for (const to of b.members) {
      if (to === b.from || to.ips.length === 0) continue;
      result.pings++;
      expected.add(to.ips[0]!);
      if (!from.has(to.ips[0]!)) {
        report({
          kind: 'broadcast', from: b.from.name, to: to.name,
          message: `broadcast ping from ${b.from.name} (${b.from.host}) in ${b.from.network} gets no reply from ${to.name} (${to.host}, ${to.ips[0]})`,
        });
      }
    }
    for (const ip of from) {
      if (expected.has(ip) || own.has(ip)) continue;
      report({
        kind: 'isolation', from: b.from.name,
        message: `broadcast ping from ${b.from.name} (${b.from.host}) in ${b.from.network} is answered by ${ip}, which is no endpoint of ${b.from.network}`,
      });
    }
  });

  for (const host of kernel.hosts.values()) {
    if (host.impaired !== undefined) continue;
    for (const d of diffHost(kernel, host.name, 20)) report({ kind: 'table', entry: d, message: `kernel table: ${formatDiff(d)}` });
  }
  return result;
}

/** The fabric as the kernels have it: every host's networks and entries read back (`ip`/`bridge`
 * JSON) into an in-memory copy, for the table audit. */
export async function readKernels(hosts: Iterable<LinuxHostRuntime>, endpoints: SimEndpoint[]): Promise<FabricView> {
  const copies = new Map<string, SimHost>();
  for (const h of hosts) {
    const dp = new SimDataPlane();
    for (const n of await h.kernel.listNetworks()) {
      await dp.ensureNetwork({
        vnid: n.vnid, mtu: n.mtu, local: n.local || h.underlay, port: n.port, learningMisses: n.learningMisses,
        ...(n.underlayDev ? { underlayDev: n.underlayDev } : {}),
      });
      const t = await h.kernel.read(n.vnid);
      await dp.apply(n.vnid, {
        fdbSet: [...t.fdb].map(([mac, dst]) => ({ mac, dst })), floodAdd: [...t.flood],
        neighSet: [...t.neigh].map(([ip, mac]) => ({ ip, mac })),
      });
    }
    copies.set(h.name, { name: h.name, underlay: h.underlay, mode: h.mode, dp, ...(h.impaired !== undefined ? { impaired: h.impaired } : {}) });
  }
  return new FabricView(copies, endpoints);
}
