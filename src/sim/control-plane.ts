// The control plane of a topology run, whichever the data plane: a real controller on a MemoryStore
// served on loopback TCP, the operator's client that creates objects through the wire API as an
// operator would, and the lookup servers (lookups.ts). Also keeps the topology file's NIC names,
// which the controller does not know.
import { pino, type Logger } from 'pino';
import { Controller } from '../controller/controller.js';
import { registerController } from '../controller/service.js';
import type { Nic } from '../model/objects.js';
import { DEFAULT_VTEP_PORT } from '../model/limits.js';
import { MemoryStore } from '../store/memory-store.js';
import { vxfab } from '../wire/gen/proto.js';
import { Controller as Methods } from '../wire/gen/services.js';
import { RpcClient } from '../wire/transport/client.js';
import { RpcServer } from '../wire/transport/server.js';
import { nicFrom } from '../wire/objects.js';
import type { SimEndpoint } from './fabric.js';
import { SimLookup } from './lookups.js';
import { SimPki } from './sim-pki.js';
import { controllerFacts } from '../controller/policy-facts.js';
import { authorizer, visible } from '../security/policy.js';
import type { Plan, PlanNic } from './topology.js';

export class ControlPlane {
  private readonly store = new MemoryStore({ logger: pino({ level: 'silent' }) });
  controller!: Controller;
  private server: RpcServer | undefined;
  /** Where agents reach the controller (set by start). */
  address = '';
  /** The run's CA and credentials (sim-pki.ts). */
  pki!: SimPki;
  operator!: RpcClient;
  readonly lookups: SimLookup[] = [];
  private readonly nicIds = new Map<string, string>();
  private readonly nicNames = new Map<string, string>();

  /** `callTimeoutMs`: the operator's calls. */
  constructor(private readonly log: Logger, private readonly callTimeoutMs: number) {}

  async start(lookupNames: string[]): Promise<void> {
    this.pki = await SimPki.create();
    this.controller = await Controller.open(this.store);
    lookupNames.forEach((name, i) => this.lookups.push(new SimLookup(name, i === 0, this.store, this.pki, this.log)));
    // The primary answers from the store in process: it starts first, before any object exists
    // (it loads an empty store and follows every commit), so that the controller's policy can ask
    // its index which hosts carry a network, as vxfab serve's does.
    const primary = this.lookups[0];
    await primary?.start();
    const facts = controllerFacts(this.controller.state, primary === undefined ? undefined : () => primary.index);
    this.server = new RpcServer({
      identity: 'sim-controller', logger: this.log,
      tls: { credentials: await this.pki.credentials({ kind: 'server', name: 'sim-controller' }) },
      authorize: authorizer(facts, this.log),
    });
    registerController(this.server, this.controller, (ctx, item) => visible(ctx.peer.principal, item));
    const bound = await this.server.listen('127.0.0.1', 0);
    this.address = `127.0.0.1:${bound.port}`;
    for (const l of this.lookups) l.controllerAddress = this.address;
    this.operator = new RpcClient({
      address: this.address, role: vxfab.v1.Role.ROLE_CLI, identity: 'sim-operator', logger: this.log,
      timeoutMs: this.callTimeoutMs, reconnect: { minMs: 50, maxMs: 500 },
      tls: await this.pki.client({ kind: 'admin', name: 'sim-operator' }),
    });
    // The replicas follow the controller, so it starts first.
    for (const l of this.lookups.slice(1)) await l.start();
  }

  /** Creates the plan's tenants, networks, hosts and NICs, `concurrency` calls in flight at once;
   * `tick` after each object. */
  async createObjects(p: Plan, concurrency: number, tick: () => void): Promise<void> {
    const all = <T>(items: T[], fn: (item: T) => Promise<unknown>) => pipelined(items, concurrency, async (item) => { await fn(item); tick(); });
    await all(p.tenants, (name) => this.operator.call(Methods.CreateTenant, { name }));
    await all(p.networks, (n) => this.operator.call(Methods.CreateNetwork, { tenant: n.tenant, name: n.name, vnid: n.vnid ?? 0, subnet4: n.subnet ?? '', subnet6: n.subnet6 ?? '' }));
    await all(p.hosts, (h) => this.operator.call(Methods.AddNode, { name: h.name, underlay: h.underlay, port: DEFAULT_VTEP_PORT }));
    await all(p.nics, (n) => this.createNic(n));
  }

  async createNic(n: PlanNic): Promise<Nic> {
    const [tenant, network] = n.network.split('/') as [string, string];
    const nic = nicFrom(await this.operator.call(Methods.CreateNic, { tenant, network, node: n.host, mac: n.mac ?? '', ips: n.ip ? [n.ip] : [] }));
    this.nicIds.set(n.name, nic.id);
    this.nicNames.set(nic.id, n.name);
    return nic;
  }

  /** The controller's id of the NIC the topology file names `name`. */
  nicId(name: string): string {
    return this.nicIds.get(name)!;
  }

  /** The NIC the topology file names `name`, as the controller has it now. */
  nic(name: string): Nic {
    return this.controller.getNic(this.nicId(name));
  }

  lookup(name: string): SimLookup {
    return this.lookups.find((l) => l.name === name)!;
  }

  /** SimEndpoints by NIC id, reused while the NIC is unchanged: a view is built twice per step,
   * and 20,000 fresh endpoints each time kept the young generation busy while moves were timed. */
  private readonly endpointCache = new Map<string, { nic: Nic; node: string; ips: string[]; revision: number; e: SimEndpoint }>();

  /** The NICs as the controller has them now, named as in the topology file; the vnids of the
   *  NICs that are new, changed or gone since the last call are added to `changed`. */
  endpoints(changed?: Set<number>): SimEndpoint[] {
    const endpoints: SimEndpoint[] = [];
    for (const nic of this.controller.state.nics.values()) {
      const id = nic.id;
      const cached = this.endpointCache.get(id);
      if (cached !== undefined && cached.nic === nic && cached.node === nic.node && cached.ips === nic.ips && cached.revision === nic.revision) {
        endpoints.push(cached.e);
        continue;
      }
      if (cached !== undefined) changed?.add(cached.e.vnid);
      changed?.add(nic.vnid);
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
        changed?.add(c.e.vnid);
      }
    }
    return endpoints;
  }

  /** Never throws: whatever was started is stopped. */
  async close(): Promise<void> {
    await this.operator?.close().catch(() => undefined);
    for (const l of this.lookups) await l.close().catch(() => undefined);
    await this.server?.close().catch(() => undefined);
    await this.controller?.idle().catch(() => undefined);
    await this.store.close().catch(() => undefined);
  }
}

/** Runs `fn` over `items` in order, at most `concurrency` at once. */
export async function pipelined<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
