// Lookup service benchmark: VL2 lookups over the real wire against a lookup server holding a
// million mappings, side by side with two baselines in the same run, from ONE client process:
//   echo  — a minimal Node TCP echo of frames of the same size, same number in flight, one socket
//           write per received chunk (as the vxfab transport batches): the ceiling for Node here;
//   redis — redis-server (loopback, ephemeral port) answering HGET vl2:<vnid> <mac> through
//           ioredis with auto-pipelining, the same number in flight.
// Then: a rate-limited pass at half vxfab's peak (its p99, over 10 s: the tail comes from rare
// events, this machine's core stalls every ~500 ms and vxfab serve's scavenge every second or
// so, and the p99 of a 3 s pass, which saw a handful of them, swung by ±1 ms from run to run),
// memory per mapping (index heap vs Redis used_memory), and NIC moves fanned out to 1,000
// Subscribe streams (one connection each, held by a process of their own,
// lookup-subscribers.ts), from the controller's commit to the last delivery, 200 moves (after 20
// untimed ones) so that the p99 is not simply the slowest.
//
// Run: npm run build && node dist/bench/lookup.js [seconds-per-case] [nics]
// Needs redis-server (Debian package redis-server) on PATH.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { encodeFrame } from '../src/wire/frame-encoder.js';
import { vxfab } from '../src/wire/gen/proto.js';
import { Controller, Lookup } from '../src/wire/gen/services.js';
import { RpcClient } from '../src/wire/transport/client.js';
import type { ClientTlsOptions } from '../src/wire/transport/tls.js';
import { readCredentials } from '../src/security/credentials.js';
import { EventKind } from '../src/lookup/types.js';
import { benchFabric } from './lookup-fabric.js';
import { ECHO_FLUSH_BYTES } from './lookup-echo.js';

export interface LookupBenchOptions {
  seconds?: number;
  /** Length of each half-peak (open-loop) pass; default 10 s. */
  halfPeakSeconds?: number;
  nics?: number;
  nodes?: number;
  vnids?: number;
  subscribers?: number;
  moves?: number;
  print?: (line: string) => void;
}

const KEY_POOL = 1 << 16;
/** Fan-out moves made and not timed before the timed ones. */
const FANOUT_WARMUP_MOVES = 20;
/** V8 flags for this process, the load generator (it re-runs itself with them): a 64 MiB young
 *  generation makes its own scavenges a quarter as frequent (measured: 130 → 30-40 per 3 s
 *  pass), so its pauses stop being the tail it measures. The servers run with defaults. */
export const LOOKUP_BENCH_NODE_FLAGS = ['--max-semi-space-size=64'];
const now = (): number => performance.now();
const epochMs = (): number => performance.timeOrigin + performance.now();
const silent = pino({ level: 'silent' });

/** Starts `node script args` and returns it with a reader of its stdout lines. `stop` closes its
 *  stdin (the bench's own children exit then) or sends `signal` (the vxfab CLI stops on SIGTERM). */
function startNode(script: string, args: string[], nodeArgs: string[] = []): { child: ChildProcess; onLine: (fn: (line: string) => void) => void; stop: (signal?: NodeJS.Signals) => Promise<void> } {
  const child = spawn(process.execPath, [...nodeArgs, fileURLToPath(new URL(script, import.meta.url)), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const listeners: ((line: string) => void)[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      for (const l of listeners) l(line);
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    onLine: (fn) => listeners.push(fn),
    stop: async (signal?: NodeJS.Signals) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (signal) child.kill(signal);
      else child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

function firstLine(c: ReturnType<typeof startNode>, match: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${match} within ${timeoutMs} ms`)), timeoutMs);
    c.onLine((line) => {
      const m = match.exec(line);
      if (m) { clearTimeout(timer); resolve(m); }
    });
    c.child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`child exited with ${code}`)); });
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** GC pauses of one process, by epoch ms: to say how much of a tail they explain. */
class Pauses {
  private list: { start: number; ms: number }[] = [];
  add(start: number, ms: number): void {
    this.list.push({ start, ms });
  }
  /** Takes a "gc START DURATION KIND" line of a process preloaded with gc-lines.js. */
  parse(line: string): void {
    const g = /^gc ([\d.]+) ([\d.]+) /.exec(line);
    if (g) this.add(Number(g[1]), Number(g[2]));
  }
  /** The pauses that overlap [from, to] (epoch ms). */
  within(from: number, to: number): { count: number; total: number; max: number } {
    const hit = this.list.filter((p) => p.start < to && p.start + p.ms > from);
    return { count: hit.length, total: hit.reduce((a, p) => a + p.ms, 0), max: Math.max(0, ...hit.map((p) => p.ms)) };
  }
  static describe(p: { count: number; total: number; max: number }): string {
    return p.count === 0 ? 'none' : `${p.count} (${p.total.toFixed(1)} ms in all, longest ${p.max.toFixed(1)} ms)`;
  }
}

/** A vxfab process answering lookups. */
interface Target {
  name: string;
  port: number;
  gc: Pauses;
  vl2?: (i: number) => Promise<unknown>;
  /** The same call through the client's promise-free callback(): what the open loop uses. */
  vl2Callback?: (i: number, done: () => void) => void;
  /** Mutual TLS to this target (admin credentials); its subscribers' fan-out is not measured. */
  tls?: ClientTlsOptions;
}

interface FanOut { p50: number; p99: number; max: number; slowest: { from: number; to: number }; subscriberGc: Pauses }

/** Latency samples (ms) of one case. */
class Samples {
  // Touched here, before anything is timed: the first write to each fresh page of a new array is
  // a page fault, and taken inside a measured window those faults were a stall of their own.
  private data: Float64Array;
  constructor(expected = 1 << 20) {
    this.data = new Float64Array(expected).fill(1);
  }
  n = 0;
  add(v: number): void {
    if (this.n === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.n++] = v;
  }
  quantile(q: number): number {
    if (this.n === 0) return NaN;
    const sorted = this.data.subarray(0, this.n).slice().sort();
    return sorted[Math.min(this.n - 1, Math.floor(q * this.n))]!;
  }
}

interface Result { rate: number; p50: number; p99: number }

/** A 500 ms warm-up, then `seconds` during which `count(true)` holds; the measured seconds. */
async function window(seconds: number, count: (on: boolean) => void): Promise<number> {
  await sleep(500);
  count(true);
  const t0 = now();
  await sleep(seconds * 1000);
  count(false);
  return (now() - t0) / 1000;
}

/** Runs `inflight` closed loops of `call` for `seconds` after a warm-up; counts and times calls. */
async function closedLoop(inflight: number, seconds: number, call: (i: number) => Promise<unknown>): Promise<Result> {
  const samples = new Samples();
  let counting = false;
  let stop = false;
  let done = 0;
  let next = 0;
  const loop = async (): Promise<void> => {
    while (!stop) {
      const t = now();
      await call(next++ & (KEY_POOL - 1));
      if (counting) {
        samples.add(now() - t);
        done++;
      }
    }
  };
  const loops = Array.from({ length: inflight }, loop);
  const elapsed = await window(seconds, (on) => { counting = on; });
  stop = true;
  await Promise.all(loops);
  return { rate: done / elapsed, p50: samples.quantile(0.5), p99: samples.quantile(0.99) };
}

/**
 * Open loop: issues calls at `rate` per second whatever the answers do; after a 500 ms warm-up,
 * like closedLoop's, times the calls issued during the next `seconds`.
 *
 * Calls are issued as they fall due, on every turn of the event loop that had replies to take
 * (a setImmediate queued by the first reply of the turn) and on a 1 ms timer besides, so that
 * the rate holds whatever the replies do. In between, the process sleeps in the kernel like any
 * server client. It used to spin on setImmediate, which kept one of this machine's two cores
 * busy all the time; measured here, the cores also stall for 1-4 ms every ~500 ms (a bare Node
 * spin loop on each core sees it; the kernel's DAMON monitor samples memory every 500 ms) and a
 * stalled process has nowhere else to run while the other core is spun on.
 *
 * The calls go through RpcClient.callback(): a promise and its reactions per call were most of
 * this process's garbage. The warm-up matters: its first ~200 ms hold event-loop gaps of 30-70 ms
 * while the JIT compiles this loop's paths (measured: the gaps came with as much CPU time as wall
 * time, and none came later), and at a uniform rate those few gaps alone were over 1% of a 3 s
 * run's calls, so the p99 measured the start-up. Outstanding calls are counted, not kept in a
 * Set: a Set with a promise added and deleted per call kept finished calls alive past
 * young-generation GCs (the same V8 behaviour as the client's old pending Map), and the GC pauses
 * it caused in the load generator showed up in the tail it was measuring.
 */
async function openLoop(rate: number, seconds: number, send: (i: number, done: () => void) => void): Promise<Result> {
  const samples = new Samples(Math.ceil(rate * seconds * 1.1));
  let sent = 0;
  let done = 0;
  let next = 0;
  let outstanding = 0;
  let drained: (() => void) | undefined;
  const start = now();
  const t0 = start + 500;
  const end = t0 + seconds * 1000;
  let finished = false;
  let queued = false;
  let finish: () => void = () => undefined;
  const issue = (): void => {
    queued = false;
    if (finished) return;
    const at = now();
    if (at >= end) {
      finished = true;
      finish();
      return;
    }
    const due = Math.floor(((at - start) / 1000) * rate);
    for (; sent < due; sent++) {
      const t = now();
      outstanding++;
      send(next++ & (KEY_POOL - 1), t >= t0 ? () => timed(t) : settled);
    }
  };
  // One issue per turn however many replies the turn brought.
  const soon = (): void => {
    if (!queued) {
      queued = true;
      setImmediate(issue);
    }
  };
  const settled = (): void => {
    if (--outstanding === 0) drained?.();
    soon();
  };
  const timed = (t: number): void => {
    samples.add(now() - t);
    done++;
    settled();
  };
  await new Promise<void>((resolve) => {
    const timer = setInterval(issue, 1);
    finish = () => {
      clearInterval(timer);
      resolve();
    };
    issue();
  });
  if (outstanding > 0) await new Promise<void>((resolve) => { drained = resolve; });
  return { rate: done / seconds, p50: samples.quantile(0.5), p99: samples.quantile(0.99) };
}

/** The echo baseline client: `inflight` frames outstanding, FIFO-timed, one write per chunk. */
async function echoLoop(port: number, inflight: number, frame: Buffer, seconds: number): Promise<Result> {
  const socket: Socket = connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const size = frame.length;
  const sentAt = new Float64Array(inflight);
  let head = 0;
  let tail = 0;
  let buffered = 0;
  let counting = false;
  let stop = false;
  let done = 0;
  const samples = new Samples();
  // Writes of at most about ECHO_FLUSH_BYTES, as the vxfab client's FrameWriter makes them.
  const perWrite = Math.max(1, Math.ceil(ECHO_FLUSH_BYTES / size));
  const batches = new Map<number, Buffer>();
  const batchOf = (n: number): Buffer => {
    let b = batches.get(n);
    if (!b) { b = Buffer.concat(Array.from({ length: n }, () => frame)); batches.set(n, b); }
    return b;
  };
  const writeFrames = (n: number): void => {
    for (; n > 0; n -= perWrite) socket.write(batchOf(Math.min(n, perWrite)));
  };
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.length;
    const n = Math.floor(buffered / size);
    buffered -= n * size;
    const t = now();
    for (let k = 0; k < n; k++) {
      if (counting) { samples.add(t - sentAt[head]!); done++; }
      head = (head + 1) % inflight;
    }
    if (stop || n === 0) return;
    for (let k = 0; k < n; k++) { sentAt[tail] = t; tail = (tail + 1) % inflight; }
    writeFrames(n);
  });
  const t = now();
  for (let k = 0; k < inflight; k++) { sentAt[tail] = t; tail = (tail + 1) % inflight; }
  writeFrames(inflight);
  const elapsed = await window(seconds, (on) => { counting = on; });
  stop = true;
  socket.destroy();
  return { rate: done / elapsed, p50: samples.quantile(0.5), p99: samples.quantile(0.99) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function startRedis(): Promise<{ port: number; child: ChildProcess; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--protected-mode', 'yes', '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (e) => reject(new Error(`cannot start redis-server (apt-get install redis-server): ${e.message}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Wait until it answers.
  for (let i = 0; ; i++) {
    const ok = await Promise.race([failed, new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' }, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    })]);
    if (ok) break;
    if (i > 100) throw new Error('redis-server did not start');
    await sleep(50);
  }
  return {
    port, child,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const fmtRate = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number): string => n.toFixed(3);

export async function runLookupBench(options: LookupBenchOptions = {}): Promise<void> {
  const print = options.print ?? ((line: string) => console.log(line));
  const seconds = options.seconds ?? 3;
  const halfPeakSeconds = options.halfPeakSeconds ?? 10;
  const nics = options.nics ?? 1_000_000;
  const nodes = options.nodes ?? 1000;
  const vnids = options.vnids ?? Math.max(1, Math.ceil(nics / 1000));
  const subscribers = options.subscribers ?? 1000;
  const moves = options.moves ?? 200;
  const fabric = benchFabric(nics, nodes, vnids);

  // Uniformly random keys, drawn once; every system gets the same sequence.
  const reqs: { vnid: number; mac: string }[] = [];
  const redisKeys: string[] = [];
  for (let k = 0; k < KEY_POOL; k++) {
    const i = Math.floor(Math.random() * nics);
    reqs.push({ vnid: fabric.vnidOf(i), mac: fabric.macOf(i) });
    redisKeys.push(`vl2:${fabric.vnidOf(i)}`);
  }

  const cleanups: (() => Promise<void>)[] = [];
  const gcPreload = ['--import', new URL('./gc-lines.js', import.meta.url).href];
  try {
    // ---- vxfab serve: controller + store + in-process lookup, one process, loaded first ----
    const server = startNode('./lookup-server.js', [String(nics), String(nodes), String(vnids)], ['--expose-gc', '--max-old-space-size=8192', ...gcPreload]);
    cleanups.push(server.stop);
    const commits = new Map<number, number>();
    const serverGc = new Pauses();
    const clientGc = new Pauses();
    server.onLine((line) => {
      const m = /^commit (\d+) ([\d.]+)$/.exec(line);
      if (m) commits.set(Number(m[1]), Number(m[2]));
      serverGc.parse(line);
    });
    const gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) clientGc.add(performance.timeOrigin + e.startTime, e.duration);
    });
    gcObserver.observe({ entryTypes: ['gc'] });
    cleanups.push(async () => gcObserver.disconnect());
    const tlsLine = firstLine(server, /^tls (\d+) (\S+)$/, 300_000);
    const ready = await firstLine(server, /^ready (\d+) (\d+) (\d+) (\d+)$/, 300_000);
    const tlsReady = await tlsLine;
    const tlsCreds = await readCredentials(tlsReady[2]!);
    const port = Number(ready[1]);
    const mappings = Number(ready[2]);
    const indexBytes = Number(ready[3]);
    const loadMs = Number(ready[4]);

    // ---- a lookup replica: the real `vxfab lookup serve`, fed over the wire by the server ----
    const replicaStart = now();
    const replica = startNode('../src/cli/main.js', ['lookup', 'serve', '--controller', `127.0.0.1:${port}`, '--listen', '127.0.0.1:0',
      '--log-level', 'warn', '--insecure'], ['--expose-gc', '--max-old-space-size=8192', ...gcPreload]);
    cleanups.push(async () => { await replica.stop('SIGTERM'); });
    const replicaGc = new Pauses();
    replica.onLine((line) => replicaGc.parse(line));
    const replicaPort = Number((await firstLine(replica, /^listening [\d.]+:(\d+)$/, 300_000))[1]);
    const replicaLoadMs = now() - replicaStart;
    replica.child.kill('SIGUSR2');
    const mem = await firstLine(replica, /^mem (\d+) (\d+) (\d+)$/, 30_000);
    const replicaBytes = Number(mem[1]) + Number(mem[2]);
    const replicaRss = Number(mem[3]);

    // ---- baselines' servers ----
    const echo = startNode('./lookup-echo.js', []);
    cleanups.push(echo.stop);
    const echoPort = Number((await firstLine(echo, /^(\d+)$/, 10_000))[1]);
    const redis = await startRedis();
    cleanups.push(redis.stop);
    const rc = new Redis({ port: redis.port, host: '127.0.0.1', enableAutoPipelining: true, lazyConnect: true });
    cleanups.push(async () => { rc.disconnect(); });
    await rc.connect();
    const redisBefore = usedMemory(await rc.info('memory'));
    for (let k = 0; k < vnids; k++) {
      const vnid = fabric.vnidOf(k);
      const args: string[] = [];
      for (let i = k; i < nics; i += vnids) {
        const n = fabric.node(nodeIndexOf(fabric.nodeOf(i)));
        args.push(fabric.macOf(i), `${n.underlay}|${n.port}|${n.name}`);
      }
      await rc.hset(`vl2:${vnid}`, ...args);
    }
    const redisBytes = usedMemory(await rc.info('memory')) - redisBefore;

    // ---- frames: the echo moves frames as large as vxfab's ----
    const sample = reqs[0]!;
    const reqFrame = encodeFrame({ kind: vxfab.v1.FrameKind.REQUEST, id: 123456, method: Lookup.Vl2.path,
      body: vxfab.v1.Vl2Request.encode(sample).finish() });
    const n0 = fabric.node(0);
    const resFrame = encodeFrame({ kind: vxfab.v1.FrameKind.REPLY, id: 123456,
      body: vxfab.v1.Vl2Reply.encode({ underlay: n0.underlay, port: n0.port, node: n0.name }).finish() });
    const size = Math.max(reqFrame.length, resFrame.length);
    const echoFrame = Buffer.alloc(size, 0x61);
    echoFrame[0] = size - 1;

    const targets: Target[] = [
      { name: 'vxfab lookup serve', port: replicaPort, gc: replicaGc },
      { name: 'vxfab serve', port, gc: serverGc },
      { name: 'vxfab serve (TLS)', port: Number(tlsReady[1]), gc: serverGc, tls: { credentials: tlsCreds, caPem: tlsCreds.caPem } },
    ];
    let failures = 0;
    for (const target of targets) {
      const client = new RpcClient({ address: `127.0.0.1:${target.port}`, role: vxfab.v1.Role.ROLE_BENCH, identity: 'bench', logger: silent,
        ...(target.tls ? { tls: target.tls } : {}) });
      cleanups.push(() => client.close());
      await client.connect();
      // Sanity: the answers are right before anything is timed.
      for (let k = 0; k < 100; k++) {
        const r = await client.call(Lookup.Vl2, reqs[k]!);
        const h = await rc.hget(redisKeys[k]!, reqs[k]!.mac);
        if (h !== `${r.underlay}|${r.port}|${r.node}`) throw new Error(`${target.name} and redis disagree on ${JSON.stringify(reqs[k])}: ${h} vs ${JSON.stringify(r)}`);
      }
      target.vl2 = (i: number) => client.call(Lookup.Vl2, reqs[i]!);
      target.vl2Callback = (i: number, done: () => void) => client.callback(Lookup.Vl2, reqs[i]!, (err) => {
        if (err) failures++;
        done();
      });
    }
    const hget = (i: number) => rc.hget(redisKeys[i]!, reqs[i]!.mac);

    const table: { inflight: number; echo: Result; vxfab: Result[]; redis: Result }[] = [];
    for (const inflight of [1, 64]) {
      const e = await echoLoop(echoPort, inflight, echoFrame, seconds);
      const v: Result[] = [];
      for (const target of targets) v.push(await closedLoop(inflight, seconds, target.vl2!));
      const r = await closedLoop(inflight, seconds, hget);
      table.push({ inflight, echo: e, vxfab: v, redis: r });
    }
    const halves: { from: number; to: number; offered: number; result: Result }[] = [];
    for (const [t, target] of targets.entries()) {
      const offered = table[1]!.vxfab[t]!.rate / 2;
      const from = epochMs() + 500; // the GC pauses reported are those of the measured window, after the warm-up
      const result = await openLoop(offered, halfPeakSeconds, target.vl2Callback!);
      if (failures > 0) throw new Error(`${failures} lookups failed during the open loop against ${target.name}`);
      halves.push({ from, to: epochMs(), offered, result });
    }

    // ---- fan-out: one NIC move to `subscribers` Subscribe streams, one connection each ----
    const fans: FanOut[] = [];
    for (const target of targets) if (!target.tls) fans.push(await fanOut(target.port, port, fabric, subscribers, moves, commits, gcPreload));

    const cpu = cpus();
    print(`lookup bench: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; ` +
      `${fmtRate(mappings)} mappings (${vnids} vnids, ${nodes} nodes), ${seconds} s per case, uniformly random keys, one client process`);
    print(`frames: request ${reqFrame.length} B, reply ${resFrame.length} B (echo ${size} B both ways); ` +
      `index loaded in ${loadMs} ms in vxfab serve (from its store), replica ready in ${Math.round(replicaLoadMs)} ms (snapshot over the wire)`);
    print('vxfab lookup serve: a replica process, index only, fed by vxfab serve\'s change feed; vxfab serve: controller and lookup in one process');
    print(`this client: node ${LOOKUP_BENCH_NODE_FLAGS.join(' ')}; the open loop issues what is due on every turn with replies and every 1 ms; servers on V8 defaults`);
    print('');
    print('in flight  system                 lookups/s    p50 ms   p99 ms   ÷ echo   ÷ redis');
    for (const row of table) {
      const rows: [string, Result][] = [['echo (baseline)', row.echo], ...targets.map((t, i): [string, Result] => [t.name, row.vxfab[i]!]),
        ['redis HGET (ioredis)', row.redis]];
      for (const [name, r] of rows) {
        print(`${String(row.inflight).padStart(9)}  ${name.padEnd(23)}${fmtRate(r.rate).padStart(10)}${fmtMs(r.p50).padStart(10)}${fmtMs(r.p99).padStart(9)}` +
          `${(r.rate / row.echo.rate).toFixed(2).padStart(9)}${(r.rate / row.redis.rate).toFixed(2).padStart(10)}`);
      }
    }
    const at64 = table[1]!;
    print('');
    for (const [t, target] of targets.entries()) {
      const h = halves[t]!;
      print(`${target.name} at half its peak (${fmtRate(h.offered)}/s offered, open loop, ${halfPeakSeconds} s): ${fmtRate(h.result.rate)}/s, ` +
        `p50 ${fmtMs(h.result.p50)} ms, p99 ${fmtMs(h.result.p99)} ms   [floor p99 < 2 ms: ${h.result.p99 < 2 ? 'met' : 'MISSED'}]`);
      print(`  GC pauses during that pass: ${target.name} ${Pauses.describe(target.gc.within(h.from, h.to))}; ` +
        `this client ${Pauses.describe(clientGc.within(h.from, h.to))}`);
    }
    print(`memory per mapping: vxfab index ${(indexBytes / mappings).toFixed(1)} B (heap + array buffers it added to vxfab serve); ` +
      `the whole replica process ${(replicaBytes / mappings).toFixed(1)} B (heap + array buffers; RSS ${(replicaRss / mappings).toFixed(1)} B); ` +
      `redis used_memory ${(redisBytes / nics).toFixed(1)} B   [floor ≤ 200 B: ${indexBytes / mappings <= 200 && replicaBytes / mappings <= 200 ? 'met' : 'MISSED'}]`);
    for (const [t, target] of targets.entries()) {
      const v = at64.vxfab[t]!;
      print(`floors at 64 in flight, ${target.name}: ≥ 1.5× redis: ${(v.rate / at64.redis.rate).toFixed(2)}× ${v.rate >= 1.5 * at64.redis.rate ? 'met' : 'MISSED'}; ` +
        `≥ 0.25× echo: ${(v.rate / at64.echo.rate).toFixed(2)}× ${v.rate >= 0.25 * at64.echo.rate ? 'met' : 'MISSED'}`);
    }
    const tlsAt = targets.findIndex((x) => x.tls !== undefined);
    const plainAt = targets.findIndex((x) => x.name === 'vxfab serve');
    for (const row of table) {
      const tls = row.vxfab[tlsAt]!;
      const plain = row.vxfab[plainAt]!;
      const ratio = tls.rate / plain.rate;
      print(`TLS ÷ plaintext, vxfab serve, ${row.inflight} in flight: ${ratio.toFixed(2)}× (${fmtRate(tls.rate)}/s vs ${fmtRate(plain.rate)}/s; ` +
        `p99 ${fmtMs(tls.p99)} vs ${fmtMs(plain.p99)} ms)` + (row.inflight === 64 ? `   [floor ≥ 0.6×: ${ratio >= 0.6 ? 'met' : 'MISSED'}]` : ''));
    }
    for (const [t, target] of targets.filter((x) => !x.tls).entries()) {
      const fan = fans[t]!;
      print(`NIC move → ${subscribers} subscribers of ${target.name} (own connection each), controller commit to last delivery over ${moves} moves (after ${FANOUT_WARMUP_MOVES} untimed): ` +
        `p50 ${fmtMs(fan.p50)} ms, p99 ${fmtMs(fan.p99)} ms, max ${fmtMs(fan.max)} ms   [floor p99 < 50 ms: ${fan.p99 < 50 ? 'met' : 'MISSED'}]`);
      print(`  GC pauses during the slowest move: ${target.name} ${Pauses.describe(target.gc.within(fan.slowest.from, fan.slowest.to))}; ` +
        `the subscribers' process ${Pauses.describe(fan.subscriberGc.within(fan.slowest.from, fan.slowest.to))}`);
    }
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }

  function nodeIndexOf(name: string): number {
    return Number(name.slice('node-'.length));
  }
}

function usedMemory(info: string): number {
  const m = /used_memory:(\d+)/.exec(info);
  return m ? Number(m[1]) : NaN;
}

/**
 * Subscribers on `port` (in their own process, lookup-subscribers.ts), moves made through the
 * controller on `controllerPort`: per move, the controller's commit to the last subscriber's
 * delivery. Both times are epoch ms read in different processes of this machine.
 */
async function fanOut(port: number, controllerPort: number, fabric: ReturnType<typeof benchFabric>, subscribers: number, moves: number,
  commits: Map<number, number>, gcPreload: string[]): Promise<FanOut> {
  const nic = fabric.nic(0);
  // Two nodes that already carry the vnid: the move changes the endpoint, not the flood list.
  const homes = [nic.node, fabric.nodeOf(fabric.vnids)];
  const arrivals = new Map<number, number>();
  let arrived: ((rev: number) => void) | undefined;
  const subs = startNode('./lookup-subscribers.js', [String(port), String(nic.vnid), String(subscribers)], gcPreload);
  const gc = new Pauses();
  subs.onLine((line) => {
    gc.parse(line);
    const m = /^arrived (\d+) ([\d.]+)$/.exec(line);
    if (m) {
      arrivals.set(Number(m[1]), Number(m[2]));
      arrived?.(Number(m[1]));
    }
  });
  const ctl = new RpcClient({ address: `127.0.0.1:${controllerPort}`, role: vxfab.v1.Role.ROLE_BENCH, identity: 'mover', logger: silent });
  try {
    await firstLine(subs, /^synced$/, 120_000);
    await ctl.connect();
    const latencies: number[] = [];
    let slowest = { from: 0, to: 0 };
    // Untimed warm-up moves first: connecting and subscribing a thousand streams leaves the server
    // with megabytes of young objects to promote, and measured here that promotion was a 15 ms
    // pause inside the first timed moves. A server's subscribers connect once, not per move.
    for (let m = -FANOUT_WARMUP_MOVES; m < moves; m++) {
      const moved = await ctl.call(Controller.MoveNic, { id: nic.id, node: homes[(m + 1 + FANOUT_WARMUP_MOVES) % 2]! });
      const rev = Number(moved.revision);
      if (!arrivals.has(rev)) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`revision ${rev} did not reach all ${subscribers} subscribers in 10 s`)), 10_000);
          arrived = (r) => { if (r === rev) { clearTimeout(timer); resolve(); } };
        });
      }
      for (let w = 0; !commits.has(rev) && w < 100; w++) await sleep(5); // the commit line may still be in the pipe
      const committed = commits.get(rev);
      if (committed === undefined) throw new Error(`no commit time for revision ${rev}`);
      const last = arrivals.get(rev)!;
      if (m < 0) {
        await sleep(m === -1 ? 500 : 20);
        continue;
      }
      latencies.push(last - committed);
      if (last - committed > slowest.to - slowest.from) slowest = { from: committed, to: last };
      await sleep(20);
    }
    latencies.sort((x, y) => x - y);
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
    return { p50: q(0.5), p99: q(0.99), max: latencies[latencies.length - 1]!, slowest, subscriberGc: gc };
  } finally {
    await ctl.close();
    await subs.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) {
    const r = spawnSync(process.execPath, [...process.execArgv, ...LOOKUP_BENCH_NODE_FLAGS, ...process.argv.slice(1)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  const seconds = Number(process.argv[2] ?? 3);
  const nics = Number(process.argv[3] ?? 1_000_000);
  runLookupBench({ seconds, nics }).catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
