// Runs a topology: a real controller (on a MemoryStore), real lookup servers and one real agent per
// host, all in this process and all talking over loopback TCP; only the kernel is replaced by a
// SimDataPlane per host. Objects are created through the controller's wire API as an operator
// would; after each timeline step the runner waits until every affected healthy host's tables
// match the desired state (desired.ts), timing it from the event to the last write that got it
// there; at each checkpoint it walks frames through the tables (checker.ts).
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import { Controller } from '../controller/controller.js';
import { registerController } from '../controller/service.js';
import type { Nic } from '../model/objects.js';
import { MemoryStore } from '../store/memory-store.js';
import { vxfab } from '../wire/gen/proto.js';
import { Controller as Methods } from '../wire/gen/services.js';
import { RpcClient } from '../wire/transport/client.js';
import { RpcServer } from '../wire/transport/server.js';
import { nicFrom } from '../wire/objects.js';
import { checkFabric } from './checker.js';
import { MessageCounter } from './counting-ports.js';
import { diffHost, formatDiff } from './desired.js';
import { changedVnids, FabricView, type SimEndpoint } from './fabric.js';
import type { Fault } from './faulty-dataplane.js';
import { SimLookup } from './lookups.js';
import { memoryMiB, percentile, type CheckpointReport, type RunReport, type StepReport } from './report.js';
import { SimHostRuntime, type AgentTimers } from './sim-host.js';
import type { CheckpointDecl, Plan, PlanNic, PlanStep } from './topology.js';

export interface Progress {
  phase: 'create' | 'agents' | 'boot' | 'steps';
  done: number;
  total: number;
}

export interface RunOptions {
  logger?: Logger;
  /** Break the agents of these hosts (default: all) with a faulty data plane. */
  fault?: { kind: Fault; hosts?: string[] };
  /** Overrides the file's settle timeout (ms). */
  settleTimeoutMs?: number;
  timers?: Partial<AgentTimers>;
  onProgress?: (p: Progress) => void;
  /** NIC creations in flight at once during boot. Default 256. */
  concurrency?: number;
}

const CONTROLLER_CALL_MS = 30_000;

/** A NIC move being timed: when each other carrier's FDB entry for the MAC was written. */
interface MoveWatch {
  vnid: number;
  mac: string;
  underlay: string;
  hosts: string[];
  at: Map<string, number>;
}

export async function runTopology(plan: Plan, options: RunOptions = {}): Promise<RunReport> {
  const sim = new Simulation(plan, options);
  try {
    return await sim.run();
  } finally {
    await sim.close();
  }
}

class Simulation {
  private readonly log: Logger;
  private readonly store = new MemoryStore({ logger: pino({ level: 'silent' }) });
  private controller!: Controller;
  private server!: RpcServer;
  private controllerAddress = '';
  private operator!: RpcClient;
  private readonly lookups: SimLookup[] = [];
  private readonly hosts = new Map<string, SimHostRuntime>();
  private readonly nicIds = new Map<string, string>();
  private readonly nicNames = new Map<string, string>();
  private readonly counter = new MessageCounter();
  private readonly timers: AgentTimers;
  private readonly settleMs: number;
  private wake: (() => void) | undefined;
  private readonly dirty = new Set<string>();
  /** Hosts whose tables matched `judged` (the view of the last convergence) when last looked at,
   * with the networks that may differ since: written to, or their endpoints changed. A host not
   * in here (never matched, or a network created or removed since) is compared in full. Every
   * change to a host's tables is observed, so comparing only these networks is exact. */
  private readonly matched = new Map<string, Set<number>>();
  private judged: FabricView | undefined;

  constructor(private readonly plan: Plan, private readonly o: RunOptions) {
    this.log = (o.logger ?? pino({ level: 'silent' })).child({ module: 'sim' });
    this.timers = { nicPollMs: o.timers?.nicPollMs ?? 10_000, heartbeatMs: o.timers?.heartbeatMs ?? 10_000 };
    this.settleMs = o.settleTimeoutMs ?? plan.settleTimeoutMs;
  }

  async run(): Promise<RunReport> {
    const t0 = performance.now();
    await this.startServices();
    const tc = performance.now();
    await this.createObjects();
    const createMs = performance.now() - tc;
    const ta = performance.now();
    await this.startAgents();
    const agentsStartMs = performance.now() - ta;
    this.o.onProgress?.({ phase: 'boot', done: 0, total: this.hosts.size });
    const boot = await this.converge(new Set(this.hosts.keys()), ta, (done) => this.o.onProgress?.({ phase: 'boot', done, total: this.hosts.size }));

    const steps: StepReport[] = [];
    const checkpoints: CheckpointReport[] = [];
    let since: StepReport[] = [];
    let notConverged: string[] = boot.converged ? [] : boot.pending;
    let messagesAt = { lookup: 0, controller: 0, events: 0 };
    const checkpointAt = async (cp: CheckpointDecl, line: number) => {
      const report = await this.checkpoint(cp, line, since, messagesAt, notConverged);
      checkpoints.push(report);
      since = [];
      notConverged = [];
      messagesAt = { ...this.counter };
    };
    // The state after boot is always judged, as checkpoint "boot".
    since = [{ index: 0, op: 'boot', what: 'boot', line: 0, convergeMs: boot.ms, converged: boot.converged, hostsWatched: this.hosts.size }];
    await checkpointAt({ name: 'boot', default: true, reach: [], isolated: [] }, 0);
    let index = 0;
    for (const step of this.plan.steps) {
      index++;
      this.o.onProgress?.({ phase: 'steps', done: index, total: this.plan.steps.length });
      if (step.op === 'checkpoint') {
        await checkpointAt(step.checkpoint, step.where.line);
        continue;
      }
      const r = await this.step(step, index);
      steps.push(r.report);
      since.push(r.report);
      if (!r.report.converged) notConverged.push(...r.pending.map((p) => `step ${index} (line ${step.where.line}) ${r.report.what}: ${p}`));
    }
    if (since.length > 0) await checkpointAt({ name: 'end', default: true, reach: [], isolated: [] }, 0);

    const violationCount = checkpoints.reduce((n, c) => n + c.violationCount, 0);
    const nets = this.plan.networks.length;
    return {
      topology: this.plan.name, seed: this.plan.seed, dataplane: 'sim',
      hosts: this.hosts.size, tenants: this.plan.tenants.length, networks: nets, nics: this.controller.state.nics.size,
      lookups: this.plan.lookups,
      boot: { createMs, agentsStartMs, convergeMs: boot.ms, converged: boot.converged },
      steps, checkpoints, ok: violationCount === 0, violationCount,
      wallMs: performance.now() - t0, memory: memoryMiB(),
    };
  }

  // ---- services and objects -------------------------------------------------------------------

  private async startServices(): Promise<void> {
    this.controller = await Controller.open(this.store);
    this.server = new RpcServer({ identity: 'sim-controller', logger: this.log });
    registerController(this.server, this.controller);
    const bound = await this.server.listen('127.0.0.1', 0);
    this.controllerAddress = `127.0.0.1:${bound.port}`;
    this.operator = new RpcClient({
      address: this.controllerAddress, role: vxfab.v1.Role.ROLE_CLI, identity: 'sim-operator', logger: this.log,
      timeoutMs: CONTROLLER_CALL_MS, reconnect: { minMs: 50, maxMs: 500 },
    });
    this.plan.lookups.forEach((name, i) => this.lookups.push(new SimLookup(name, i === 0, this.store, this.controllerAddress, this.log)));
    // The replicas follow the controller, so it starts first; the primary must be up before any
    // object exists so that it loads an empty store and follows every commit.
    for (const l of this.lookups) await l.start();
  }

  private async createObjects(): Promise<void> {
    const p = this.plan;
    const total = p.tenants.length + p.networks.length + p.hosts.length + p.nics.length;
    let done = 0;
    const tick = () => {
      done++;
      if (done % 256 === 0 || done === total) this.o.onProgress?.({ phase: 'create', done, total });
    };
    await this.pipelined(p.tenants, async (name) => { await this.operator.call(Methods.CreateTenant, { name }); tick(); });
    await this.pipelined(p.networks, async (n) => {
      await this.operator.call(Methods.CreateNetwork, { tenant: n.tenant, name: n.name, vnid: n.vnid ?? 0, subnet4: n.subnet ?? '', subnet6: n.subnet6 ?? '' });
      tick();
    });
    await this.pipelined(p.hosts, async (h) => { await this.operator.call(Methods.AddNode, { name: h.name, underlay: h.underlay, port: 4789 }); tick(); });
    await this.pipelined(p.nics, async (n) => { await this.createNic(n); tick(); });
  }

  private async createNic(n: PlanNic): Promise<Nic> {
    const [tenant, network] = n.network.split('/') as [string, string];
    const nic = nicFrom(await this.operator.call(Methods.CreateNic, { tenant, network, node: n.host, mac: n.mac ?? '', ips: n.ip ? [n.ip] : [] }));
    this.nicIds.set(n.name, nic.id);
    this.nicNames.set(nic.id, n.name);
    return nic;
  }

  private async pipelined<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length) await fn(items[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency ?? 256, items.length) }, worker));
  }

  private async startAgents(): Promise<void> {
    const cutHosts = new Set(this.plan.steps.flatMap((s) => (s.op === 'cut' ? [s.host] : [])));
    const faulty = this.o.fault && new Set(this.o.fault.hosts ?? this.plan.hosts.map((h) => h.name));
    for (const h of this.plan.hosts) {
      const host = new SimHostRuntime(h, faulty?.has(h.name) ? this.o.fault!.kind : undefined);
      this.hosts.set(h.name, host);
      const touched = () => {
        host.lastWriteAt = performance.now();
        this.dirty.add(host.name);
        this.wake?.();
      };
      host.onNetworkChange = () => {
        this.matched.delete(host.name);
        touched();
      };
      host.dp.observeWrites((w) => {
        this.matched.get(host.name)?.add(w.vnid);
        touched();
        const m = this.moveWatch;
        if (m && w.table === 'fdb' && w.op === 'set' && w.key === m.mac && w.vnid === m.vnid) m.at.set(host.name, host.lastWriteAt);
      });
      await host.route(this.lookups.map((l) => l.address), cutHosts.has(h.name));
    }
    let done = 0;
    await this.pipelined([...this.hosts.values()], async (host) => {
      await host.startAgent(this.controllerAddress, this.counter, this.timers, this.log);
      done++;
      if (done % 50 === 0 || done === this.hosts.size) this.o.onProgress?.({ phase: 'agents', done, total: this.hosts.size });
    });
  }

  // ---- the fabric as the checker sees it ------------------------------------------------------

  /** SimEndpoints by NIC id, reused while the NIC is unchanged: a view is built twice per step,
   * and 20,000 fresh endpoints each time kept the young generation busy while moves were timed. */
  private readonly endpointCache = new Map<string, { nic: Nic; node: string; ips: string[]; revision: number; e: SimEndpoint }>();

  private lastView: FabricView | undefined;

  /** The fabric now; built from the last view, sharing the indexes of the networks no NIC changed
   * in (the last view itself when nothing changed). */
  private view(): FabricView {
    const endpoints: SimEndpoint[] = [];
    const changed = new Set<number>();
    for (const nic of this.controller.state.nics.values()) {
      const id = nic.id;
      const cached = this.endpointCache.get(id);
      if (cached !== undefined && cached.nic === nic && cached.node === nic.node && cached.ips === nic.ips && cached.revision === nic.revision) {
        endpoints.push(cached.e);
        continue;
      }
      if (cached !== undefined) changed.add(cached.e.vnid);
      changed.add(nic.vnid);
      const e: SimEndpoint = {
        name: this.nicNames.get(id) ?? id, network: `${nic.tenant}/${nic.network}`, vnid: nic.vnid, host: nic.node,
        mac: nic.mac.toLowerCase(), ips: nic.ips,
      };
      this.endpointCache.set(id, { nic, node: nic.node, ips: nic.ips, revision: nic.revision, e });
      endpoints.push(e);
    }
    if (this.endpointCache.size > endpoints.length) {
      for (const [id, c] of this.endpointCache) {
        if (this.controller.state.nics.has(id)) continue;
        this.endpointCache.delete(id);
        changed.add(c.e.vnid);
      }
    }
    const last = this.lastView;
    if (last !== undefined && changed.size === 0) return last;
    this.lastView = new FabricView(this.hosts as Map<string, SimHostRuntime>, endpoints, last && { view: last, changed });
    return this.lastView;
  }

  /** Waits until every healthy host of `watched` matches the desired state; the time is from
   * `since` to the last write that made a host match. */
  private async converge(watched: Set<string>, since: number, onProgress?: (done: number) => void, move?: MoveWatch):
    Promise<{ ms: number; converged: boolean; pending: string[]; propagateMs?: number }> {
    const pending = new Set([...watched].filter((h) => !this.hosts.get(h)?.impaired));
    const total = pending.size;
    let last = since;
    // A move: every other host carrying the network must point the MAC at the new host.
    const movePending = new Set(move ? move.hosts.filter((h) => !this.hosts.get(h)?.impaired) : []);
    let propagated = since;
    const checkMove = () => {
      for (const h of [...movePending]) {
        if (this.hosts.get(h)!.dp.fdbLookup(move!.vnid, move!.mac) !== move!.underlay) continue;
        movePending.delete(h);
        propagated = Math.max(propagated, move!.at.get(h) ?? since);
      }
    };
    if (move) checkMove();
    const deadline = performance.now() + this.settleMs;
    const nap = () => new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 20);
      this.wake = () => { clearTimeout(timer); this.wake = undefined; setTimeout(resolve, 5); };
    });
    // The agents are reacting to the step right now, in this thread: let them run before the
    // first look instead of holding them up with it (building the view and comparing tables takes
    // tens of ms at 1,000 hosts) — until the move is seen everywhere and a nap passes without a
    // write. The time recorded for a host is that of its last write (or `since` if it wrote
    // nothing), and a move's that of each carrier's write, so looking late costs no precision.
    for (;;) {
      this.dirty.clear();
      await nap();
      if (move) checkMove();
      if (performance.now() >= deadline || (this.dirty.size === 0 && movePending.size === 0)) break;
    }
    const view = this.view();
    // What the step changed in the desired state: those networks are to be compared again.
    const changed = this.judged === undefined ? undefined : changedVnids(this.judged, view);
    if (changed === undefined) this.matched.clear();
    else {
      for (const vnid of changed) {
        for (const h of [...this.judged!.carriers(vnid), ...view.carriers(vnid)]) this.matched.get(h)?.add(vnid);
      }
    }
    this.judged = view;
    const check = (h: string, full = false) => {
      const known = full ? undefined : this.matched.get(h);
      if (diffHost(view, h, 1, known).length > 0) return;
      this.matched.set(h, new Set());
      pending.delete(h);
      last = Math.max(last, this.hosts.get(h)!.lastWriteAt);
    };
    this.dirty.clear();
    for (const h of [...pending]) check(h);
    if (move) checkMove();
    // A host changes only by writes and network creations/removals, all observed: only hosts
    // touched since the last look are checked. A slow full look is a safety net.
    let fullAt = performance.now() + 1000;
    while ((pending.size > 0 || movePending.size > 0) && performance.now() < deadline) {
      await nap();
      const now = performance.now();
      const full = now >= fullAt;
      if (full) fullAt = now + 1000;
      const toCheck = full ? [...pending] : [...this.dirty].filter((h) => pending.has(h));
      this.dirty.clear();
      for (const h of toCheck) check(h, full);
      if (move) checkMove();
      onProgress?.(total - pending.size);
    }
    this.wake = undefined;
    const left = [...pending].slice(0, 5).flatMap((h) => diffHost(view, h, 2).map(formatDiff));
    this.moveWatch = undefined;
    return {
      ms: (pending.size > 0 ? performance.now() : last) - since, converged: pending.size === 0, pending: left,
      ...(move && movePending.size === 0 ? { propagateMs: propagated - since } : {}),
    };
  }

  // ---- steps ------------------------------------------------------------------------------------

  private async step(s: Exclude<PlanStep, { op: 'checkpoint' }>, index: number): Promise<{ report: StepReport; pending: string[] }> {
    const before = this.view();
    const carriers = (vnid: number, after = false) => (after ? this.view() : before).carriers(vnid);
    const all = new Set(this.hosts.keys());
    let watched = new Set<string>();
    let what: string;
    let move: MoveWatch | undefined;
    const t0 = performance.now();
    switch (s.op) {
      case 'create': {
        what = `create ${s.nic.name} on ${s.nic.host} in ${s.nic.network}`;
        const nic = await this.createNic(s.nic);
        this.hosts.get(s.nic.host)!.agent?.kick(); // the attach: the orchestrator tells the agent
        watched = new Set([...carriers(nic.vnid), s.nic.host]);
        break;
      }
      case 'delete': {
        what = `delete ${s.nic}`;
        const nic = this.controller.getNic(this.nicIds.get(s.nic)!);
        const was = carriers(nic.vnid);
        await this.operator.call(Methods.DeleteNic, { id: nic.id });
        this.hosts.get(nic.node)!.agent?.kick(); // the detach
        watched = new Set(was);
        break;
      }
      case 'move': {
        what = `move ${s.nic} to ${s.to}`;
        const nic = this.controller.getNic(this.nicIds.get(s.nic)!);
        const from = nic.node;
        const was = carriers(nic.vnid);
        move = {
          vnid: nic.vnid, mac: nic.mac.toLowerCase(), underlay: this.hosts.get(s.to)!.underlay,
          hosts: was.filter((h) => h !== s.to && h !== from), at: new Map(),
        };
        this.moveWatch = move;
        await this.operator.call(Methods.MoveNic, { id: nic.id, node: s.to });
        this.hosts.get(s.to)!.agent?.kick();
        this.hosts.get(from)!.agent?.kick();
        watched = new Set([...was, s.to]);
        what += ` (from ${from})`;
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
        await h.startAgent(this.controllerAddress, this.counter, this.timers, this.log);
        if (h.impaired === 'agent stopped') h.impaired = h.canBeCut && this.isCut(h) ? 'cut off from the lookup service' : undefined;
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
        await this.lookups.find((l) => l.name === s.replica)!.stop();
        watched = all;
        break;
      }
      case 'start-lookup': {
        what = `start lookup ${s.replica}`;
        await this.lookups.find((l) => l.name === s.replica)!.start();
        watched = all;
        break;
      }
    }
    const c = await this.converge(watched, t0, undefined, move);
    return {
      report: {
        index, op: s.op, what, line: s.where.line, convergeMs: c.ms, converged: c.converged, hostsWatched: watched.size,
        ...(c.propagateMs !== undefined ? { propagateMs: c.propagateMs } : {}),
      },
      pending: c.pending,
    };
  }

  private readonly cutHosts = new Set<string>();
  private moveWatch: MoveWatch | undefined;

  private isCut(h: SimHostRuntime): boolean {
    return this.cutHosts.has(h.name);
  }

  private async checkpoint(cp: CheckpointDecl, line: number, steps: StepReport[], messagesAt: { lookup: number; controller: number; events: number }, notConverged: string[]): Promise<CheckpointReport> {
    let result = checkFabric(this.view(), { default: cp.default, reach: cp.reach, isolated: cp.isolated, seed: this.plan.seed });
    // On-demand hosts resolve misses asynchronously (the walk itself reported them to the agent):
    // give the agents a moment and walk again.
    for (let i = 0; i < 10 && result.misses > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      result = checkFabric(this.view(), { default: cp.default, reach: cp.reach, isolated: cp.isolated, seed: this.plan.seed });
    }
    const violations = [...notConverged.map((message) => ({ kind: 'table' as const, message: `not converged: ${message}` })), ...result.violations];
    const entries = [...this.hosts.values()].map((h) => h.dp.entryCount());
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

  async close(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((h) => h.close().catch(() => undefined)));
    await this.operator?.close().catch(() => undefined);
    for (const l of this.lookups) await l.close().catch(() => undefined);
    await this.server?.close().catch(() => undefined);
    await this.controller?.idle().catch(() => undefined);
    await this.store.close().catch(() => undefined);
  }
}
