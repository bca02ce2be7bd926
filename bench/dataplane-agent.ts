// The agent row of the data-plane bench's on-demand latency: the kernel miss goes through the real
// agent — Agent.onMiss → VL3 over the wire (vxfab RPC on loopback) to a real lookup service
// (`startServe`: controller + lookup on one port, LevelDB in a temp dir) → the agent's write queue
// and table diff → LinuxDataPlane.apply (neighbour + FDB entry) in the bench's namespace.
//
// Only the agent's data plane lives in the namespace (LinuxDataPlane({ netns })); the agent core and
// the control plane run in the bench process on 127.0.0.1. The data plane handed to the agent is the
// real one behind a thin pass-through that stamps, on the bench's clock, when a miss event arrived
// and when the apply carrying an IP's neighbour entry returned — the same points the baseline
// responder stamps. After the run the kernel tables are read back and every answered probe must
// have the neighbour entry of its NIC and an FDB entry to the remote node's underlay.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent } from '../src/agent/agent.js';
import type { LookupConnection, LookupDialer } from '../src/agent/ports.js';
import { rpcControllerPort, rpcLookupDialer } from '../src/agent/rpc-ports.js';
import { startServe, type RunningServer } from '../src/cli/serve.js';
import type { DataPlane, EnsureOutcome, MissListener, NetworkSpec, NetworkState, TableChanges, Tables } from '../src/dataplane/dataplane.js';
import { LinuxDataPlane } from '../src/dataplane/linux/linux-dataplane.js';
import { vxfab } from '../src/wire/gen/proto.js';
import { RpcClient } from '../src/wire/transport/client.js';
import { InstallWatch, ProberEndpoint, measureMisses, type MissSamples } from './miss-probe.js';
import { underlayHost, type Namespaces } from '../test/dataplane/netns.js';

const silent = pino({ level: 'silent' });
const TENANT = 'bench';
const NETWORK = 'net';
const LOCAL = { node: 'local', underlay: '198.18.0.1' };
const REMOTE = { node: 'remote', underlay: '198.18.0.2' };
const LOCAL_NIC_IP = '100.64.0.10';
const WARM = 20;

/** The real data plane, with the two instants the bench measures stamped on the way through. */
class StampedDataPlane implements DataPlane {
  readonly kind: DataPlane['kind'];

  constructor(private readonly dp: DataPlane, private readonly watch: InstallWatch) {
    this.kind = dp.kind;
  }

  ensureNetwork(spec: NetworkSpec): Promise<EnsureOutcome> {
    return this.dp.ensureNetwork(spec);
  }

  removeNetwork(vnid: number): Promise<void> {
    return this.dp.removeNetwork(vnid);
  }

  listNetworks(): Promise<NetworkState[]> {
    return this.dp.listNetworks();
  }

  async apply(vnid: number, changes: TableChanges): Promise<void> {
    await this.dp.apply(vnid, changes);
    for (const n of changes.neighSet ?? []) this.watch.installed(n.ip);
  }

  read(vnid: number): Promise<Tables> {
    return this.dp.read(vnid);
  }

  onMiss(listener: MissListener): () => void {
    return this.dp.onMiss((m) => {
      if (m.kind === 'l3' && m.ip !== undefined) this.watch.missed(m.ip);
      listener(m);
    });
  }

  close(): Promise<void> {
    return this.dp.close();
  }
}

/** The real lookup connection, with each VL3 call's round trip (ms) recorded in `vl3Ms`. */
function timedDialer(dial: LookupDialer, vl3Ms: number[]): LookupDialer {
  return async (address) => {
    const conn = await dial(address);
    const timed: LookupConnection = {
      address: conn.address,
      lost: conn.lost,
      vl2: (vnid, mac) => conn.vl2(vnid, mac),
      vl3: async (vnid, ip) => {
        const t0 = process.hrtime.bigint();
        const r = await conn.vl3(vnid, ip);
        vl3Ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
        return r;
      },
      bulk: (vnid) => conn.bulk(vnid),
      flood: (vnid) => conn.flood(vnid),
      subscribe: (node, vnids, from, onEvent) => conn.subscribe(node, vnids, from, onEvent),
      close: () => conn.close(),
    };
    return timed;
  };
}

/** Remote NIC i's overlay IP (skips .0 and .255 in each /24). */
function remoteIp(i: number): string {
  return `100.64.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

async function until(pred: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Tenant, network (`vnid`, 100.64.0.0/16), both nodes, the local NIC and `remote` remote NICs;
 *  returns the remote NICs' IP → MAC. */
async function populate(server: RunningServer, vnid: number, mtu: number, remote: number): Promise<{ localMac: string; remoteMacs: Map<string, string> }> {
  const c = server.controller;
  await c.createTenant(TENANT);
  await c.createNetwork({ tenant: TENANT, name: NETWORK, vnid, subnet4: '100.64.0.0/16', mtu });
  await c.registerNode(LOCAL.node, LOCAL.underlay, 4789);
  await c.registerNode(REMOTE.node, REMOTE.underlay, 4789);
  const local = await c.createNic({ tenant: TENANT, network: NETWORK, node: LOCAL.node, ips: [LOCAL_NIC_IP] });
  const remoteMacs = new Map<string, string>();
  for (let i = 0; i < remote; i++) {
    const nic = await c.createNic({ tenant: TENANT, network: NETWORK, node: REMOTE.node, ips: [remoteIp(i)] });
    remoteMacs.set(remoteIp(i), nic.mac.toLowerCase());
  }
  return { localMac: local.mac, remoteMacs };
}

/**
 * `probes` measured misses (after up to WARM warm-up ones), each to a distinct remote NIC, answered
 * by an on-demand Agent with default timers. Everything it starts is stopped, its temp dir removed
 * and `nss`'s namespaces deleted before it returns or throws.
 */
export interface AgentMissSamples extends MissSamples {
  /** The VL3 calls of the measured probes: request sent → answer decoded, ms. */
  vl3: number[];
}

export async function agentMissLatency(nss: Namespaces, vnid: number, mtu: number, probes: number): Promise<AgentMissSamples> {
  const tmp = await mkdtemp(join(tmpdir(), 'vxfab-dpbench-'));
  const stops: Array<() => unknown> = [() => rm(tmp, { recursive: true, force: true })];
  try {
    const server = await startServe({ listen: '127.0.0.1:0', dataDir: join(tmp, 'data'), logger: silent });
    stops.unshift(() => server.close());
    const { localMac, remoteMacs } = await populate(server, vnid, mtu, WARM + probes);
    const address = `127.0.0.1:${server.port}`;

    const ns = await underlayHost(nss, 'agent', `${LOCAL.underlay}/24`);
    const linux = new LinuxDataPlane({ netns: ns, logger: silent });
    stops.unshift(() => linux.close());
    const watch = new InstallWatch();
    const vl3Ms: number[] = [];
    const client = new RpcClient({ address, role: vxfab.v1.Role.ROLE_AGENT, identity: LOCAL.node, logger: silent, timeoutMs: 5000 });
    stops.unshift(() => client.close());
    const agent = new Agent({
      node: LOCAL.node, underlay: LOCAL.underlay, underlayDev: 'u0', mode: 'on-demand',
      dataPlane: new StampedDataPlane(linux, watch),
      controller: rpcControllerPort(client),
      lookups: [address],
      dialLookup: timedDialer(rpcLookupDialer({ identity: LOCAL.node, logger: silent }), vl3Ms),
      logger: silent,
    });
    stops.unshift(() => agent.close());
    await agent.start();
    await until(() => {
      const s = agent.status();
      return s.lookup.state === 'connected' && s.networks.length === 1 && s.networks[0]!.loaded && s.entries.flood === 1;
    }, 'the agent to set up the network and load its flood list', 10_000);

    const prober = await ProberEndpoint.attach(nss, ns, 'agent-ep', vnid, `${LOCAL_NIC_IP}/16`, localMac);
    stops.unshift(() => prober.stop());
    const ips = [...remoteMacs.keys()];
    await measureMisses(prober, watch, ips.slice(0, WARM), []);
    vl3Ms.length = 0;
    const samples = await measureMisses(prober, watch, [], ips.slice(WARM));

    // The installs counted must be the right ones, in the kernel.
    const tables = await linux.read(vnid);
    const wrong = ips.slice(WARM).filter((ip) => {
      const mac = tables.neigh.get(ip);
      return mac !== undefined && (mac !== remoteMacs.get(ip) || tables.fdb.get(mac) !== REMOTE.underlay);
    });
    const present = ips.slice(WARM).filter((ip) => tables.neigh.has(ip)).length;
    if (wrong.length > 0) throw new Error(`agent installed wrong entries for ${wrong.length} IPs, e.g. ${wrong[0]}`);
    if (present < samples.total.length) throw new Error(`${samples.total.length} probes answered but only ${present} neighbour entries in the kernel`);
    if (agent.status().misses.resolved < samples.total.length) throw new Error('the agent resolved fewer misses than were measured');
    return { ...samples, vl3: vl3Ms };
  } finally {
    for (const stop of stops) await Promise.resolve().then(stop).catch(() => undefined);
    await nss.cleanup();
  }
}
