// Topology simulator benchmark: `npm run bench -- sim` (or `node --expose-gc dist/bench/sim.js`).
//
// Per size (100, 300, 1,000 hosts; 50 tenants × 4 networks; 20 NICs per host, so 20,000 at 1,000
// hosts; push mode) the real controller, lookup service and one agent per host run in this process
// over loopback TCP: boot (create every object through the API, start the agents, wait until every
// host's tables match the desired state), then 50 random NIC moves, each timed from the MoveNic
// call to the last other host carrying the network pointing the MAC at its new host.
// Baseline, side by side: the same desired tables written straight into fresh SimDataPlanes (no
// controller, no wire, no agents) — the floor of what programming that many entries costs here.
// Targets: 1,000 hosts converged < 30 s; move p99 < 50 ms.
import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SimDataPlane } from '../src/dataplane/sim/sim-dataplane.js';
import { expandTopology } from '../src/sim/expand.js';
import { parseTopology } from '../src/sim/loader.js';
import type { RunReport } from '../src/sim/report.js';
import { runTopology } from '../src/sim/runner.js';
import type { Plan } from '../src/sim/topology.js';

export interface SimBenchOptions {
  sizes?: number[];
  moves?: number;
  print?: (line: string) => void;
}

export interface SimBenchRow {
  hosts: number;
  nics: number;
  bootMs: number;
  converged: boolean;
  moveP50Ms: number;
  moveP99Ms: number;
  rssMiB: number;
  entries: number;
  baselineMs: number;
  baselineMiB: number;
}

/** Moves made before the timed ones, reported in their own checkpoint and not counted: the first
 *  moves run code paths boot never took (the agents' delta flush, the lookup's move events), and
 *  at 1,000 hosts the first move took 45-55 ms of JIT compilation while the next ones took 15-25. */
const WARMUP_MOVES = 5;

function topology(hosts: number, moves: number): Plan {
  return expandTopology(parseTopology(`name: bench-${hosts}
seed: ${hosts}
defaults: { mode: push, settle-timeout-ms: 120000 }
hosts:
  - generate: { count: ${hosts}, prefix: node-, underlay: 198.18.0.1 }
tenants:
  - generate: { count: 50, prefix: t, networks: { count: 4, subnet: 100.64.0.0/16 } }
nics:
  - generate: { count: ${hosts * 20}, prefix: vm- }
timeline:
  - move-random: { count: ${WARMUP_MOVES} }
  - checkpoint: { name: warm }
  - move-random: { count: ${moves} }
  - checkpoint: { name: moved }
`));
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function rssMiB(): number {
  gc();
  return process.memoryUsage().rss / 2 ** 20;
}

/** Live heap and array buffers after a full GC: what the baseline's tables hold (RSS does not go
 *  down after the simulation run before it, so its difference would read nothing). */
function heapMiB(): number {
  gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
}

/** The same push-mode tables written directly: MACs and IPs made up per NIC (the controller's
 * allocations do not matter to the cost). */
async function baseline(plan: Plan): Promise<{ ms: number; mib: number; entries: number }> {
  const before = heapMiB();
  const underlay = new Map(plan.hosts.map((h) => [h.name, h.underlay]));
  const byNet = new Map<string, Array<{ host: string; mac: string; ip: string }>>();
  plan.nics.forEach((n, i) => {
    const mac = `02:00:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
    const list = byNet.get(n.network) ?? [];
    list.push({ host: n.host, mac, ip: `100.64.${(list.length >> 8) & 255}.${list.length & 255}` });
    byNet.set(n.network, list);
  });
  const vnid = new Map(plan.networks.map((n, i) => [n.ref, 1000 + i]));
  const t0 = performance.now();
  const dps = new Map(plan.hosts.map((h) => [h.name, new SimDataPlane()]));
  let entries = 0;
  for (const [ref, members] of byNet) {
    const v = vnid.get(ref)!;
    const carriers = new Set(members.map((m) => m.host));
    for (const host of carriers) {
      const dp = dps.get(host)!;
      await dp.ensureNetwork({ vnid: v, mtu: 1450, local: underlay.get(host)!, port: 4789, learningMisses: false });
      const remote = members.filter((m) => m.host !== host);
      await dp.apply(v, {
        fdbSet: remote.map((m) => ({ mac: m.mac, dst: underlay.get(m.host)! })),
        neighSet: remote.map((m) => ({ ip: m.ip, mac: m.mac })),
        floodAdd: [...carriers].filter((h) => h !== host).map((h) => underlay.get(h)!),
      });
    }
  }
  const ms = performance.now() - t0;
  for (const dp of dps.values()) entries += dp.entryCount();
  const mib = heapMiB() - before;
  dps.clear();
  return { ms, mib, entries };
}

/** One size, in this process: the simulation on a fresh heap, then the direct baseline. */
async function measureSize(hosts: number, moves: number): Promise<SimBenchRow & { violations: number }> {
  const plan = topology(hosts, moves);
  const before = rssMiB();
  const report: RunReport = await runTopology(plan);
  const moved = report.checkpoints.find((c) => c.name === 'moved')!;
  const bootCp = report.checkpoints[0]!;
  gc();
  const base = await baseline(plan);
  return {
    // convergeMs runs from the agents' start (it includes agentsStartMs: adding both counted
    // the agents' start twice).
    hosts, nics: report.nics, bootMs: report.boot.convergeMs, converged: report.boot.converged && report.ok,
    moveP50Ms: moved.moves.propagateP50Ms, moveP99Ms: moved.moves.propagateP99Ms,
    rssMiB: Math.max(bootCp.memory.rssMiB, moved.memory.rssMiB) - before,
    entries: Math.round(bootCp.entriesPerHost.avg * hosts), baselineMs: base.ms, baselineMiB: base.mib,
    violations: report.violationCount,
  };
}

export async function runSimBench(options: SimBenchOptions = {}): Promise<SimBenchRow[]> {
  const print = options.print ?? ((l: string) => process.stdout.write(l + '\n'));
  const sizes = options.sizes ?? [100, 300, 1000];
  const moves = options.moves ?? 50;
  print(`sim bench: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}` +
    `${(globalThis as { gc?: unknown }).gc ? '' : ' (no --expose-gc: memory figures include garbage)'}`);
  const rows: SimBenchRow[] = [];
  for (const hosts of sizes) {
    // Each size in a process of its own, as `vxfab topology run` would be: run one after another
    // in one process, the 1,000-host run inherited the heap and GC state of the smaller ones (one
    // run: p99 101 ms there, 31-33 ms in a fresh process).
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--row', String(hosts), String(moves)],
      { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 20 });
    const last = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !last.startsWith('{')) throw new Error(`sim bench at ${hosts} hosts failed (exit ${r.status}): ${last}`);
    const row = JSON.parse(last) as SimBenchRow & { violations: number };
    if (row.violations > 0) print(`  ${hosts} hosts: ${row.violations} violation(s)!`);
    rows.push(row);
  }
  const head = ['hosts', 'NICs', 'entries', 'boot s', 'ok', 'move p50', 'move p99', 'sim MiB', 'direct s', 'direct MiB', 'boot/direct'];
  const table = rows.map((r) => [String(r.hosts), String(r.nics), String(r.entries), (r.bootMs / 1000).toFixed(1), r.converged ? 'yes' : 'NO',
    `${r.moveP50Ms.toFixed(1)} ms`, `${r.moveP99Ms.toFixed(1)} ms`, r.rssMiB.toFixed(0), (r.baselineMs / 1000).toFixed(2), Math.max(0, r.baselineMiB).toFixed(0),
    `${(r.bootMs / r.baselineMs).toFixed(0)}×`]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  for (const row of [head, ...table]) print(row.map((c, i) => c.padStart(widths[i]!)).join('  '));
  print('boot = agents started until every host matches the desired state (objects created before, not counted);');
  print('move = MoveNic call → last other carrier pointing the MAC at the new host (50 timed moves after 5 untimed);');
  print('sim MiB = RSS growth of the run; direct = the same tables written straight into SimDataPlanes after it (no');
  print('controller, wire or agents; MiB = their live heap). Targets at 1,000 hosts: boot < 30 s, move p99 < 50 ms.');
  return rows;
}

/** V8 flags the simulation process wants: one process holds 1,000 agents' tables (millions of
 * long-lived entries, built while as many short-lived objects come and go), and with V8's default
 * 16 MiB semi-spaces it spends about half its time in scavenges copying them. A larger young
 * generation lets the garbage die before it is copied. Not larger: a scavenge copies what is still
 * alive, and during a move that is the move's own work in flight, so larger semi-spaces made
 * rarer but longer pauses inside the timed moves (at 1,000 hosts, 64 MiB: 15-21 ms each; 32 MiB:
 * 9-13 ms; 16 MiB: ~10 ms but one in nearly every move). V8 reads this only at start. */
export const SIM_NODE_FLAGS = ['--max-semi-space-size=32'];

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (!process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) {
    const r = spawnSync(process.execPath, [...process.execArgv, ...SIM_NODE_FLAGS, ...process.argv.slice(1)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  if (process.argv[2] === '--row') {
    process.stdout.write(JSON.stringify(await measureSize(Number(process.argv[3]), Number(process.argv[4]))) + '\n');
    process.exit(0);
  }
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  await runSimBench(sizes.length > 0 ? { sizes } : {});
}
