// `vxfab topology run FILE --dataplane linux`: a small topology on real kernels. The control plane
// is the simulator's (a real controller on a MemoryStore and real lookup servers, in this process,
// on loopback TCP) and so are the agents (in this process); the data plane is real: one network
// namespace per host with kernel VXLAN devices and bridges programmed by LinuxDataPlane, an
// underlay switch (a bridge in its own namespace, one veth per host, 198.18.0.0/15), and one
// namespace per NIC plugged into its host's bridge as `vxfab endpoint attach` does (veth with the
// NIC's MAC, addresses and MTU). Timeline steps do what an orchestrator would (plug, unplug, move
// = unplug + plug elsewhere) and what an operator would (stop an agent, a lookup server, cut a
// host off); every checkpoint is judged with bounded pings (linux-checker.ts).
//
// Bounded: each step waits at most the settle timeout, each ping ~3 s, the whole run `maxRunMs`.
// Every namespace, helper process and server is removed at the end, on failure and on SIGINT/SIGTERM;
// namespaces left by a killed run (prefix vxt-topo-PID-) are removed before a new one starts.
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import { attachEndpoint, detachEndpoint } from '../agent/endpoint.js';
import { Controller } from '../controller/controller.js';
import { registerController } from '../controller/service.js';
import { VxfabError } from '../model/errors.js';
import type { Nic } from '../model/objects.js';
import { MemoryStore } from '../store/memory-store.js';
import { vxfab } from '../wire/gen/proto.js';
import { Controller as Methods } from '../wire/gen/services.js';
import { RpcClient } from '../wire/transport/client.js';
import { RpcServer } from '../wire/transport/server.js';
import { nicFrom } from '../wire/objects.js';
import { MessageCounter } from './counting-ports.js';
import { diffHost, formatDiff } from './desired.js';
import { FabricView, type SimEndpoint } from './fabric.js';
import { checkLinuxFabric, readKernels } from './linux-checker.js';
import type { AgentContext } from './host-runtime.js';
import { LinuxHostRuntime, UNDERLAY_DEV } from './linux-host.js';
import { checkLinuxPlan, linuxPrivilegeProblem } from './linux-limits.js';
import { SimLookup } from './lookups.js';
import { NamespaceSet, ipMust } from './netns.js';
import { ENDPOINT_IF, answerBroadcastPings } from './pings.js';
import { memoryMiB, percentile, type CheckpointReport, type RunReport, type StepReport } from './report.js';
import type { Progress } from './runner.js';
import type { CheckpointDecl, Plan, PlanNic, PlanStep } from './topology.js';

export interface LinuxRunOptions {
  logger?: Logger;
  /** Overrides the file's settle timeout (ms). */
  settleTimeoutMs?: number;
  onProgress?: (p: Progress) => void;
  /** The whole run, setup and cleanup aside; default 300000 ms. */
  maxRunMs?: number;
  /** Namespace name prefix; default vxt-topo. */
  prefix?: string;
  /** Remove namespaces on SIGINT/SIGTERM and exit (130/143). Default true; tests running the
   * runner in their own process may turn it off. */
  handleSignals?: boolean;
}

const CONTROLLER_CALL_MS = 10_000;
const UNDERLAY_PREFIX_LEN = 15;

interface MoveWatch {
  vnid: number;
  mac: string;
  underlay: string;
  hosts: string[];
  at: Map<string, number>;
}

export async function runLinuxTopology(plan: Plan, options: LinuxRunOptions = {}): Promise<RunReport> {
  checkLinuxPlan(plan);
  const problem = linuxPrivilegeProblem();
  if (problem !== undefined) throw new VxfabError('PERMISSION_DENIED', problem, { field: 'dataplane', value: 'linux' });
  const run = new LinuxRun(plan, options);
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`${signal}: removing the run's namespaces…\n`);
    const bounded = new Promise((r) => setTimeout(r, 10_000).unref());
    void Promise.race([run.close(), bounded]).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  const handle = options.handleSignals ?? true;
  if (handle) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const maxMs = options.maxRunMs ?? 300_000;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new VxfabError('DEADLINE_EXCEEDED', `--dataplane linux: the run took longer than ${maxMs} ms; stopped`,
      { field: 'maxRunMs', value: String(maxMs) })), maxMs);
  });
  const running = run.run();
  // After the deadline the run fails as its namespaces go: that failure is the deadline's.
  running.catch(() => undefined);
  try {
    return await Promise.race([running, deadline]);
  } finally {
    clearTimeout(timer);
    await run.close();
    if (handle) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}

class LinuxRun {
  private readonly log: Logger;
  private readonly store = new MemoryStore({ logger: pino({ level: 'silent' }) });
  private controller: Controller | undefined;
  private server: RpcServer | undefined;
  private controllerAddress = '';
  private operator: RpcClient | undefined;
  private readonly lookups: SimLookup[] = [];
  private readonly hosts = new Map<string, LinuxHostRuntime>();
  private readonly hostNs = new Map<string, string>();
  private readonly nss: NamespaceSet;
  private readonly nicIds = new Map<string, string>();
  private readonly nicNames = new Map<string, string>();
  /** NIC name → its endpoint namespace (it lives as long as the NIC: a move re-plugs it). */
  private readonly endpointNs = new Map<string, string>();
  /** NICs that could not be plugged (their host's agent was stopped and had no bridge yet). */
  private readonly unplugged = new Set<string>();
  private nextEndpoint = 0;
  private readonly counter = new MessageCounter();
  private readonly settleMs: number;
  private readonly cutHosts = new Set<string>();
  private moveWatch: MoveWatch | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly plan: Plan, private readonly o: LinuxRunOptions) {
    this.log = (o.logger ?? pino({ level: 'silent' })).child({ module: 'sim/linux' });
    this.settleMs = o.settleTimeoutMs ?? plan.settleTimeoutMs;
    this.nss = new NamespaceSet(o.prefix ?? 'vxt-topo');
  }

  private get agentContext(): AgentContext {
    // The runner tells the agent of every NIC plugged or unplugged here (syncNow), as `vxfab
    // endpoint attach` does; the poll is a safety net.
    return { controller: this.controllerAddress, counter: this.counter, timers: { nicPollMs: 2000, heartbeatMs: 5000 }, log: this.log };
  }

  private get ctl(): Controller {
    return this.controller!;
  }

  async run(): Promise<RunReport> {
    const t0 = performance.now();
    const stale = await this.nss.cleanStale();
    if (stale.length > 0) this.log.warn({ stale }, 'removed namespaces left by an earlier run');
    await this.startServices();
    const tc = performance.now();
    await this.createObjects();
    await this.buildUnderlay();
    const createMs = performance.now() - tc;
    const ta = performance.now();
    await this.startAgents();
    const agentsStartMs = performance.now() - ta;
    for (const n of this.plan.nics) await this.plug(n.name);
    const boot = await this.converge(new Set(this.hosts.keys()), ta);

    const steps: StepReport[] = [];
    const checkpoints: CheckpointReport[] = [];
    let since: StepReport[] = [{ index: 0, op: 'boot', what: 'boot', line: 0, convergeMs: boot.ms, converged: boot.converged, hostsWatched: this.hosts.size }];
    let notConverged: string[] = boot.converged ? [] : boot.pending;
    let messagesAt = { lookup: 0, controller: 0, events: 0 };
    const checkpointAt = async (cp: CheckpointDecl, line: number) => {
      checkpoints.push(await this.checkpoint(cp, line, since, messagesAt, notConverged));
      since = [];
      notConverged = [];
      messagesAt = { lookup: this.counter.lookup, controller: this.counter.controller, events: this.counter.events };
    };
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
    return {
      topology: this.plan.name, seed: this.plan.seed, dataplane: 'linux',
      hosts: this.hosts.size, tenants: this.plan.tenants.length, networks: this.plan.networks.length, nics: this.ctl.state.nics.size,
      lookups: this.plan.lookups,
      boot: { createMs, agentsStartMs, convergeMs: boot.ms, converged: boot.converged },
      steps, checkpoints, ok: violationCount === 0, violationCount,
      wallMs: performance.now() - t0, memory: memoryMiB(),
    };
  }

  // ---- control plane, objects, namespaces ---------------------------------------------------------

  private async startServices(): Promise<void> {
    this.controller = await Controller.open(this.store);
    this.server = new RpcServer({ identity: 'sim-controller', logger: this.log });
    registerController(this.server, this.controller);
    this.controllerAddress = `127.0.0.1:${(await this.server.listen('127.0.0.1', 0)).port}`;
    this.operator = new RpcClient({
      address: this.controllerAddress, role: vxfab.v1.Role.ROLE_CLI, identity: 'sim-operator', logger: this.log,
      timeoutMs: CONTROLLER_CALL_MS, reconnect: { minMs: 50, maxMs: 500 },
    });
    this.plan.lookups.forEach((name, i) => this.lookups.push(new SimLookup(name, i === 0, this.store, this.controllerAddress, this.log)));
    for (const l of this.lookups) await l.start();
  }

  private async createObjects(): Promise<void> {
    const op = this.operator!;
    this.o.onProgress?.({ phase: 'create', done: 0, total: 1 });
    for (const name of this.plan.tenants) await op.call(Methods.CreateTenant, { name });
    for (const n of this.plan.networks) {
      await op.call(Methods.CreateNetwork, { tenant: n.tenant, name: n.name, vnid: n.vnid ?? 0, subnet4: n.subnet ?? '', subnet6: n.subnet6 ?? '' });
    }
    for (const h of this.plan.hosts) await op.call(Methods.AddNode, { name: h.name, underlay: h.underlay, port: 4789 });
    for (const n of this.plan.nics) await this.createNic(n);
  }

  private async createNic(n: PlanNic): Promise<Nic> {
    const [tenant, network] = n.network.split('/') as [string, string];
    const nic = nicFrom(await this.operator!.call(Methods.CreateNic, { tenant, network, node: n.host, mac: n.mac ?? '', ips: n.ip ? [n.ip] : [] }));
    this.nicIds.set(n.name, nic.id);
    this.nicNames.set(nic.id, n.name);
    return nic;
  }

  /** The underlay switch: a bridge in its own namespace, one veth per host (`ul0` in the host's
   * namespace, with the host's underlay address on one /15 link). */
  private async buildUnderlay(): Promise<void> {
    const ul = await this.nss.add('ul');
    await ipMust(['-n', ul, 'link', 'add', 'ubr', 'type', 'bridge'], 'underlay bridge');
    await ipMust(['-n', ul, 'link', 'set', 'ubr', 'up'], 'underlay bridge up');
    let i = 0;
    for (const h of this.plan.hosts) {
      i++;
      const ns = await this.nss.add(`h${i}`);
      this.hostNs.set(h.name, ns);
      await ipMust(['-n', ul, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', UNDERLAY_DEV, 'netns', ns], `underlay link of ${h.name}`);
      await ipMust(['-n', ul, 'link', 'set', `p${i}`, 'master', 'ubr', 'up'], `underlay port of ${h.name}`);
      await ipMust(['-n', ns, 'addr', 'add', `${h.underlay}/${UNDERLAY_PREFIX_LEN}`, 'dev', UNDERLAY_DEV], `underlay address of ${h.name}`);
      await ipMust(['-n', ns, 'link', 'set', UNDERLAY_DEV, 'up'], `underlay up on ${h.name}`);
    }
  }

  private async startAgents(): Promise<void> {
    const cutHosts = new Set(this.plan.steps.flatMap((s) => (s.op === 'cut' ? [s.host] : [])));
    let done = 0;
    for (const h of this.plan.hosts) {
      const host = new LinuxHostRuntime(h, this.hostNs.get(h.name)!, this.log);
      this.hosts.set(h.name, host);
      const touched = () => {
        host.lastWriteAt = performance.now();
      };
      host.onNetworkChange = touched;
      host.dp.observeWrites((w) => {
        touched();
        const m = this.moveWatch;
        if (m && w.table === 'fdb' && w.op === 'set' && w.key === m.mac && w.vnid === m.vnid) m.at.set(host.name, host.lastWriteAt);
      });
      await host.route(this.lookups.map((l) => l.address), cutHosts.has(h.name));
      await host.startAgent(this.agentContext);
      this.o.onProgress?.({ phase: 'agents', done: ++done, total: this.plan.hosts.length });
    }
  }

  // ---- endpoints --------------------------------------------------------------------------------

  /** Plugs a NIC into its host as an orchestrator would: the agent syncs (so the network's bridge
   * exists), then the veth goes into the bridge. With the agent stopped, a NIC whose bridge is not
   * there stays unplugged until the agent starts. */
  private async plug(name: string): Promise<void> {
    const nic = this.ctl.getNic(this.nicIds.get(name)!);
    let ns = this.endpointNs.get(name);
    if (ns === undefined) {
      ns = await this.nss.add(`e${++this.nextEndpoint}`);
      await answerBroadcastPings(ns);
      this.endpointNs.set(name, ns);
    }
    const host = this.hosts.get(nic.node)!;
    if (host.agent) await host.agent.syncNow();
    try {
      await attachEndpoint({
        nic, network: this.ctl.getNetwork(nic.tenant, nic.network), netns: ns, ifname: ENDPOINT_IF,
        hostNetns: host.netns, bridgeWaitMs: host.agent ? this.settleMs : 0,
      });
      this.unplugged.delete(name);
    } catch (e) {
      if (host.agent) throw e;
      this.unplugged.add(name);
      this.log.info({ nic: name, host: host.name }, 'agent stopped and no bridge yet: plugged when it starts');
    }
  }

  private async unplug(name: string, node: string): Promise<void> {
    await detachEndpoint(this.nicIds.get(name)!, this.hostNs.get(node)!);
    this.unplugged.delete(name);
  }

  // ---- convergence ------------------------------------------------------------------------------

  private view(): FabricView {
    const endpoints: SimEndpoint[] = [];
    for (const [id, nic] of this.ctl.state.nics) {
      endpoints.push({ name: this.nicNames.get(id) ?? id, network: `${nic.tenant}/${nic.network}`, vnid: nic.vnid, host: nic.node, mac: nic.mac.toLowerCase(), ips: nic.ips });
    }
    return new FabricView(this.hosts, endpoints);
  }

  /** Waits until every healthy watched host's kernel writes (as mirrored) match the desired state. */
  private async converge(watched: Set<string>, since: number, move?: MoveWatch):
    Promise<{ ms: number; converged: boolean; pending: string[]; propagateMs?: number }> {
    const view = this.view();
    const pending = new Set([...watched].filter((h) => !this.hosts.get(h)?.impaired));
    const movePending = new Set(move ? move.hosts.filter((h) => !this.hosts.get(h)?.impaired) : []);
    let last = since;
    let propagated = since;
    const deadline = performance.now() + this.settleMs;
    for (;;) {
      for (const h of [...pending]) {
        if (diffHost(view, h, 1).length > 0) continue;
        pending.delete(h);
        last = Math.max(last, this.hosts.get(h)!.lastWriteAt);
      }
      for (const h of [...movePending]) {
        if (this.hosts.get(h)!.dp.fdbLookup(move!.vnid, move!.mac) !== move!.underlay) continue;
        movePending.delete(h);
        propagated = Math.max(propagated, move!.at.get(h) ?? since);
      }
      if ((pending.size === 0 && movePending.size === 0) || performance.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    this.moveWatch = undefined;
    return {
      ms: (pending.size > 0 ? performance.now() : last) - since, converged: pending.size === 0,
      pending: [...pending].slice(0, 5).flatMap((h) => diffHost(view, h, 2).map(formatDiff)),
      ...(move && movePending.size === 0 ? { propagateMs: propagated - since } : {}),
    };
  }

  // ---- steps ------------------------------------------------------------------------------------

  private async step(s: Exclude<PlanStep, { op: 'checkpoint' }>, index: number): Promise<{ report: StepReport; pending: string[] }> {
    const carriers = (vnid: number) => this.view().carriers(vnid);
    let watched = new Set<string>();
    let what: string;
    let move: MoveWatch | undefined;
    const t0 = performance.now();
    switch (s.op) {
      case 'create': {
        what = `create ${s.nic.name} on ${s.nic.host} in ${s.nic.network}`;
        const nic = await this.createNic(s.nic);
        await this.plug(s.nic.name);
        watched = new Set([...carriers(nic.vnid), s.nic.host]);
        break;
      }
      case 'delete': {
        what = `delete ${s.nic}`;
        const nic = this.ctl.getNic(this.nicIds.get(s.nic)!);
        const was = carriers(nic.vnid);
        await this.unplug(s.nic, nic.node);
        await this.nss.remove(this.endpointNs.get(s.nic)!);
        this.endpointNs.delete(s.nic);
        await this.operator!.call(Methods.DeleteNic, { id: nic.id });
        this.hosts.get(nic.node)!.agent?.kick();
        watched = new Set(was);
        break;
      }
      case 'move': {
        const nic = this.ctl.getNic(this.nicIds.get(s.nic)!);
        const from = nic.node;
        what = `move ${s.nic} to ${s.to} (from ${from})`;
        const was = carriers(nic.vnid);
        move = { vnid: nic.vnid, mac: nic.mac.toLowerCase(), underlay: this.hosts.get(s.to)!.underlay, hosts: was.filter((h) => h !== s.to && h !== from), at: new Map() };
        this.moveWatch = move;
        await this.unplug(s.nic, from);
        await this.operator!.call(Methods.MoveNic, { id: nic.id, node: s.to });
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
        for (const name of [...this.unplugged]) if (this.ctl.getNic(this.nicIds.get(name)!).node === h.name) await this.plug(name);
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
        watched = new Set(this.hosts.keys());
        break;
      }
      case 'start-lookup': {
        what = `start lookup ${s.replica}`;
        await this.lookups.find((l) => l.name === s.replica)!.start();
        watched = new Set(this.hosts.keys());
        break;
      }
    }
    const c = await this.converge(watched, t0, move);
    return {
      report: {
        index, op: s.op, what, line: s.where.line, convergeMs: c.ms, converged: c.converged, hostsWatched: watched.size,
        ...(c.propagateMs !== undefined ? { propagateMs: c.propagateMs } : {}),
      },
      pending: c.pending,
    };
  }

  // ---- checkpoints ------------------------------------------------------------------------------

  private async checkpoint(cp: CheckpointDecl, line: number, steps: StepReport[], messagesAt: { lookup: number; controller: number; events: number },
    notConverged: string[]): Promise<CheckpointReport> {
    const view = this.view();
    const kernel = await readKernels(this.hosts.values(), [...view.byName.values()]);
    const result = await checkLinuxFabric(view, kernel, {
      default: cp.default, reach: cp.reach, isolated: cp.isolated, seed: this.plan.seed, endpointNs: this.endpointNs,
    });
    const unplugged = [...this.unplugged].map((n) => `${n} is not plugged in: its host's agent is stopped and had no bridge for it`);
    const violations = [
      ...notConverged.map((message) => ({ kind: 'table' as const, message: `not converged: ${message}` })),
      ...result.violations,
    ];
    if (unplugged.length > 0) this.log.info({ unplugged }, 'checkpoint with unplugged NICs');
    const entries = [...kernel.hosts.values()].map((h) => h.dp.entryCount());
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
      entriesPerHost: { min: Math.min(...entries), max: Math.max(...entries), avg: entries.reduce((a, b) => a + b, 0) / Math.max(1, entries.length) },
      walks: result.pings,
      violationCount: result.violationCount + notConverged.length,
      violations,
      memory: memoryMiB(),
    };
  }

  // ---- cleanup ----------------------------------------------------------------------------------

  /** Idempotent and never throws: agents and kernel helper processes first (they run inside the
   * namespaces), then the servers, then every namespace. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.hosts.values()].map((h) => h.close().catch(() => undefined)));
      await this.operator?.close().catch(() => undefined);
      for (const l of this.lookups) await l.close().catch(() => undefined);
      await this.server?.close().catch(() => undefined);
      await this.controller?.idle().catch(() => undefined);
      await this.store.close().catch(() => undefined);
      await this.nss.cleanup();
    })();
    return this.closing;
  }
}
