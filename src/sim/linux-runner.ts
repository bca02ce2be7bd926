// `vxfab topology run FILE --dataplane linux`: a small topology on real kernels. The control plane
// is the simulator's (a real controller on a MemoryStore and real lookup servers, in this process,
// on loopback TCP) and so are the agents (in this process); the data plane is real: one network
// namespace per host with kernel VXLAN devices and bridges programmed by LinuxDataPlane, an
// underlay switch (a bridge in its own namespace, one veth per host, 198.18.0.0/15), and one
// namespace per NIC plugged into its host's bridge as `vxfab endpoint attach` does (veth with the
// NIC's MAC, addresses and MTU). Timeline steps do what an orchestrator would (plug, unplug, move
// = unplug + plug elsewhere) and what an operator would (stop an agent, a lookup server, cut a
// host off); every checkpoint is judged with bounded pings (linux-checker.ts). The timeline itself
// (timeline.ts) is the simulator's; this file adds the namespaces, plugging and pinging.
//
// Bounded: each step waits until no progress for the settle timeout (at most its deadline), each ping ~3 s, the whole run `maxRunMs`.
// Every namespace, helper process and server is removed at the end, on failure and on SIGINT/SIGTERM;
// namespaces left by a killed run (prefix vxt-topo-PID-) are removed before a new one starts.
import { pino, type Logger } from 'pino';
import { attachEndpoint, detachEndpoint } from '../agent/endpoint.js';
import { VxfabError } from '../model/errors.js';
import { checkLinuxFabric, readKernels } from './linux-checker.js';
import { LinuxHostRuntime, UNDERLAY_DEV } from './linux-host.js';
import { checkLinuxPlan, linuxPrivilegeProblem } from './linux-limits.js';
import { NamespaceSet, ipMust } from './netns.js';
import { ENDPOINT_IF, answerBroadcastPings } from './pings.js';
import type { RunReport } from './report.js';
import { TimelineRun, type Judgement, type Progress } from './timeline.js';
import type { CheckpointDecl, Plan, PlanHost } from './topology.js';

export interface LinuxRunOptions {
  logger?: Logger;
  /** Overrides the file's settle timeout (ms). */
  settleTimeoutMs?: number;
  /** The hard limit of one wait for convergence (ms). Default 20 × the settle timeout (DEADLINE_STALLS). */
  deadlineMs?: number;
  onProgress?: (p: Progress) => void;
  /** The whole run, setup and cleanup aside; default 300000 ms. */
  maxRunMs?: number;
  /** Namespace name prefix; default vxt-topo. */
  prefix?: string;
  /** Remove namespaces on SIGINT/SIGTERM and exit (130/143). Default true; tests running the
   * runner in their own process may turn it off. */
  handleSignals?: boolean;
}

const UNDERLAY_PREFIX_LEN = 15;

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

class LinuxRun extends TimelineRun<LinuxHostRuntime> {
  private readonly hostNs = new Map<string, string>();
  private readonly nss: NamespaceSet;
  /** NIC name → its endpoint namespace (it lives as long as the NIC: a move re-plugs it). */
  private readonly endpointNs = new Map<string, string>();
  /** NICs that could not be plugged (their host's agent was stopped and had no bridge yet). */
  private readonly unplugged = new Set<string>();
  private nextEndpoint = 0;

  constructor(plan: Plan, o: LinuxRunOptions) {
    super(plan, {
      dataplane: 'linux',
      log: (o.logger ?? pino({ level: 'silent' })).child({ module: 'sim/linux' }),
      settleMs: o.settleTimeoutMs ?? plan.settleTimeoutMs,
      deadlineMs: o.deadlineMs,
      callTimeoutMs: 10_000,
      // The runner tells the agent of every NIC plugged or unplugged here (syncNow), as `vxfab
      // endpoint attach` does; the poll is a safety net.
      timers: { nicPollMs: 2000, heartbeatMs: 5000 },
      // One at a time: each creation and agent start is a handful of `ip` commands.
      concurrency: 1,
      onProgress: o.onProgress,
    });
    this.nss = new NamespaceSet(o.prefix ?? 'vxt-topo');
  }

  protected override async prepare(): Promise<void> {
    const stale = await this.nss.cleanStale();
    if (stale.length > 0) this.log.warn({ stale }, 'removed namespaces left by an earlier run');
  }

  /** The underlay switch: a bridge in its own namespace, one veth per host (`ul0` in the host's
   * namespace, with the host's underlay address on one /15 link). */
  protected override async buildUnderlay(): Promise<void> {
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

  protected override newHost(spec: PlanHost): LinuxHostRuntime {
    return new LinuxHostRuntime(spec, this.hostNs.get(spec.name)!, this.log);
  }

  /** The declared NICs are plugged once their hosts' agents run. */
  protected override async agentsStarted(): Promise<void> {
    for (const n of this.plan.nics) await this.plug(n.name);
  }

  // ---- endpoints --------------------------------------------------------------------------------

  /** Plugs a NIC into its host as an orchestrator would: the agent syncs (so the network's bridge
   * exists), then the veth goes into the bridge. With the agent stopped, a NIC whose bridge is not
   * there stays unplugged until the agent starts. */
  protected override async plug(name: string): Promise<void> {
    const nic = this.cp.nic(name);
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
        nic, network: this.cp.controller.getNetwork(nic.tenant, nic.network), netns: ns, ifname: ENDPOINT_IF,
        hostNetns: host.netns, bridgeWaitMs: host.agent ? this.settleMs : 0,
      });
      this.unplugged.delete(name);
    } catch (e) {
      if (host.agent) throw e;
      this.unplugged.add(name);
      this.log.info({ nic: name, host: host.name }, 'agent stopped and no bridge yet: plugged when it starts');
    }
  }

  /** A deleted NIC's namespace goes too; a moved one keeps it for the new host. */
  protected override async unplug(name: string, node: string, deleting: boolean): Promise<void> {
    await detachEndpoint(this.cp.nicId(name), this.hostNs.get(node)!);
    this.unplugged.delete(name);
    if (!deleting) return;
    await this.nss.remove(this.endpointNs.get(name)!);
    this.endpointNs.delete(name);
  }

  /** NICs that could not be plugged while the agent was stopped are plugged now. */
  protected override async agentRestarted(h: LinuxHostRuntime): Promise<void> {
    for (const name of [...this.unplugged]) if (this.cp.nic(name).node === h.name) await this.plug(name);
  }

  // ---- checkpoints ------------------------------------------------------------------------------

  protected override async judge(cp: CheckpointDecl): Promise<Judgement> {
    const view = this.view();
    const kernel = await readKernels(this.hosts.values(), [...view.byName.values()]);
    const result = await checkLinuxFabric(view, kernel, {
      default: cp.default, reach: cp.reach, isolated: cp.isolated, seed: this.plan.seed, endpointNs: this.endpointNs,
    });
    const unplugged = [...this.unplugged].map((n) => `${n} is not plugged in: its host's agent is stopped and had no bridge for it`);
    if (unplugged.length > 0) this.log.info({ unplugged }, 'checkpoint with unplugged NICs');
    const entries = [...kernel.hosts.values()].map((h) => h.dp.entryCount());
    return { violations: result.violations, violationCount: result.violationCount, walks: result.pings, entries };
  }

  // ---- cleanup ----------------------------------------------------------------------------------

  /** Every namespace goes last: the agents and kernel helper processes ran inside them. */
  protected override async closeDataPlane(): Promise<void> {
    await this.nss.cleanup();
  }
}
