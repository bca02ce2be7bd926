// One simulated host: its SimDataPlane (the "kernel", which outlives the agent), the real agent
// over it, the agent's own controller client, and — for hosts the timeline cuts off — a relay per
// lookup replica that the simulator can sever.
import type { Logger } from 'pino';
import { Agent } from '../agent/agent.js';
import { rpcControllerPort, rpcLookupDialer } from '../agent/rpc-ports.js';
import { SimDataPlane } from '../dataplane/sim/sim-dataplane.js';
import { vxfab } from '../wire/gen/proto.js';
import { RpcClient } from '../wire/transport/client.js';
import { parseAddress } from '../wire/transport/address.js';
import { countingController, countingDialer, type MessageCounter } from './counting-ports.js';
import { CutProxy } from './cut-proxy.js';
import { FaultyDataPlane, type Fault } from './faulty-dataplane.js';
import { ObservedDataPlane } from './observed-dataplane.js';
import type { SimHost } from './fabric.js';
import type { PlanHost } from './topology.js';

export interface AgentTimers {
  nicPollMs: number;
  heartbeatMs: number;
}

export class SimHostRuntime implements SimHost {
  readonly name: string;
  readonly underlay: string;
  readonly mode: PlanHost['mode'];
  readonly dp = new SimDataPlane();
  impaired: string | undefined;
  agent: Agent | undefined;
  private client: RpcClient | undefined;
  private readonly proxies: CutProxy[] = [];
  private lookupAddresses: string[] = [];
  lastWriteAt = 0;
  /** Called after a network was created or removed (table writes go through dp.observeWrites). */
  onNetworkChange: () => void = () => undefined;

  constructor(spec: PlanHost, readonly fault: Fault | undefined) {
    this.name = spec.name;
    this.underlay = spec.underlay;
    this.mode = spec.mode;
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

  get canBeCut(): boolean {
    return this.proxies.length > 0;
  }

  cut(): void {
    for (const p of this.proxies) p.cut();
  }

  heal(): void {
    for (const p of this.proxies) p.heal();
  }

  async startAgent(controller: string, counter: MessageCounter, timers: AgentTimers, log: Logger): Promise<void> {
    if (this.agent) return;
    this.client = new RpcClient({
      address: controller, role: vxfab.v1.Role.ROLE_AGENT, identity: this.name, logger: log,
      timeoutMs: 10_000, reconnect: { minMs: 50, maxMs: 500 },
    });
    const dataPlane = new ObservedDataPlane(this.fault === undefined ? this.dp : new FaultyDataPlane(this.dp, this.fault), () => this.onNetworkChange());
    this.agent = new Agent({
      node: this.name, underlay: this.underlay, mode: this.mode, dataPlane,
      controller: countingController(rpcControllerPort(this.client), counter),
      lookups: this.lookupAddresses,
      dialLookup: countingDialer(rpcLookupDialer({ identity: this.name, timeoutMs: 5000, logger: log }), counter),
      logger: log, nicPollMs: timers.nicPollMs, heartbeatMs: timers.heartbeatMs, reconcileMs: 0,
      link: { backoff: { minMs: 50, maxMs: 500 } },
    });
    await this.agent.start();
  }

  async stopAgent(): Promise<void> {
    const agent = this.agent;
    const client = this.client;
    this.agent = undefined;
    this.client = undefined;
    await agent?.close();
    await client?.close();
  }

  async close(): Promise<void> {
    await this.stopAgent();
    for (const p of this.proxies) await p.close();
    await this.dp.close();
  }
}
