// Runs a topology: a real controller (on a MemoryStore), real lookup servers and one real agent per
// host, all in this process and all talking over loopback TCP; only the kernel is replaced by a
// SimDataPlane per host. The timeline (timeline.ts) is the linux runner's too; what is the
// simulator's own: its hosts (sim-host.ts, optionally over a faulty data plane), a NIC "plugged"
// by kicking its host's agent, and checkpoints judged by walking frames through the tables
// (checker.ts).
import { pino, type Logger } from 'pino';
import { checkFabric, type CheckOptions } from './checker.js';
import type { Fault } from './faulty-dataplane.js';
import type { AgentTimers } from './host-runtime.js';
import { SimHostRuntime } from './sim-host.js';
import type { RunReport } from './report.js';
import { TimelineRun, type Judgement, type Progress } from './timeline.js';
import type { CheckpointDecl, Plan, PlanHost } from './topology.js';

export type { Progress } from './timeline.js';

export interface RunOptions {
  logger?: Logger;
  /** Break the agents of these hosts (default: all) with a faulty data plane. */
  fault?: { kind: Fault; hosts?: string[] };
  /** Overrides the file's settle timeout (ms): a wait for convergence gives up after this long
   * without progress. */
  settleTimeoutMs?: number;
  /** The hard limit of one wait for convergence (ms). Default 20 × the settle timeout (DEADLINE_STALLS). */
  deadlineMs?: number;
  timers?: Partial<AgentTimers>;
  onProgress?: (p: Progress) => void;
  /** NIC creations in flight at once during boot. Default 256. */
  concurrency?: number;
}

export async function runTopology(plan: Plan, options: RunOptions = {}): Promise<RunReport> {
  const sim = new Simulation(plan, options);
  try {
    return await sim.run();
  } finally {
    await sim.close();
  }
}

class Simulation extends TimelineRun<SimHostRuntime> {
  private readonly faulty: Set<string> | undefined;

  constructor(plan: Plan, private readonly o: RunOptions) {
    super(plan, {
      dataplane: 'sim',
      log: (o.logger ?? pino({ level: 'silent' })).child({ module: 'sim' }),
      settleMs: o.settleTimeoutMs ?? plan.settleTimeoutMs,
      deadlineMs: o.deadlineMs,
      callTimeoutMs: 30_000,
      timers: { nicPollMs: o.timers?.nicPollMs ?? 10_000, heartbeatMs: o.timers?.heartbeatMs ?? 10_000 },
      concurrency: o.concurrency ?? 256,
      onProgress: o.onProgress,
    });
    this.faulty = o.fault && new Set(o.fault.hosts ?? plan.hosts.map((h) => h.name));
  }

  protected override newHost(spec: PlanHost): SimHostRuntime {
    return new SimHostRuntime(spec, this.faulty?.has(spec.name) ? this.o.fault!.kind : undefined);
  }

  /** The NIC exists in the controller: the orchestrator tells the agent of its host. */
  protected override async plug(nic: string): Promise<void> {
    this.hosts.get(this.cp.nic(nic).node)!.agent?.kick();
  }

  protected override async judge(cp: CheckpointDecl): Promise<Judgement> {
    const options: CheckOptions = { default: cp.default, reach: cp.reach, isolated: cp.isolated, seed: this.plan.seed };
    // On-demand hosts resolve misses asynchronously (the walk itself reported them to the agent):
    // walked again while the agents are resolving them (timeline.ts).
    const result = await this.walkSettled(() => checkFabric(this.view(), options));
    const entries = [...this.hosts.values()].map((h) => h.dp.entryCount());
    return { violations: result.violations, violationCount: result.violationCount, walks: result.walks, entries };
  }
}
