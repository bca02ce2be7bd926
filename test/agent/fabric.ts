// An in-process fabric for agent tests: a controller on a MemoryStore with its in-process lookup
// service, served on 127.0.0.1 port 0, plus extra lookup-only servers on the same index (for
// failover). Agents run over SimDataPlane and talk to it through the real RPC ports. Everything is
// stopped in the test's teardown.
import { pino } from 'pino';
import { Agent, type AgentMode, type AgentOptions, type AgentStatus } from '../../src/agent/agent.js';
import { rpcControllerPort, rpcLookupDialer } from '../../src/agent/rpc-ports.js';
import { Controller } from '../../src/controller/controller.js';
import { registerController } from '../../src/controller/service.js';
import { SimDataPlane } from '../../src/dataplane/sim/sim-dataplane.js';
import { startLocalLookup, type LocalLookup } from '../../src/lookup/local-feed.js';
import { registerLookup } from '../../src/lookup/service.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { RpcClient } from '../../src/wire/transport/client.js';
import { RpcServer } from '../../src/wire/transport/server.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

const quiet = pino({ level: process.env.VXFAB_TEST_LOG ?? 'silent' });

export interface LookupServer {
  address: string;
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

/** A lookup server with an index of its own that can be held behind the controller. */
export interface LaggingServer extends LookupServer {
  /** Stops applying the controller's commits (they queue). */
  pause(): void;
  /** Applies what queued and follows again. */
  catchUp(): void;
  readonly revision: number;
}

export class Fabric {
  readonly controller: Controller;
  readonly address: string;
  private constructor(controller: Controller, address: string, private readonly lookup: LocalLookup, private readonly t: Teardown,
    private readonly store: MemoryStore) {
    this.controller = controller;
    this.address = address;
  }

  static async start(t: Teardown): Promise<Fabric> {
    const store = new MemoryStore();
    const controller = await Controller.open(store);
    const lookup = await startLocalLookup(store, { logger: quiet });
    const server = new RpcServer({ identity: 'test-serve', logger: quiet });
    registerController(server, controller);
    registerLookup(server, lookup, { logger: quiet });
    const bound = await server.listen('127.0.0.1', 0);
    t.teardown(async () => {
      await server.close();
      lookup.close();
    });
    return new Fabric(controller, `127.0.0.1:${bound.port}`, lookup, t, store);
  }

  /** A lookup-only server answering from the same index (a stand-in for a replica). */
  async lookupServer(): Promise<LookupServer> {
    let server: RpcServer | undefined;
    let port = 0;
    const start = async (): Promise<void> => {
      server = new RpcServer({ identity: 'test-lookup', logger: quiet });
      registerLookup(server, this.lookup, { logger: quiet });
      port = (await server.listen('127.0.0.1', port)).port;
    };
    await start();
    const ls: LookupServer = {
      address: `127.0.0.1:${port}`,
      stop: async () => { await server?.close(); server = undefined; },
      start,
    };
    this.t.teardown(() => ls.stop());
    return ls;
  }

  /** A lookup-only server with its own index following the store, which pause() holds back (a
   *  replica whose change feed lags). */
  async laggingServer(): Promise<LaggingServer> {
    const store = this.store;
    let paused = false;
    const queued: Array<() => void> = [];
    const gated: Store = Object.create(store) as Store;
    Object.defineProperty(gated, 'revision', { get: () => store.revision });
    gated.scan = store.scan.bind(store);
    gated.onCommit = (listener) => store.onCommit((change) => {
      if (paused) queued.push(() => listener(change));
      else listener(change);
    });
    const lookup = await startLocalLookup(gated, { logger: quiet });
    let server: RpcServer | undefined;
    let port = 0;
    const start = async (): Promise<void> => {
      server = new RpcServer({ identity: 'test-lagging-lookup', logger: quiet });
      registerLookup(server, lookup, { logger: quiet });
      port = (await server.listen('127.0.0.1', port)).port;
    };
    await start();
    const ls: LaggingServer = {
      address: `127.0.0.1:${port}`,
      stop: async () => { await server?.close(); server = undefined; },
      start,
      pause: () => { paused = true; },
      catchUp: () => {
        paused = false;
        for (const f of queued.splice(0)) f();
      },
      get revision() { return lookup.index.revision; },
    };
    this.t.teardown(async () => {
      await ls.stop();
      lookup.close();
    });
    return ls;
  }

  /** Tenant "t1" with network "n1" (100.64.1.0/24) and nodes h1..h3 at 198.18.0.1..3. */
  async basic(vnid = 5001, tenant = 't1'): Promise<void> {
    await this.controller.createTenant(tenant).catch(() => undefined);
    await this.controller.createNetwork({ tenant, name: 'n1', vnid, subnet4: '100.64.1.0/24' });
    for (const i of [1, 2, 3]) await this.controller.registerNode(`h${i}`, `198.18.0.${i}`, 4789).catch(() => undefined);
  }

  nic(node: string, mac: string, ip: string, tenant = 't1', network = 'n1') {
    return this.controller.createNic({ tenant, network, node, mac, ips: [ip] });
  }

  /** An agent for `node` over a fresh SimDataPlane (or the one given). */
  async agent(node: string, mode: AgentMode, extra: Partial<AgentOptions> & { lookups?: string[]; dp?: SimDataPlane } = {}): Promise<{ agent: Agent; dp: SimDataPlane }> {
    const dp = extra.dp ?? new SimDataPlane();
    const client = new RpcClient({ address: this.address, role: vxfab.v1.Role.ROLE_AGENT, identity: node, logger: quiet, timeoutMs: 5000 });
    const agent = new Agent({
      node, underlay: `198.18.0.${node.slice(1)}`, mode, dataPlane: dp,
      controller: rpcControllerPort(client),
      lookups: extra.lookups ?? [this.address],
      dialLookup: rpcLookupDialer({ identity: node, timeoutMs: 2000, logger: quiet }),
      logger: quiet, nicPollMs: 200, heartbeatMs: 1000, reconcileMs: 0,
      link: { backoff: { minMs: 50, maxMs: 300 } },
      ...extra,
    });
    this.t.teardown(async () => {
      await agent.close();
      await client.close();
    });
    await agent.start();
    return { agent, dp };
  }
}

/** Waits until `pred(agent.status())` holds (checked on every change and every 50 ms). */
export async function until(agent: Agent, pred: (s: AgentStatus) => boolean, what: string, timeoutMs = 5000): Promise<AgentStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = agent.status();
    if (pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until `pred()` holds. */
export async function eventually(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function sortedEntries<K, V>(m: Map<K, V>): Array<[K, V]> {
  return [...m].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}
