// Lookup index benchmark: memory per mapping and in-process VL2 lookups/s at a million NICs,
// with a naive baseline (a Map of plain objects keyed by "vnid/mac" and "vnid/ip" strings) run
// side by side, since on a shared 2-core machine only the ratio is trustworthy.
//
// Run: node --expose-gc dist/bench/lookup-index.js [nics]
// Memory is heapUsed + arrayBuffers (typed-array storage lives outside the JS heap), measured
// after a full GC before and after loading.

import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { vxfab } from '../src/wire/gen/proto.js';
import { LookupIndex } from '../src/lookup/index.js';
import type { KeyChangeLike } from '../src/lookup/types.js';

export interface LookupIndexBenchOptions {
  nics?: number;
  nodes?: number;
  vnids?: number;
  lookups?: number;
  /** Also build the naive baseline (doubles the run time). */
  baseline?: boolean;
  print?: (line: string) => void;
}

export interface LookupIndexBenchResult {
  nics: number;
  bytesPerMapping: number;
  vl2PerSecond: number;
  baselineBytesPerMapping?: number;
  baselineVl2PerSecond?: number;
}

/** A small deterministic PRNG (xorshift32), so runs are comparable. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const hex2 = (n: number) => (n & 255).toString(16).padStart(2, '0');
function macOf(i: number): string {
  return `02:00:${hex2(i >>> 24)}:${hex2(i >>> 16)}:${hex2(i >>> 8)}:${hex2(i)}`;
}
function ipOf(i: number): string {
  const v = (100 << 24) + (64 << 16) + i; // inside 100.64.0.0/10 up to 4M NICs
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}
/** UUID-shaped ids (36 characters): the longest id form a controller is likely to use. */
function idOf(i: number): string {
  const h = i.toString(16).padStart(12, '0');
  return `4f1c2a3b-0000-4000-8000-${h}`;
}
function nodeName(n: number): string {
  return `host-${n.toString().padStart(4, '0')}`;
}
function vnidOf(i: number, vnids: number): number {
  return 1 + (Math.imul(i, 0x9e3779b1) >>> 0) % vnids;
}
function nodeOf(i: number, nodes: number): number {
  return (Math.imul(i ^ 0x5bd1e995, 0x85ebca6b) >>> 0) % nodes;
}

function* synthetic(nics: number, nodes: number, vnids: number): Generator<KeyChangeLike> {
  for (let n = 0; n < nodes; n++) {
    const underlay = `198.18.${n >> 8}.${(n & 255) + 1}`;
    yield { key: `h/${nodeName(n)}`, value: vxfab.v1.Node.encode({ name: nodeName(n), underlay, port: 4789 }).finish() };
  }
  for (let i = 0; i < nics; i++) {
    const vnid = vnidOf(i, vnids);
    yield {
      key: `i/${idOf(i)}`,
      value: vxfab.v1.Nic.encode({
        id: idOf(i), tenant: 't1', network: `net-${vnid}`, vnid, node: nodeName(nodeOf(i, nodes)),
        mac: macOf(i), ips: [ipOf(i)], revision: 1,
      }).finish(),
    };
  }
}

function memory(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run node with --expose-gc to measure memory');
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** The obvious index a first version would write: plain objects and string-keyed Maps. */
class NaiveIndex {
  readonly byMac = new Map<string, { mac: string; ips: string[]; node: string; nicId: string; vnid: number }>();
  readonly byIp = new Map<string, string>();
  readonly nodes = new Map<string, { underlay: string; port: number }>();
  load(changes: Iterable<KeyChangeLike>): void {
    for (const c of changes) {
      if (c.key.startsWith('h/')) {
        const n = vxfab.v1.Node.decode(c.value as Uint8Array);
        this.nodes.set(n.name, { underlay: n.underlay, port: n.port });
      } else {
        const n = vxfab.v1.Nic.decode(c.value as Uint8Array);
        const k = `${n.vnid}/${n.mac}`;
        this.byMac.set(k, { mac: n.mac, ips: n.ips, node: n.node, nicId: n.id, vnid: n.vnid });
        for (const ip of n.ips) this.byIp.set(`${n.vnid}/${ip}`, k);
      }
    }
  }
  vl2(vnid: number, mac: string): { underlay: string; port: number } | undefined {
    const e = this.byMac.get(`${vnid}/${mac.toLowerCase()}`);
    return e === undefined ? undefined : this.nodes.get(e.node);
  }
}

function queries(count: number, nics: number, vnids: number): { vnid: Uint32Array; mac: string[] } {
  const r = rng(42);
  const vnid = new Uint32Array(count);
  const mac: string[] = [];
  for (let q = 0; q < count; q++) {
    const i = r() % nics;
    vnid[q] = vnidOf(i, vnids);
    mac.push(macOf(i));
  }
  return { vnid, mac };
}

function timeLookups(count: number, fn: (q: number) => boolean): number {
  for (let q = 0; q < Math.min(count, 100_000); q++) fn(q); // warm up the JIT
  const start = process.hrtime.bigint();
  let hits = 0;
  for (let q = 0; q < count; q++) if (fn(q)) hits++;
  const ns = Number(process.hrtime.bigint() - start);
  if (hits !== count) throw new Error(`only ${hits} of ${count} lookups hit`);
  return count / (ns / 1e9);
}

export function runLookupIndexBench(options: LookupIndexBenchOptions = {}): LookupIndexBenchResult {
  const nics = options.nics ?? 1_000_000;
  const nodes = options.nodes ?? 1000;
  const vnids = options.vnids ?? 5000;
  const lookups = options.lookups ?? 2_000_000;
  const print = options.print ?? ((line: string) => console.log(line));
  print(`lookup index bench: ${nics} NICs (1 IPv4 each), ${nodes} nodes, ${vnids} vnids; ` +
    `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, node ${process.version}`);

  const before = memory();
  const index = new LookupIndex();
  let t0 = Date.now();
  index.applySnapshot(1, synthetic(nics, nodes, vnids));
  const loadMs = Date.now() - t0;
  const bytesPerMapping = (memory() - before) / index.mappings;
  const q = queries(lookups, nics, vnids);
  const vl2PerSecond = timeLookups(lookups, (k) => index.vl2Node(q.vnid[k], q.mac[k]) >= 0);
  const result: LookupIndexBenchResult = { nics, bytesPerMapping, vl2PerSecond };

  const rows = [['', 'bytes/mapping', 'VL2 lookups/s', 'load ms'],
    ['LookupIndex', bytesPerMapping.toFixed(1), vl2PerSecond.toFixed(0), String(loadMs)]];
  if (options.baseline !== false) {
    const base0 = memory();
    const naive = new NaiveIndex();
    t0 = Date.now();
    naive.load(synthetic(nics, nodes, vnids));
    const naiveMs = Date.now() - t0;
    result.baselineBytesPerMapping = (memory() - base0) / naive.byMac.size;
    result.baselineVl2PerSecond = timeLookups(lookups, (k) => naive.vl2(q.vnid[k], q.mac[k]) !== undefined);
    rows.push(['naive Map baseline', result.baselineBytesPerMapping.toFixed(1), result.baselineVl2PerSecond.toFixed(0), String(naiveMs)]);
    rows.push(['ratio (index/baseline)', (bytesPerMapping / result.baselineBytesPerMapping).toFixed(2),
      (vl2PerSecond / result.baselineVl2PerSecond).toFixed(2), '']);
    if (naive.byMac.size !== index.mappings) throw new Error('baseline and index loaded different counts');
  }
  for (const r of rows) print(`${r[0].padEnd(24)}${r[1].padStart(14)}${r[2].padStart(16)}${r[3].padStart(10)}`);
  print(`(target: <= 200 bytes/mapping; Redis ~90)`);
  bigNicRows(print);
  return result;
}

/** Issue #11: one NIC with 40,000 IPv6 addresses (stored before MAX_NIC_IPS) against the same
 *  40,000 addresses on 40,000 NICs of one address each. Per-address work is O(1) when the ratio
 *  stays near 1 (it was ~24 s against ~0.1 s with the quadratic duplicate check). */
function bigNicRows(print: (line: string) => void): void {
  const ADDRESSES = 40_000;
  const ip = (i: number) => `fd00:64::${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}`;
  const node = { key: 'h/a', value: vxfab.v1.Node.encode({ name: 'a', underlay: '198.18.0.1', port: 4789 }).finish() };
  const nicChange = (id: string, mac: string, ips: string[]): KeyChangeLike =>
    ({ key: `i/${id}`, value: vxfab.v1.Nic.encode({ id, tenant: 't', network: 'n', vnid: 100, node: 'a', mac, ips }).finish() });
  const mac = (i: number) => `02:00:00:${((i >>> 16) & 255).toString(16).padStart(2, '0')}:${((i >>> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  const all = Array.from({ length: ADDRESSES }, (_, i) => ip(i));
  const timed = (changes: KeyChangeLike[]): number => {
    const index = new LookupIndex();
    index.applySnapshot(1, [node]);
    const start = process.hrtime.bigint();
    index.apply(2, changes);
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  const big = timed([nicChange('big', mac(1), all)]);
  const spread = timed(all.map((a, i) => nicChange(`n${i}`, mac(i + 1), [a])));
  print('');
  print(`${'40,000 IPv6 addresses'.padEnd(24)}${'apply ms'.padStart(14)}`);
  print(`${'on one NIC'.padEnd(24)}${big.toFixed(1).padStart(14)}`);
  print(`${'on 40,000 NICs (base)'.padEnd(24)}${spread.toFixed(1).padStart(14)}`);
  print(`${'ratio (one/base)'.padEnd(24)}${(big / spread).toFixed(2).padStart(14)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const n = Number(process.argv[2] ?? 1_000_000);
  runLookupIndexBench({ nics: n });
}
