// One namespaced host of a `--dataplane linux` run: its network namespace (with `ul0` on the
// underlay), the kernel data plane programming it (LinuxDataPlane, which outlives the agent as the
// kernel does), the real agent over it (in this process: only the data plane has to be real, the
// agent talks to the controller and the lookup servers over loopback TCP like the simulator's), and
// for hosts the timeline cuts off, a relay per lookup replica that can be severed.
import type { Logger } from 'pino';
import { Agent } from '../agent/agent.js';
import { rpcControllerPort, rpcLookupDialer } from '../agent/rpc-ports.js';
import { LinuxDataPlane } from '../dataplane/linux/linux-dataplane.js';
import { SimDataPlane } from '../dataplane/sim/sim-dataplane.js';
import { vxfab } from '../wire/gen/proto.js';
import { RpcClient } from '../wire/transport/client.js';
import { parseAddress } from '../wire/transport/address.js';
import { countingController, countingDialer, type MessageCounter } from './counting-ports.js';
import { CutProxy } from './cut-proxy.js';
import type { SimHost } from './fabric.js';
import { MirroredDataPlane } from './mirrored-dataplane.js';
import type { PlanHost } from './topology.js';

/** The host's underlay interface (in its namespace). */
export const UNDERLAY_DEV = 'ul0';

export class LinuxHostRuntime implements SimHost {
  readonly name: string;
  readonly underlay: string;
  readonly mode: PlanHost['mode'];
  /** What the agent wrote into the kernel (MirroredDataPlane): watched for convergence. */
  readonly dp = new SimDataPlane();
  readonly kernel: LinuxDataPlane;
  impaired: string | undefined;
  agent: Agent | undefined;
  private client: RpcClient | undefined;
  private readonly proxies: CutProxy[] = [];
  private lookupAddresses: string[] = [];
  lastWriteAt = 0;
  onNetworkChange: () => void = () => undefined;

  constructor(spec: PlanHost, readonly netns: string, log: Logger) {
    this.name = spec.name;
    this.underlay = spec.underlay;
    this.mode = spec.mode;
    this.kernel = new LinuxDataPlane({ netns, logger: log });
  }

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

  async startAgent(controller: string, counter: MessageCounter, log: Logger): Promise<void> {
    if (this.agent) return;
    this.client = new RpcClient({
      address: controller, role: vxfab.v1.Role.ROLE_AGENT, identity: this.name, logger: log,
      timeoutMs: 10_000, reconnect: { minMs: 50, maxMs: 500 },
    });
    this.agent = new Agent({
      node: this.name, underlay: this.underlay, underlayDev: UNDERLAY_DEV, mode: this.mode,
      dataPlane: new MirroredDataPlane(this.kernel, this.dp, () => this.onNetworkChange()),
      controller: countingController(rpcControllerPort(this.client), counter),
      lookups: this.lookupAddresses,
      dialLookup: countingDialer(rpcLookupDialer({ identity: this.name, timeoutMs: 5000, logger: log }), counter),
      // The runner tells the agent of every NIC plugged or unplugged here (syncNow), as `vxfab
      // endpoint attach` does; the poll is a safety net.
      logger: log, nicPollMs: 2000, heartbeatMs: 5000, reconcileMs: 0,
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

  /** Stops the agent, the relays and the kernel data plane's helper processes (`ip -batch`,
   * `ip monitor`); the namespace itself is the runner's to delete. */
  async close(): Promise<void> {
    await this.stopAgent();
    for (const p of this.proxies) await p.close();
    await this.kernel.close();
    await this.dp.close();
  }
}
