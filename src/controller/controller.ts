// The controller: validates every request against the in-memory fabric state and writes through
// one mutation executor (`mutation.ts`): claims are made in memory at once (so pipelined requests
// see each other), each write is one atomic store batch through the group committer, what a write
// frees is freed only once it is durable, and a write whose batch fails is undone in memory.
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import type { Store, StoreOp } from '../store/store.js';
import { VxfabError, invalid } from '../model/errors.js';
import type { Network, Nic, Node, Tenant } from '../model/objects.js';
import { networkRef } from '../model/objects.js';
import { networkKey, nicKey, nodeKey, tenantKey } from '../model/keys.js';
import { cidrsOverlap, defaultGateway, parseCidr, parseIp } from '../model/ipam.js';
import { parseMac } from '../model/mac.js';
import { checkNicIpCount, DEFAULT_MTU, DEFAULT_VTEP_PORT, parseMtu, parsePort } from '../model/limits.js';
import { validateName, validateNodeName } from '../model/names.js';
import { parseVnid } from '../model/vnid.js';
import { encodeNetwork, encodeNic, encodeNode, encodeTenant } from '../wire/objects.js';
import { FabricState, type NetworkEntry, type StateOptions } from './state.js';
import { GroupCommitter } from './group-commit.js';
import { MutationExecutor, type Mutation } from './mutation.js';

export interface CreateNetworkInput {
  tenant: string;
  name: string;
  vnid?: number;
  subnet4?: string;
  subnet6?: string;
  gateway4?: string;
  gateway6?: string;
  mtu?: number;
}

export interface CreateNicInput {
  tenant: string;
  network: string;
  node: string;
  mac?: string;
  ips?: string[];
}

export interface NicFilter {
  tenant?: string;
  network?: string;
  node?: string;
}

export interface ControllerOptions extends StateOptions {
  /** Parent logger; the controller logs as its child { module: 'controller' }. Default: pino at 'warn'. */
  logger?: Logger;
}

const put = (key: string, value: Uint8Array): StoreOp => ({ type: 'put', key, value });
const del = (key: string): StoreOp => ({ type: 'del', key });

/** What else a node's deletion does: the security service revokes the node's certificates in the
 *  same batch (deleteOps) and closes its connections once it is committed (deleted). */
export interface NodeDeleteHooks {
  deleteOps?: (name: string) => StoreOp[];
  deleted?: (name: string) => void;
}

export class Controller {
  /** The store's only writer; other controller-side services (security-service.ts) write through it. */
  readonly committer: GroupCommitter;
  private readonly writes: MutationExecutor;
  nodeDeleteHooks: NodeDeleteHooks = {};

  private constructor(readonly store: Store, readonly state: FabricState, log: Logger) {
    this.committer = new GroupCommitter(store);
    this.writes = new MutationExecutor(this.committer, log);
  }

  static async open(store: Store, options: ControllerOptions = {}): Promise<Controller> {
    const log = (options.logger ?? pino({ level: 'warn' })).child({ module: 'controller' });
    return new Controller(store, await FabricState.load(store, options), log);
  }

  get commitStats() {
    return this.committer.stats;
  }

  /** Objects a pending write owns: 0 once every accepted write has settled. */
  get pendingWrites(): number {
    return this.writes.pending;
  }

  /** Resolves when every accepted write has been committed (or failed). */
  idle(): Promise<void> {
    return this.committer.idle();
  }

  // ---- tenants ----

  createTenant(name: string): Promise<Tenant> {
    return this.writes.run((m) => {
      validateName(name, 'name');
      // A tenant being deleted still holds its name until the delete is durable.
      if (this.state.tenants.has(name)) {
        throw new VxfabError('ALREADY_EXISTS', `tenant "${name}" already exists`, { field: 'name', value: name });
      }
      m.own(tenantKey(name));
      const tenant: Tenant = { name, createdRevision: 0 };
      m.reserve(() => this.state.addTenant(tenant), () => this.state.removeTenant(name));
      return {
        ops: (rev) => { tenant.createdRevision = rev; return [put(tenantKey(name), encodeTenant(tenant))]; },
        result: tenant,
      };
    });
  }

  getTenant(name: string): Tenant {
    const t = this.state.tenants.get(name);
    if (!t) throw new VxfabError('NOT_FOUND', `tenant "${name}" not found`, { field: 'tenant', value: name });
    return t;
  }

  listTenants(): Tenant[] {
    return [...this.state.tenants.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  deleteTenant(name: string): Promise<void> {
    return this.writes.run((m) => {
      m.own(tenantKey(name));
      this.getTenant(name);
      const nets = this.state.networksByTenant.get(name);
      if (nets && nets.size > 0) {
        throw new VxfabError('CONFLICT',
          `tenant "${name}" still has ${nets.size} network(s) (${[...nets].slice(0, 3).join(', ')}): delete them first`,
          { field: 'name', value: name });
      }
      m.release(() => this.state.removeTenant(name));
      return { ops: () => [del(tenantKey(name))], result: undefined };
    });
  }

  // ---- networks ----

  createNetwork(input: CreateNetworkInput): Promise<Network> {
    return this.writes.run((m) => {
      m.after(tenantKey(input.tenant));
      const tenant = this.getTenant(input.tenant).name;
      validateName(input.name, 'name');
      const ref = networkRef({ tenant, name: input.name });
      if (this.state.networks.has(ref)) {
        throw new VxfabError('ALREADY_EXISTS', `network "${ref}" already exists`, { field: 'name', value: input.name });
      }
      const mtu = input.mtu === undefined || input.mtu === 0 ? DEFAULT_MTU : parseMtu(input.mtu, 'mtu');
      const cidr4 = input.subnet4 ? parseCidr(input.subnet4, 'subnet4', 4) : undefined;
      const cidr6 = input.subnet6 ? parseCidr(input.subnet6, 'subnet6', 6) : undefined;
      if (input.gateway4 && !cidr4) throw invalid('gateway4', input.gateway4, 'a gateway needs an IPv4 subnet (--subnet)');
      if (input.gateway6 && !cidr6) throw invalid('gateway6', input.gateway6, 'a gateway needs an IPv6 subnet (--subnet6)');
      // Tenants are isolated, so only a tenant's own networks may not overlap.
      for (const other of this.state.networksByTenant.get(tenant) ?? []) {
        const o = this.state.networks.get(other);
        if (!o) continue;
        for (const [mine, theirs, field] of [[cidr4, o.cidr4, 'subnet4'], [cidr6, o.cidr6, 'subnet6']] as const) {
          if (mine && theirs && cidrsOverlap(mine, theirs)) {
            throw new VxfabError('CONFLICT',
              `${field} ${mine.text} overlaps ${theirs.text} of network "${other}" in the same tenant`,
              { field, value: mine.text });
          }
        }
      }
      const net: Network = {
        tenant, name: input.name, vnid: 0, mtu,
        subnet4: cidr4?.text ?? '', gateway4: cidr4 ? (input.gateway4 ? parseIp(input.gateway4, 'gateway4', 4).text : defaultGateway(cidr4) ?? '') : '',
        subnet6: cidr6?.text ?? '', gateway6: cidr6 ? (input.gateway6 ? parseIp(input.gateway6, 'gateway6', 6).text : defaultGateway(cidr6) ?? '') : '',
        createdRevision: 0,
      };
      const entry = this.state.networkEntry(net); // validates gateways against their subnets
      const wanted = input.vnid !== undefined && input.vnid !== 0 ? parseVnid(input.vnid, 'vnid') : undefined;
      m.own(networkKey(tenant, net.name));
      net.vnid = m.reserve(
        () => { if (wanted === undefined) return this.state.vnids.allocate(); this.state.vnids.claim(wanted, 'vnid'); return wanted; },
        (vnid) => this.state.vnids.release(vnid));
      m.reserve(() => this.state.addNetwork(entry), () => this.state.removeNetwork(entry));
      return {
        ops: (rev) => { net.createdRevision = rev; return [put(networkKey(tenant, net.name), encodeNetwork(net))]; },
        result: net,
      };
    });
  }

  private networkEntry(tenant: string, name: string, field = 'network'): NetworkEntry {
    const entry = this.state.networks.get(networkRef({ tenant, name }));
    if (!entry) {
      throw new VxfabError('NOT_FOUND', `network "${tenant}/${name}" not found`, { field, value: `${tenant}/${name}` });
    }
    return entry;
  }

  getNetwork(tenant: string, name: string): Network {
    return this.networkEntry(tenant, name).net;
  }

  listNetworks(tenant?: string): Network[] {
    if (tenant) this.getTenant(tenant);
    const out: Network[] = [];
    for (const e of this.state.networks.values()) if (!tenant || e.net.tenant === tenant) out.push(e.net);
    return out.sort((a, b) => a.tenant.localeCompare(b.tenant) || a.name.localeCompare(b.name));
  }

  deleteNetwork(tenant: string, name: string): Promise<void> {
    return this.writes.run((m) => {
      m.own(networkKey(tenant, name));
      const entry = this.networkEntry(tenant, name);
      // NICs whose delete is pending still count: they are only gone once that is durable.
      if (entry.nics.size > 0) {
        throw new VxfabError('CONFLICT',
          `network "${tenant}/${name}" still has ${entry.nics.size} NIC(s) (${[...entry.nics].slice(0, 3).join(', ')}): delete them first`,
          { field: 'network', value: `${tenant}/${name}` });
      }
      m.release(() => {
        this.state.removeNetwork(entry);
        this.state.vnids.release(entry.net.vnid);
      });
      return { ops: () => [del(networkKey(tenant, name))], result: undefined };
    });
  }

  // ---- nodes ----

  private checkNode(name: string, underlay: string, port: number | undefined) {
    validateNodeName(name, 'name');
    const ip = parseIp(underlay, 'underlay');
    const p = port === undefined || port === 0 ? DEFAULT_VTEP_PORT : parsePort(port, 'port');
    return { underlay: ip.text, port: p };
  }

  /** Adds a node; an existing name is refused. */
  addNode(name: string, underlay: string, port?: number): Promise<Node> {
    return this.writes.run((m) => {
      const want = this.checkNode(name, underlay, port);
      if (this.state.nodes.has(name)) {
        throw new VxfabError('ALREADY_EXISTS', `node "${name}" already exists`, { field: 'name', value: name });
      }
      return this.insertNode(m, name, want.underlay, want.port);
    });
  }

  /** Registers a node for its agent: the same name with the same underlay and port is success. */
  registerNode(name: string, underlay: string, port?: number): Promise<Node> {
    return this.writes.run((m) => {
      const want = this.checkNode(name, underlay, port);
      // Owned first: a node whose create is pending is not yet there to be confirmed.
      m.own(nodeKey(name));
      const have = this.state.nodes.get(name);
      if (have) {
        if (have.underlay !== want.underlay || have.port !== want.port) {
          throw new VxfabError('CONFLICT',
            `node "${name}" is registered with underlay ${have.underlay}:${have.port}, not ${want.underlay}:${want.port}`,
            { field: 'underlay', value: want.underlay });
        }
        have.lastHeartbeatMs = Date.now();
        return { result: have };
      }
      return this.insertNode(m, name, want.underlay, want.port);
    });
  }

  private insertNode(m: Mutation, name: string, underlay: string, port: number) {
    const holder = this.state.nodeByUnderlay.get(underlay);
    if (holder !== undefined) {
      throw new VxfabError('CONFLICT', `underlay ${underlay} is already node "${holder}"'s`, { field: 'underlay', value: underlay });
    }
    m.own(nodeKey(name));
    const node: Node = { name, underlay, port, lastHeartbeatMs: 0, createdRevision: 0 };
    m.reserve(() => this.state.addNode(node), () => this.state.removeNode(node));
    return {
      ops: (rev: number) => { node.createdRevision = rev; return [put(nodeKey(name), encodeNode(node))]; },
      result: node,
    };
  }

  heartbeat(name: string): Node {
    const node = this.getNode(name);
    node.lastHeartbeatMs = Date.now();
    return node;
  }

  getNode(name: string, field = 'node'): Node {
    const n = this.state.nodes.get(name);
    if (!n) throw new VxfabError('NOT_FOUND', `node "${name}" not found`, { field, value: name });
    return n;
  }

  listNodes(): Node[] {
    return [...this.state.nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async deleteNode(name: string): Promise<void> {
    const hooks = this.nodeDeleteHooks;
    await this.writes.run((m) => {
      m.own(nodeKey(name));
      const node = this.getNode(name, 'name');
      // A NIC moving away still counts here until its move is durable.
      const nics = this.state.nicsByNode.get(name);
      if (nics && nics.size > 0) {
        throw new VxfabError('CONFLICT',
          `node "${name}" still has ${nics.size} NIC(s) (${[...nics].slice(0, 3).join(', ')}): move or delete them first`,
          { field: 'name', value: name });
      }
      m.release(() => this.state.removeNode(node));
      // The node's certificates are revoked in the same batch (security-service.ts).
      return { ops: () => [del(nodeKey(name)), ...(hooks.deleteOps?.(name) ?? [])], result: undefined };
    });
    hooks.deleted?.(name);
  }

  // ---- NICs ----

  createNic(input: CreateNicInput): Promise<Nic> {
    return this.writes.run((m) => {
      // A NIC is only built on a network and node no pending write may yet take away.
      m.after(networkKey(input.tenant, input.network));
      m.after(nodeKey(input.node));
      this.getTenant(input.tenant);
      const entry = this.networkEntry(input.tenant, input.network);
      const node = this.getNode(input.node);
      // Validate everything before reserving anything, so a refusal leaves no trace.
      checkNicIpCount(input.ips);
      const mac = input.mac ? parseMac(input.mac, 'mac') : undefined;
      if (mac && entry.macs.has(mac)) {
        throw new VxfabError('ALREADY_EXISTS', `mac ${mac} is already used on network "${networkRef(entry.net)}"`, { field: 'mac', value: mac });
      }
      const ips = (input.ips ?? []).map((text, i) => {
        const field = `ips[${i}]`;
        const ip = parseIp(text, field);
        const pool = ip.family === 4 ? entry.pool4 : entry.pool6;
        if (!pool) throw invalid(field, text, `network "${networkRef(entry.net)}" has no IPv${ip.family} subnet`);
        if (pool.isAllocated(ip.text)) {
          throw new VxfabError('ALREADY_EXISTS', `${field} ${ip.text} is already in use on network "${networkRef(entry.net)}"`, { field, value: ip.text });
        }
        return { text: ip.text, pool, field };
      });
      const seen = new Set<string>();
      for (const ip of ips) {
        if (seen.has(ip.text)) throw invalid(ip.field, ip.text, 'the same address is given twice');
        seen.add(ip.text);
      }
      const id = this.newNicId();
      m.own(nicKey(id));
      const claimed: string[] = [];
      for (const ip of ips) claimed.push(m.reserve(() => { ip.pool.claim(ip.text, ip.field); return ip.text; }, (a) => ip.pool.release(a)));
      if (ips.length === 0) {
        for (const pool of [entry.pool4, entry.pool6]) if (pool) claimed.push(m.reserve(() => pool.allocate(), (a) => pool.release(a)));
      }
      const nic: Nic = {
        id, tenant: entry.net.tenant, network: entry.net.name, vnid: entry.net.vnid, node: node.name,
        mac: mac ?? this.state.macAllocator.allocate((x) => this.state.macUse.has(x)),
        ips: claimed, revision: 0,
      };
      m.reserve(() => this.state.addNic(nic, entry), () => this.state.removeNic(nic, entry));
      return {
        ops: (rev) => { nic.revision = rev; return [put(nicKey(id), encodeNic(nic))]; },
        result: nic,
      };
    });
  }

  private newNicId(): string {
    for (;;) {
      const id = 'nic-' + randomBytes(5).toString('hex');
      if (!this.state.nics.has(id)) return id;
    }
  }

  getNic(id: string, field = 'id'): Nic {
    const nic = this.state.nics.get(id);
    if (!nic) throw new VxfabError('NOT_FOUND', `nic "${id}" not found`, { field, value: id });
    return nic;
  }

  listNics(filter: NicFilter = {}): Nic[] {
    let ids: Iterable<string>;
    if (filter.network) {
      if (!filter.tenant) throw invalid('network', filter.network, 'a network filter needs its tenant (TENANT/NETWORK)');
      ids = this.networkEntry(filter.tenant, filter.network).nics;
    } else if (filter.node) {
      this.getNode(filter.node);
      ids = this.state.nicsByNode.get(filter.node) ?? [];
    } else {
      if (filter.tenant) this.getTenant(filter.tenant);
      ids = this.state.nics.keys();
    }
    const out: Nic[] = [];
    for (const id of ids) {
      const nic = this.state.nics.get(id);
      if (!nic) continue;
      if (filter.tenant && nic.tenant !== filter.tenant) continue;
      if (filter.node && nic.node !== filter.node) continue;
      out.push(nic);
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Moves a NIC to another node. Moving it to the node it is on changes nothing. */
  moveNic(id: string, node: string): Promise<Nic> {
    return this.writes.run((m) => {
      m.own(nicKey(id));
      const nic = this.getNic(id);
      m.after(nodeKey(node));
      const to = this.getNode(node, 'node').name;
      if (nic.node === to) return { result: nic };
      const from = nic.node;
      const oldRevision = nic.revision;
      // Listed on both nodes until the move settles: neither may be deleted under it meanwhile.
      const onTo = this.state.nicsByNode.get(to);
      m.reserve(() => { onTo?.add(id); nic.node = to; }, () => {
        onTo?.delete(id);
        nic.node = from;
        nic.revision = oldRevision;
      });
      m.release(() => this.state.nicsByNode.get(from)?.delete(id));
      return {
        ops: (rev) => { nic.revision = rev; return [put(nicKey(id), encodeNic(nic))]; },
        result: nic,
      };
    });
  }

  deleteNic(id: string): Promise<void> {
    return this.writes.run((m) => {
      m.own(nicKey(id));
      const nic = this.getNic(id);
      const entry = this.networkEntry(nic.tenant, nic.network);
      // Its id, addresses and MAC stay taken until the delete is durable.
      m.release(() => {
        this.state.removeNic(nic, entry);
        for (const ip of nic.ips) FabricState.poolFor(entry, ip)?.release(ip);
      });
      return { ops: () => [del(nicKey(id))], result: undefined };
    });
  }
}
