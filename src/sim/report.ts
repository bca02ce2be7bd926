// What a topology run reports (`-o json` prints it as is; docs/topologies.md documents it) and its
// text form. Correctness (violations: the verdict) and timing (convergence times, and how loaded the
// machine was while they were measured) are reported apart: a slow run on a busy machine passes
// with its times printed; only a wait that made no progress, or hit the hard deadline, is a
// violation ("not converged").
import os from 'node:os';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Violation } from './checker.js';

export interface StepReport {
  index: number;
  op: string;
  /** The step in words ("move vm-7 to host-12"). */
  what: string;
  line: number;
  /** From the event to the last watched host programmed (ms). */
  convergeMs: number;
  converged: boolean;
  /** Hosts whose tables had to change or be confirmed. */
  hostsWatched: number;
  /** Moves: from the event to the last other host carrying the network pointing the MAC at the
   * new host (ms); absent when some never did. */
  propagateMs?: number;
  /** Not converged: the wait saw no progress for the stall window, or hit the hard deadline. */
  gaveUp?: 'stalled' | 'deadline';
}

export interface Stats {
  min: number;
  avg: number;
  max: number;
}

export interface CheckpointReport {
  name: string;
  line: number;
  /** Slowest convergence among the steps since the previous checkpoint (ms), and the p99. */
  convergeMs: number;
  convergeP99Ms: number;
  steps: number;
  /** Moves since the previous checkpoint: how fast the new location reached the other carriers. */
  moves: { count: number; propagateP50Ms: number; propagateP99Ms: number; propagateMaxMs: number };
  messages: { total: number; lookup: number; controller: number; lookupEvents: number };
  entriesPerHost: Stats;
  walks: number;
  violationCount: number;
  violations: Violation[];
  memory: { rssMiB: number; heapMiB: number };
}

export interface RunReport {
  topology: string;
  seed: number;
  /** sim: in-memory tables walked; linux: namespaces, kernel tables and real pings (walks = pings). */
  dataplane: 'sim' | 'linux';
  hosts: number;
  tenants: number;
  networks: number;
  nics: number;
  lookups: string[];
  /** Creating every object through the controller API, then starting agents until converged. */
  boot: { createMs: number; agentsStartMs: number; convergeMs: number; converged: boolean; gaveUp?: 'stalled' | 'deadline' };
  steps: StepReport[];
  checkpoints: CheckpointReport[];
  ok: boolean;
  violationCount: number;
  /** When a wait for convergence gives up (ms): no progress for stallMs, or deadlineMs in all. */
  settle: { stallMs: number; deadlineMs: number };
  /** Timing context, not part of the verdict: how late this process's event loop ran (p99 and
   * max, ms) and the machine's 1-minute load average at the start and the end of the run. */
  load: RunLoad;
  wallMs: number;
  memory: { rssMiB: number; heapMiB: number };
}

export interface RunLoad {
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  loadAvgStart: number;
  loadAvgEnd: number;
  cpus: number;
}

/** Measures, over a run, how late the event loop ran and the machine's load. */
export class LoadGauge {
  private readonly h: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  private readonly loadAvgStart = os.loadavg()[0]!;

  constructor() {
    this.h.enable();
  }

  stop(): RunLoad {
    this.h.disable();
    const ms = (ns: number) => ns / 1e6;
    return {
      loopDelayP99Ms: ms(this.h.percentile(99)), loopDelayMaxMs: ms(this.h.max),
      loadAvgStart: this.loadAvgStart, loadAvgEnd: os.loadavg()[0]!, cpus: availableCpus(),
    };
  }
}

function availableCpus(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

const ms = (n: number) => `${n.toFixed(n < 10 ? 1 : 0)} ms`;

export function formatReport(r: RunReport, maxViolations = 20): string {
  const out: string[] = [];
  out.push(`topology ${r.topology} (seed ${r.seed}${r.dataplane === 'linux' ? ', data plane linux' : ''}): ${r.hosts} hosts, ${r.tenants} tenants, ${r.networks} networks, ${r.nics} NICs, lookup ${r.lookups.join(', ')}`);
  out.push(`boot: objects created in ${ms(r.boot.createMs)}, agents started in ${ms(r.boot.agentsStartMs)}, ` +
    (r.boot.converged ? `converged in ${ms(r.boot.convergeMs)}` : `NOT converged after ${ms(r.boot.convergeMs)} (${gaveUpWords(r.boot.gaveUp, r.settle)})`));
  const slow = r.steps.filter((s) => !s.converged);
  for (const s of slow) out.push(`step ${s.index} (line ${s.line}) ${s.what}: NOT converged after ${ms(s.convergeMs)} (${gaveUpWords(s.gaveUp, r.settle)})`);
  for (const c of r.checkpoints) {
    out.push('');
    out.push(`checkpoint ${c.name}${c.line ? ` (line ${c.line})` : ''}: ${c.violationCount === 0 ? 'OK' : `${c.violationCount} violation(s)`}`);
    out.push(`  convergence: max ${ms(c.convergeMs)}, p99 ${ms(c.convergeP99Ms)} over ${c.steps} step(s)`);
    if (c.moves.count > 0) out.push(`  moves: ${c.moves.count}, new location at every other carrier: p50 ${ms(c.moves.propagateP50Ms)}, p99 ${ms(c.moves.propagateP99Ms)}, max ${ms(c.moves.propagateMaxMs)}`);
    out.push(`  messages: ${c.messages.total} (lookup ${c.messages.lookup}, of which events ${c.messages.lookupEvents}; controller ${c.messages.controller})`);
    out.push(`  entries per host: min ${c.entriesPerHost.min}, avg ${c.entriesPerHost.avg.toFixed(1)}, max ${c.entriesPerHost.max}; ${c.walks} ${r.dataplane === 'linux' ? 'pings' : 'walks'}`);
    out.push(`  memory: rss ${c.memory.rssMiB.toFixed(0)} MiB, heap ${c.memory.heapMiB.toFixed(0)} MiB`);
    for (const v of c.violations.slice(0, maxViolations)) {
      out.push(`  ✗ [${v.kind}] ${v.message}${v.alsoFrom ? ` (also from ${v.alsoFrom} other NIC(s) on the same host)` : ''}`);
    }
    if (c.violationCount > Math.min(maxViolations, c.violations.length)) out.push(`  … ${c.violationCount - Math.min(maxViolations, c.violations.length)} more (-o json lists up to 1000)`);
  }
  out.push('');
  const l = r.load;
  out.push(`timing (not part of the verdict): event loop late by p99 ${ms(l.loopDelayP99Ms)}, max ${ms(l.loopDelayMaxMs)}; ` +
    `load average ${l.loadAvgStart.toFixed(1)} -> ${l.loadAvgEnd.toFixed(1)} on ${l.cpus} CPU(s); a wait gives up after ${ms(r.settle.stallMs)} without progress or ${ms(r.settle.deadlineMs)} in all`);
  out.push(`${r.ok ? 'PASS' : 'FAIL'}: ${r.violationCount} violation(s), ${r.steps.length} step(s), ${(r.wallMs / 1000).toFixed(1)} s, rss ${r.memory.rssMiB.toFixed(0)} MiB`);
  return out.join('\n') + '\n';
}

/** Why a wait ended unconverged, in words. */
export function gaveUpWords(gaveUp: 'stalled' | 'deadline' | undefined, settle: RunReport['settle']): string {
  return gaveUp === 'deadline' ? `still changing at the ${ms(settle.deadlineMs)} deadline` : `no progress for ${ms(settle.stallMs)}`;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function memoryMiB(): { rssMiB: number; heapMiB: number } {
  const m = process.memoryUsage();
  return { rssMiB: m.rss / 2 ** 20, heapMiB: m.heapUsed / 2 ** 20 };
}
