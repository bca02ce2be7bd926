// Data-plane benchmark (needs root; everything inside namespaces it creates and removes).
//
// 1. Programming rate: the same FDB + neighbour entries through LinuxDataPlane.apply and through a
//    plain `bridge -batch -` + `ip -batch -` (the baseline: the fastest the tools go), each in a fresh
//    namespace, alternating, median of the rounds. Floor: DataPlane ≥ 0.8× baseline.
// 2. On-demand latency (miss-probe.ts): a prober endpoint behind a veth on the network's bridge sends
//    one UDP datagram to an unknown overlay IP (its ARP request meets the proxy: l3 miss), timed from
//    the send to the return of the write installing the entry, on one clock (CLOCK_MONOTONIC).
//    Two answerers, same prober, same kernel path, same writes (FDB + neighbour entry):
//    - baseline: a responder in the bench installs the entry on the miss event, no lookup — the
//      limit of the kernel + miss monitor + LinuxDataPlane path;
//    - agent (dataplane-agent.ts): the real on-demand Agent — Agent.onMiss → VL3 over the wire to a
//      real lookup service (startServe on 127.0.0.1) → its queue and diff → LinuxDataPlane.apply.
//    Floor: agent p50 < 2 ms. Probes are bounded in count and time.
import { spawn } from 'node:child_process';
import { cpus, release } from 'node:os';
import { pino } from 'pino';
import type { MissEvent } from '../src/dataplane/dataplane.js';
import { LinuxDataPlane } from '../src/dataplane/linux/linux-dataplane.js';
import { vxlanDeviceName } from '../src/dataplane/names.js';
import { Namespaces, netnsUnavailable, underlayHost } from '../test/dataplane/netns.js';
import { agentMissLatency } from './dataplane-agent.js';
import { InstallWatch, ProberEndpoint, measureMisses, pct, type MissSamples } from './miss-probe.js';

export interface DataplaneBenchOptions {
  /** FDB entries + neighbour entries programmed per round (half each). */
  entries?: number;
  rounds?: number;
  probes?: number;
}

export interface DataplaneBenchResult {
  entries: number;
  dataplanePerSec: number;
  baselinePerSec: number;
  ratio: number;
  missP50Ms: number;
  missP99Ms: number;
  handlerP50Ms: number;
  handlerP99Ms: number;
  probes: number;
  lost: number;
  /** The same, answered by the real on-demand agent (lookup over the wire). */
  agentMissP50Ms: number;
  agentMissP99Ms: number;
  agentHandlerP50Ms: number;
  agentHandlerP99Ms: number;
  agentLost: number;
  /** Of that: the agent's VL3 call (request sent → answer decoded). */
  agentVl3P50Ms: number;
  agentVl3P99Ms: number;
  /** agent p50 / baseline p50 (packet sent → entry installed). */
  agentRatio: number;
}

const VNID = 777;
const SPEC = { vnid: VNID, mtu: 1450, local: '198.18.0.1', underlayDev: 'u0', port: 4789 };
const silent = pino({ level: 'silent' });

function endpoints(n: number): Array<{ mac: string; ip: string; dst: string }> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const mac = `02:00:${hex(i >> 24)}:${hex(i >> 16)}:${hex(i >> 8)}:${hex(i)}`;
    out.push({ mac, ip: `100.${64 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}`, dst: `198.18.${1 + ((i >> 8) & 1)}.${1 + (i % 250)}` });
  }
  return out;
}

function hex(n: number): string {
  return (n & 255).toString(16).padStart(2, '0');
}

function batch(tool: 'ip' | 'bridge', ns: string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(tool, ['-n', ns, '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${tool} -batch: ${code} ${err.slice(0, 300)}`))));
    p.stdin.end(text);
  });
}

async function baselineRound(nss: Namespaces, round: number, eps: ReturnType<typeof endpoints>): Promise<number> {
  const ns = await underlayHost(nss, `base${round}`);
  const dev = vxlanDeviceName(VNID);
  try {
    await batch('ip', ns, `link add ${dev} type vxlan id ${VNID} dstport 4789 local 198.18.0.1 dev u0 nolearning proxy\nlink set ${dev} up\n`);
    const fdb = eps.map((e) => `fdb replace ${e.mac} dev ${dev} dst ${e.dst} self permanent\n`).join('');
    const neigh = eps.map((e) => `neigh replace ${e.ip} lladdr ${e.mac} dev ${dev} nud permanent\n`).join('');
    const t0 = performance.now();
    await batch('bridge', ns, fdb);
    await batch('ip', ns, neigh);
    return performance.now() - t0;
  } finally {
    await nss.cleanup();
  }
}

async function dataplaneRound(nss: Namespaces, round: number, eps: ReturnType<typeof endpoints>): Promise<number> {
  const ns = await underlayHost(nss, `dp${round}`);
  const dp = new LinuxDataPlane({ netns: ns, logger: silent });
  try {
    await dp.ensureNetwork({ ...SPEC, learningMisses: false });
    const changes = { fdbSet: eps.map((e) => ({ mac: e.mac, dst: e.dst })), neighSet: eps.map((e) => ({ ip: e.ip, mac: e.mac })) };
    const t0 = performance.now();
    await dp.apply(VNID, changes);
    const ms = performance.now() - t0;
    const got = await dp.read(VNID);
    if (got.fdb.size !== eps.length || got.neigh.size !== eps.length) {
      throw new Error(`programmed ${got.fdb.size} FDB / ${got.neigh.size} neighbour entries, want ${eps.length} each`);
    }
    return ms;
  } finally {
    await dp.close();
    await nss.cleanup();
  }
}

/** The baseline answerer: installs the entry (the same FDB + neighbour pair the agent writes) on
 * each l3 miss, with no lookup — the limit of the kernel + miss monitor + LinuxDataPlane path. */
async function responderMissLatency(nss: Namespaces, probes: number): Promise<MissSamples> {
  const ns = await underlayHost(nss, 'miss');
  const dp = new LinuxDataPlane({ netns: ns, logger: silent });
  let prober: ProberEndpoint | undefined;
  try {
    await dp.ensureNetwork({ ...SPEC, learningMisses: true });
    const watch = new InstallWatch();
    const installing = new Set<string>();
    dp.onMiss((m: MissEvent) => {
      if (m.kind !== 'l3' || m.ip === undefined || installing.has(m.ip)) return;
      const ip = m.ip;
      installing.add(ip);
      watch.missed(ip);
      const mac = `02:00:00:00:${hex(Number(ip.split('.')[2]))}:${hex(Number(ip.split('.')[3]))}`;
      void dp.apply(VNID, { fdbSet: [{ mac, dst: '198.18.0.2' }], neighSet: [{ ip, mac }] }).then(() => watch.installed(ip));
    });
    prober = await ProberEndpoint.attach(nss, ns, 'miss-ep', VNID, '100.64.0.10/16');
    const warm = Array.from({ length: 20 }, (_, i) => `100.64.2.${i + 1}`);
    const ips = Array.from({ length: probes }, (_, i) => `100.64.${3 + Math.floor(i / 250)}.${1 + (i % 250)}`);
    return await measureMisses(prober, watch, warm, ips);
  } finally {
    prober?.stop();
    await dp.close();
    await nss.cleanup();
  }
}

function median(xs: number[]): number {
  return pct(xs, 50);
}

export async function runDataplaneBench(opts: DataplaneBenchOptions = {}): Promise<DataplaneBenchResult | undefined> {
  const entries = opts.entries ?? 20_000;
  const rounds = opts.rounds ?? 3;
  const probes = opts.probes ?? 200;
  const why = await netnsUnavailable();
  if (why !== undefined) {
    console.log(`dataplane bench skipped: ${why}`);
    return undefined;
  }
  const nss = new Namespaces('vxt-dp-bench');
  await nss.cleanStale();
  try {
    const eps = endpoints(entries / 2);
    const base: number[] = [];
    const mine: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate who goes first, so neither always meets a warmer or colder kernel.
      if (r % 2 === 0) {
        base.push(await baselineRound(nss, r, eps));
        mine.push(await dataplaneRound(nss, r, eps));
      } else {
        mine.push(await dataplaneRound(nss, r, eps));
        base.push(await baselineRound(nss, r, eps));
      }
    }
    const baselinePerSec = entries / (median(base) / 1000);
    const dataplanePerSec = entries / (median(mine) / 1000);
    const ratio = dataplanePerSec / baselinePerSec;
    const miss = await responderMissLatency(nss, probes);
    const agent = await agentMissLatency(nss, VNID, SPEC.mtu, probes);

    const res: DataplaneBenchResult = {
      entries,
      dataplanePerSec,
      baselinePerSec,
      ratio,
      missP50Ms: pct(miss.total, 50),
      missP99Ms: pct(miss.total, 99),
      handlerP50Ms: pct(miss.handler, 50),
      handlerP99Ms: pct(miss.handler, 99),
      probes,
      lost: miss.lost,
      agentMissP50Ms: pct(agent.total, 50),
      agentMissP99Ms: pct(agent.total, 99),
      agentHandlerP50Ms: pct(agent.handler, 50),
      agentHandlerP99Ms: pct(agent.handler, 99),
      agentLost: agent.lost,
      agentVl3P50Ms: pct(agent.vl3, 50),
      agentVl3P99Ms: pct(agent.vl3, 99),
      agentRatio: pct(agent.total, 50) / pct(miss.total, 50),
    };
    const f = (n: number): string => Math.round(n).toLocaleString('en-US');
    const ms = (n: number): string => n.toFixed(3).padStart(7);
    const floor = (p50: number): string => `p50<2ms ${p50 < 2 ? 'PASS' : 'FAIL'}`;
    console.log(`\ndataplane bench — ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, linux ${release()}, node ${process.version}`);
    console.log(`programming ${entries.toLocaleString('en-US')} entries (${f(entries / 2)} FDB + ${f(entries / 2)} neighbour), median of ${rounds} rounds`);
    console.log('| what                                  | entries/s | ms (median) | ratio | floor  |');
    console.log('|---------------------------------------|-----------|-------------|-------|--------|');
    console.log(`| baseline: bridge -batch + ip -batch   | ${f(baselinePerSec).padStart(9)} | ${median(base).toFixed(0).padStart(11)} | 1.00× |        |`);
    console.log(`| LinuxDataPlane.apply                  | ${f(dataplanePerSec).padStart(9)} | ${median(mine).toFixed(0).padStart(11)} | ${ratio.toFixed(2)}× | ≥0.80× ${ratio >= 0.8 ? 'PASS' : 'FAIL'} |`);
    console.log(`on-demand: ${probes} probes per row (lost: baseline ${miss.lost}, agent ${agent.lost}), one UDP datagram to an unknown overlay IP → l3 miss → FDB + neighbour entry installed`);
    console.log('| packet sent → entry installed              |  p50 ms |  p99 ms | ratio (p50) | floor        |');
    console.log('|--------------------------------------------|---------|---------|-------------|--------------|');
    console.log(`| baseline: responder installs on the miss   | ${ms(res.missP50Ms)} | ${ms(res.missP99Ms)} |       1.00× | ${floor(res.missP50Ms)} |`);
    console.log(`| agent: miss → VL3 over the wire → install  | ${ms(res.agentMissP50Ms)} | ${ms(res.agentMissP99Ms)} | ${(res.agentRatio.toFixed(2) + '×').padStart(11)} | ${floor(res.agentMissP50Ms)} |`);
    console.log('| miss event received → entry installed      |         |         |             |              |');
    console.log(`| baseline: responder                        | ${ms(res.handlerP50Ms)} | ${ms(res.handlerP99Ms)} |       1.00× |              |`);
    console.log(`| agent                                      | ${ms(res.agentHandlerP50Ms)} | ${ms(res.agentHandlerP99Ms)} | ${((res.agentHandlerP50Ms / res.handlerP50Ms).toFixed(2) + '×').padStart(11)} |              |`);
    console.log(`| ${`of which the agent's VL3 call (${agent.vl3.length} calls)`.padEnd(42)} | ${ms(res.agentVl3P50Ms)} | ${ms(res.agentVl3P99Ms)} |             |              |`);
    return res;
  } finally {
    await nss.cleanup();
  }
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await runDataplaneBench();
}
