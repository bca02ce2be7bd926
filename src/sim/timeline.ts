// Runs a topology's timeline, whichever the data plane: starts the control plane (control-plane.ts)
// and creates the objects through the controller's wire API as an operator would, starts one real
// agent per host (host-runtime.ts), waits for boot to converge, then does each step — what an
// orchestrator would (create, delete, move a NIC) and what an operator would (stop/start an agent or
// a lookup replica, cut a host off and heal it) — waiting after each until the watched hosts match
// the desired state (convergence.ts), and judges every checkpoint. A subclass supplies what differs
// between data planes: its hosts, what exists around them (linux: namespaces), how a NIC is plugged
// into and unplugged from its host, and how a checkpoint is judged (runner.ts walks frames through
// the tables, linux-runner.ts pings).
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Controller as Methods } from '../wire/gen/services.js';
import type { Violation } from './checker.js';
import { ControlPlane, pipelined } from './control-plane.js';
import { ConvergenceWatch, DEADLINE_STALLS, StallClock, type MoveWatch, type SettleLimits } from './convergence.js';
import { MessageCounter } from './counting-ports.js';
import { FabricView } from './fabric.js';
import type { AgentContext, AgentTimers, HostRuntime } from './host-runtime.js';
import { LoadGauge, gaveUpWords, memoryMiB, percentile, type CheckpointReport, type RunReport, type StepReport } from './report.js';
import type { CheckpointDecl, Plan, PlanHost, PlanStep } from './topology.js';

export interface Progress {
  phase: 'create' | 'agents' | 'boot' | 'steps';
  done: number;
  total: number;
}

export interface TimelineSettings {
  dataplane: RunReport['dataplane'];
  /** The runner's logger. */
  log: Logger;
  /** A wait for convergence gives up after this long without progress (convergence.ts)... */
  settleMs: number;
  /** ...or this long after it began. Default DEADLINE_STALLS × settleMs. */
  deadlineMs?: number | undefined;
  /** The operator's controller calls. */
  callTimeoutMs: number;
  timers: AgentTimers;
  /** Object creations and agent starts in flight at once. */
  concurrency: number;
  onProgress?: ((p: Progress) => void) | undefined;
}

/** What judging a checkpoint found. */
export interface Judgement {
  violations: Violation[];
  violationCount: number;
  /** Frames walked or ping pairs tried. */
  walks: number;
  /** Table entries of each host. */
  entries: number[];
}

/** How long no table may be written before a walk that missed is repeated. */
const QUIET_MS = 100;

type Messages = { lookup: number; controller: number; events: number };

export abstract class TimelineRun<H extends HostRuntime> {
  protected readonly log: Logger;
  protected readonly cp: ControlPlane;
  protected readonly hosts = new Map<string, H>();
  protected readonly settleMs: number;
  protected readonly limits: SettleLimits;
  private readonly counter = new MessageCounter();
  private readonly convergence: ConvergenceWatch;
  private readonly cutHosts = new Set<string>();
  private closing: Promise<void> | undefined;

  constructor(protected readonly plan: Plan, private readonly s: TimelineSettings) {
    this.log = s.log;
    this.settleMs = s.settleMs;
    this.limits = { stallMs: s.settleMs, deadlineMs: s.deadlineMs ?? DEADLINE_STALLS * s.settleMs };
    this.cp = new ControlPlane(s.log, s.callTimeoutMs);
    this.convergence = new ConvergenceWatch(this.hosts, () => this.view(), this.limits);
  }

  // ---- what a data plane supplies -----------------------------------------------------------------

  /** Before anything starts. */
  protected async prepare(): Promise<void> {}
  /** After the objects were created, and timed with them: what the hosts live in. */
  protected async buildUnderlay(): Promise<void> {}
  protected abstract newHost(spec: PlanHost): H;
  /** After every agent started, before boot converges. */
  protected async agentsStarted(): Promise<void> {}
  /** Plugs a NIC into the host the controller has it on, as an orchestrator would, and tells the
   * host's agent. */
  protected abstract plug(nic: string): Promise<void>;
  /** Unplugs a NIC from `host` before the controller is told; `deleting`: it will not come back. */
  protected async unplug(_nic: string, _host: string, _deleting: boolean): Promise<void> {}
  /** After a stopped agent started again. */
  protected async agentRestarted(_host: H): Promise<void> {}
  protected abstract judge(cp: CheckpointDecl): Promise<Judgement>;
  /** After the hosts and the control plane stopped; never throws. */
  protected async closeDataPlane(): Promise<void> {}

  // ---- the run ------------------------------------------------------------------------------------

  async run(): Promise<RunReport> {
    const t0 = performance.now();
    const load = new LoadGauge();
    await this.prepare();
    await this.cp.start(this.plan.lookups);
    const tc = performance.now();
    await this.createObjects();
    await this.buildUnderlay();
    const createMs = performance.now() - tc;
    const ta = performance.now();
    await this.startAgents();
    const agentsStartMs = performance.now() - ta;
    await this.agentsStarted();
    this.progress({ phase: 'boot', done: 0, total: this.hosts.size });
    const boot = await this.convergence.wait(new Set(this.hosts.keys()), ta, (done) => this.progress({ phase: 'boot', done, total: this.hosts.size }));

    const steps: StepReport[] = [];
    const checkpoints: CheckpointReport[] = [];
    let since: StepReport[] = [];
    let notConverged: string[] = boot.converged ? [] : boot.pending.map((p) => `boot (${gaveUpWords(boot.gaveUp, this.limits)}): ${p}`);
    let messagesAt: Messages = { lookup: 0, controller: 0, events: 0 };
    const checkpointAt = async (cp: CheckpointDecl, line: number) => {
      checkpoints.push(await this.checkpoint(cp, line, since, messagesAt, notConverged));
      since = [];
      notConverged = [];
      messagesAt = { lookup: this.counter.lookup, controller: this.counter.controller, events: this.counter.events };
      await eventLoopSettled();
    };
    // The state after boot is always judged, as checkpoint "boot".
    since = [{
      index: 0, op: 'boot', what: 'boot', line: 0, convergeMs: boot.ms, converged: boot.converged, hostsWatched: this.hosts.size,
      ...(boot.gaveUp ? { gaveUp: boot.gaveUp } : {}),
    }];
    await checkpointAt({ name: 'boot', default: true, reach: [], isolated: [] }, 0);
    let index = 0;
    for (const step of this.plan.steps) {
      index++;
      this.progress({ phase: 'steps', done: index, total: this.plan.steps.length });
      if (step.op === 'checkpoint') {
        await checkpointAt(step.checkpoint, step.where.line);
        continue;
      }
      const r = await this.step(step, index);
      steps.push(r.report);
      since.push(r.report);
      if (!r.report.converged) {
        const why = gaveUpWords(r.report.gaveUp, this.limits);
        notConverged.push(...r.pending.map((p) => `step ${index} (line ${step.where.line}) ${r.report.what} (${why}): ${p}`));
      }
    }
    if (since.length > 0) await checkpointAt({ name: 'end', default: true, reach: [], isolated: [] }, 0);

    const violationCount = checkpoints.reduce((n, c) => n + c.violationCount, 0);
    return {
      topology: this.plan.name, seed: this.plan.seed, dataplane: this.s.dataplane,
      hosts: this.hosts.size, tenants: this.plan.tenants.length, networks: this.plan.networks.length, nics: this.cp.controller.state.nics.size,
      lookups: this.plan.lookups,
      boot: { createMs, agentsStartMs, convergeMs: boot.ms, converged: boot.converged, ...(boot.gaveUp ? { gaveUp: boot.gaveUp } : {}) },
      steps, checkpoints, ok: violationCount === 0, violationCount,
      settle: { stallMs: this.limits.stallMs, deadlineMs: this.limits.deadlineMs },
      load: load.stop(),
      wallMs: performance.now() - t0, memory: memoryMiB(),
    };
  }

  private progress(p: Progress): void {
    this.s.onProgress?.(p);
  }

  private async createObjects(): Promise<void> {
    const p = this.plan;
    const total = p.tenants.length + p.networks.length + p.hosts.length + p.nics.length;
    let done = 0;
    await this.cp.createObjects(p, this.s.concurrency, () => {
      done++;
      if (done % 256 === 0 || done === total) this.progress({ phase: 'create', done, total });
    });
  }

  private get agentContext(): AgentContext {
    return { controller: this.cp.address, counter: this.counter, timers: this.s.timers, log: this.log, pki: this.cp.pki };
  }

  private async startAgents(): Promise<void> {
    const cutHosts = new Set(this.plan.steps.flatMap((s) => (s.op === 'cut' ? [s.host] : [])));
    for (const h of this.plan.hosts) {
      const host = this.newHost(h);
      this.hosts.set(h.name, host);
      this.convergence.observe(host);
      await host.route(this.cp.lookups.map((l) => l.address), cutHosts.has(h.name));
    }
    let done = 0;
    await pipelined([...this.hosts.values()], this.s.concurrency, async (host) => {
      await host.startAgent(this.agentContext);
      done++;
      if (done % 50 === 0 || done === this.hosts.size) this.progress({ phase: 'agents', done, total: this.hosts.size });
    });
  }

  private lastView: FabricView | undefined;

  /** The fabric as the checker sees it: the hosts' tables and the controller's NICs. Built from
   *  the last view, sharing the indexes of the networks no NIC changed in (the last view itself
   *  when nothing changed): a move step builds two views, and 20,000 NICs indexed afresh each
   *  time were most of the garbage a timed move made. */
  protected view(): FabricView {
    const changed = new Set<number>();
    const endpoints = this.cp.endpoints(changed);
    const last = this.lastView;
    if (last !== undefined && changed.size === 0) return last;
    this.lastView = new FabricView(this.hosts, endpoints, last && { view: last, changed });
    return this.lastView;
  }

  // ---- steps --------------------------------------------------------------------------------------

  private async step(s: Exclude<PlanStep, { op: 'checkpoint' }>, index: number): Promise<{ report: StepReport; pending: string[] }> {
    const before = this.view();
    const carriers = (vnid: number) => before.carriers(vnid);
    const all = new Set(this.hosts.keys());
    let watched = new Set<string>();
    let what: string;
    let move: MoveWatch | undefined;
    const t0 = performance.now();
    switch (s.op) {
      case 'create': {
        what = `create ${s.nic.name} on ${s.nic.host} in ${s.nic.network}`;
        const nic = await this.cp.createNic(s.nic);
        await this.plug(s.nic.name);
        watched = new Set([...carriers(nic.vnid), s.nic.host]);
        break;
      }
      case 'delete': {
        what = `delete ${s.nic}`;
        const nic = this.cp.nic(s.nic);
        const was = carriers(nic.vnid);
        await this.unplug(s.nic, nic.node, true);
        await this.cp.operator.call(Methods.DeleteNic, { id: nic.id });
        this.hosts.get(nic.node)!.agent?.kick(); // the detach: the orchestrator tells the agent
        watched = new Set(was);
        break;
      }
      case 'move': {
        const nic = this.cp.nic(s.nic);
        const from = nic.node;
        what = `move ${s.nic} to ${s.to} (from ${from})`;
        const was = carriers(nic.vnid);
        move = {
          vnid: nic.vnid, mac: nic.mac.toLowerCase(), underlay: this.hosts.get(s.to)!.underlay,
          hosts: was.filter((h) => h !== s.to && h !== from), at: new Map(),
        };
        this.convergence.watchMove(move);
        await this.unplug(s.nic, from, false);
        await this.cp.operator.call(Methods.MoveNic, { id: nic.id, node: s.to });
        await this.plug(s.nic);
        this.hosts.get(from)!.agent?.kick();
        watched = new Set([...was, s.to]);
        break;
      }
      case 'stop-agent': {
        what = `stop the agent of ${s.host}`;
        const h = this.hosts.get(s.host)!;
        await h.stopAgent();
        h.impaired = 'agent stopped';
        break;
      }
      case 'start-agent': {
        what = `start the agent of ${s.host}`;
        const h = this.hosts.get(s.host)!;
        await h.startAgent(this.agentContext);
        if (h.impaired === 'agent stopped') h.impaired = this.cutHosts.has(h.name) ? 'cut off from the lookup service' : undefined;
        await this.agentRestarted(h);
        watched = new Set([s.host]);
        break;
      }
      case 'cut': {
        what = `cut ${s.host} off from the lookup service`;
        const h = this.hosts.get(s.host)!;
        h.cut();
        this.cutHosts.add(s.host);
        h.impaired ??= 'cut off from the lookup service';
        break;
      }
      case 'heal':
      case 'heal-all': {
        const names = s.op === 'heal' ? [s.host] : [...this.cutHosts];
        what = s.op === 'heal' ? `heal ${s.host}` : `heal all (${names.length} host(s))`;
        for (const n of names) {
          const h = this.hosts.get(n)!;
          h.heal();
          this.cutHosts.delete(n);
          if (h.impaired === 'cut off from the lookup service') h.impaired = undefined;
        }
        watched = new Set(names);
        break;
      }
      case 'stop-lookup': {
        what = `stop lookup ${s.replica}`;
        await this.cp.lookup(s.replica).stop();
        watched = all;
        break;
      }
      case 'start-lookup': {
        what = `start lookup ${s.replica}`;
        await this.cp.lookup(s.replica).start();
        watched = all;
        break;
      }
    }
    const c = await this.convergence.wait(watched, t0, undefined, move);
    return {
      report: {
        index, op: s.op, what, line: s.where.line, convergeMs: c.ms, converged: c.converged, hostsWatched: watched.size,
        ...(c.propagateMs !== undefined ? { propagateMs: c.propagateMs } : {}),
        ...(c.gaveUp ? { gaveUp: c.gaveUp } : {}),
      },
      pending: c.pending,
    };
  }

  // ---- checkpoints --------------------------------------------------------------------------------

  /** Walks until the walk finds no miss the agents are still resolving. An on-demand host learns
   * a remote endpoint only when a frame misses (the walk reports each miss to the host's agent, as
   * the kernel would), so the first walk after a step misses by design; on a busy machine the
   * answers take longer. After each walk that missed: wait until no table was written for
   * QUIET_MS, walk again, and go on while the agents make progress (fewer misses, or tables
   * written since the last walk) — until no miss is left, or nothing moved for the stall window
   * (on the StallClock: running time), or the deadline. */
  protected async walkSettled<R extends { misses: number }>(walk: () => R): Promise<R> {
    const start = performance.now();
    const clock = new StallClock();
    let result = walk();
    let fewest = result.misses;
    let progressAt = clock.tick();
    while (result.misses > 0) {
      const writes = this.convergence.writes;
      await this.tablesQuiet(clock, progressAt + this.limits.stallMs);
      const wrote = this.convergence.writes !== writes;
      result = walk();
      const running = clock.tick();
      if (result.misses < fewest || wrote) {
        fewest = Math.min(fewest, result.misses);
        progressAt = running;
      }
      if (running - progressAt >= this.limits.stallMs || performance.now() - start >= this.limits.deadlineMs) break;
    }
    return result;
  }

  /** Resolves once no host's tables were written for QUIET_MS, or when `clock` reaches `until`. */
  private async tablesQuiet(clock: StallClock, until: number): Promise<void> {
    let seen = this.convergence.writes;
    let quietSince = performance.now();
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const now = performance.now();
      if (this.convergence.writes !== seen) {
        seen = this.convergence.writes;
        quietSince = now;
      }
      if (now - quietSince >= QUIET_MS || clock.tick(now) >= until) return;
    }
  }

  private async checkpoint(cp: CheckpointDecl, line: number, steps: StepReport[], messagesAt: Messages, notConverged: string[]): Promise<CheckpointReport> {
    const result = await this.judge(cp);
    const violations = [...notConverged.map((message) => ({ kind: 'table' as const, message: `not converged: ${message}` })), ...result.violations];
    const entries = result.entries;
    const times = steps.map((s) => s.convergeMs);
    const moves = steps.filter((s) => s.op === 'move');
    const prop = moves.map((s) => s.propagateMs ?? this.settleMs);
    return {
      name: cp.name, line,
      convergeMs: Math.max(0, ...times), convergeP99Ms: percentile(times, 99), steps: steps.length,
      moves: { count: moves.length, propagateP50Ms: percentile(prop, 50), propagateP99Ms: percentile(prop, 99), propagateMaxMs: Math.max(0, ...prop) },
      messages: {
        total: this.counter.total - (messagesAt.lookup + messagesAt.controller),
        lookup: this.counter.lookup - messagesAt.lookup,
        controller: this.counter.controller - messagesAt.controller,
        lookupEvents: this.counter.events - messagesAt.events,
      },
      entriesPerHost: {
        min: Math.min(...entries), max: Math.max(...entries), avg: entries.reduce((a, b) => a + b, 0) / Math.max(1, entries.length),
      },
      walks: result.walks,
      violationCount: result.violationCount + notConverged.length,
      violations,
      memory: memoryMiB(),
    };
  }

  // ---- cleanup ------------------------------------------------------------------------------------

  /** Idempotent and never throws: the agents (and the hosts' helper processes) first, then the
   * control plane, then the data plane's own (closeDataPlane). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.hosts.values()].map((h) => h.close().catch(() => undefined)));
      await this.cp.close();
      await this.closeDataPlane();
    })();
    return this.closing;
  }
}

/**
 * Judging a checkpoint holds this thread for seconds at 1,000 hosts, and every agent timer that
 * fell due meanwhile fires just after it. Before the next step is timed, the event loop must keep
 * time again (a 10 ms timer late by under 3 ms, twice in a row; at most 2 s): the step's time
 * then measures the step, not the backlog the simulator's own check left (measured: the first
 * move after a checkpoint took 50-90 ms, the others 15-35).
 */
async function eventLoopSettled(): Promise<void> {
  const end = performance.now() + 2000;
  let onTime = 0;
  while (onTime < 2 && performance.now() < end) {
    const t = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 10));
    onTime = performance.now() - t < 13 ? onTime + 1 : 0;
  }
}
