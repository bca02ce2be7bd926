// One host of a topology run, whichever the data plane: the real agent (in the runner's process,
// with its own controller client), the tables the runner watches it write (`dp`), and — for hosts
// the timeline cuts off — a relay per lookup replica that the runner can sever. A subclass says
// what the agent programs: sim-host.ts a SimDataPlane (that same `dp`), linux-host.ts a namespace's
// kernel (mirrored into `dp`). Either data plane outlives the agent, as a kernel does.
import type { Logger } from 'pino';
import { Agent } from '../agent/agent.js';
import { rpcControllerPort, rpcLookupDialer } from '../agent/rpc-ports.js';
import type { DataPlane } from '../dataplane/dataplane.js';
import { SimDataPlane } from '../dataplane/sim/sim-dataplane.js';
import { vxfab } from '../wire/gen/proto.js';
import { RpcClient } from '../wire/transport/client.js';
import { parseAddress } from '../wire/transport/address.js';
import { countingController, countingDialer, type MessageCounter } from './counting-ports.js';
import { CutProxy } from './cut-proxy.js';
import type { SimHost } from './fabric.js';
import type { PlanHost } from './topology.js';
import type { SimPki } from './sim-pki.js';

export interface AgentTimers {
  nicPollMs: number;
  heartbeatMs: number;
}

/** What every agent of a run is started with. */
export interface AgentContext {
  /** The controller's address. */
  controller: string;
  counter: MessageCounter;
  timers: AgentTimers;
  log: Logger;
  /** The run's CA: the agent connects as its node, under the same policy as a real one. */
  pki: SimPki;
}

export abstract class HostRuntime implements SimHost {
  readonly name: string;
  readonly underlay: string;
  readonly mode: PlanHost['mode'];
  /** The tables as the agent wrote them: watched for convergence, walked by the sim checker. */
  readonly dp = new SimDataPlane();
  impaired: string | undefined;
  agent: Agent | undefined;
  private client: RpcClient | undefined;
  private readonly proxies: CutProxy[] = [];
  private lookupAddresses: string[] = [];
  lastWriteAt = 0;
  /** Called after a network was created or removed (table writes go through dp.observeWrites). */
  onNetworkChange: () => void = () => undefined;

  constructor(spec: PlanHost) {
    this.name = spec.name;
    this.underlay = spec.underlay;
    this.mode = spec.mode;
  }

  /** The data plane a new agent programs; it must call onNetworkChange after a network was
   * created or removed. */
  protected abstract agentDataPlane(): DataPlane;

  /** The agent's underlay interface, where the data plane has one. */
  protected underlayDev(): string | undefined {
    return undefined;
  }

  /** Sets where the agent finds lookup servers; with `relay`, through severable relays. */
  async route(lookups: string[], relay: boolean): Promise<void> {
    if (!relay) {
      this.lookupAddresses = lookups;
      return;
    }
    this.lookupAddresses = [];
    for (const address of lookups) {
      const proxy = new CutProxy(parseAddress(address));
      this.proxies.push(proxy);
      this.lookupAddresses.push(await proxy.start());
    }
  }

  cut(): void {
    for (const p of this.proxies) p.cut();
  }

  heal(): void {
    for (const p of this.proxies) p.heal();
  }

  async startAgent(ctx: AgentContext): Promise<void> {
    if (this.agent) return;
    const { controller, counter, timers, log } = ctx;
    const tls = await ctx.pki.client({ kind: 'node', node: this.name });
    this.client = new RpcClient({
      address: controller, role: vxfab.v1.Role.ROLE_AGENT, identity: this.name, logger: log,
      timeoutMs: 10_000, reconnect: { minMs: 50, maxMs: 500 }, tls,
    });
    const underlayDev = this.underlayDev();
    this.agent = new Agent({
      node: this.name, underlay: this.underlay, ...(underlayDev !== undefined ? { underlayDev } : {}), mode: this.mode,
      dataPlane: this.agentDataPlane(),
      controller: countingController(rpcControllerPort(this.client), counter),
      lookups: this.lookupAddresses,
      dialLookup: countingDialer(rpcLookupDialer({ identity: this.name, timeoutMs: 5000, logger: log, tls }), counter),
      logger: log, nicPollMs: timers.nicPollMs, heartbeatMs: timers.heartbeatMs, reconcileMs: 0,
      link: { backoff: { minMs: 50, maxMs: 500 } },
    });
    await this.agent.start();
  }

  /** What the agent is doing, for a convergence wait to tell a host that is still getting there
   * (slowly, on a busy machine) from one that is stuck: `starting` while it is not yet registered,
   * has not polled its NICs, has its lookup link neither up nor given up (degraded), or has a
   * network not yet loaded; `mark` changes whenever it applies a batch, sees or answers a miss,
   * follows the feed to a new revision or opens a lookup session. No agent: nothing to wait for. */
  settleProgress(): { starting: boolean; mark: string } {
    if (this.agent === undefined) return { starting: false, mark: 'stopped' };
    const s = this.agent.status();
    const starting = !s.controller.registered || !s.controller.lastPollOk || (s.lookup.state !== 'connected' && !s.lookup.degraded) ||
      s.networks.some((n) => !n.loaded);
    const mark = [s.writes.applies, s.misses.received, s.misses.resolved, s.misses.notFound, s.revision, s.lookup.sessions].join('/');
    return { starting, mark };
  }

  async stopAgent(): Promise<void> {
    const agent = this.agent;
    const client = this.client;
    this.agent = undefined;
    this.client = undefined;
    await agent?.close();
    await client?.close();
  }

  /** Stops the agent and the relays, then closes the data plane (closeDataPlane). */
  async close(): Promise<void> {
    await this.stopAgent();
    for (const p of this.proxies) await p.close();
    await this.closeDataPlane();
  }

  protected async closeDataPlane(): Promise<void> {
    await this.dp.close();
  }
}
