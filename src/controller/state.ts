// The controller's in-memory view of the fabric: every object, the indexes that validation needs
// (names, underlays, dependants) and the allocators (VNIDs, addresses, MACs). It is rebuilt from
// the store at start; afterwards the controller keeps it in step with every write it makes.
//
// Node heartbeats live only here: persisting one per host every few seconds would fill the change
// log with writes that change nothing a lookup or an agent needs.
import type { Store } from '../store/store.js';
import type { Network, Nic, Node, Tenant } from '../model/objects.js';
import { networkRef } from '../model/objects.js';
import { VnidAllocator } from '../model/vnid.js';
import { MacAllocator } from '../model/mac.js';
import { SubnetPool, parseCidr, type Cidr } from '../model/ipam.js';
import { NETWORK_PREFIX, NIC_PREFIX, NODE_PREFIX, TENANT_PREFIX } from '../model/keys.js';
import { decodeNetwork, decodeNic, decodeNode, decodeTenant } from '../wire/objects.js';

export interface NetworkEntry {
  net: Network;
  cidr4?: Cidr;
  cidr6?: Cidr;
  pool4?: SubnetPool;
  pool6?: SubnetPool;
  /** MACs in use on this network (explicit MACs must be unique within it). */
  macs: Set<string>;
  nics: Set<string>;
}

export interface StateOptions {
  vnidRanges?: Array<[number, number]>;
  vnidReserved?: number[];
  macPrefix?: string;
}

export class FabricState {
  readonly tenants = new Map<string, Tenant>();
  readonly networks = new Map<string, NetworkEntry>();
  readonly networksByTenant = new Map<string, Set<string>>();
  readonly nodes = new Map<string, Node>();
  readonly nodeByUnderlay = new Map<string, string>();
  readonly nics = new Map<string, Nic>();
  readonly nicsByNode = new Map<string, Set<string>>();
  /** How many NICs use each MAC, fabric-wide: allocated MACs are unique across the fabric. */
  readonly macUse = new Map<string, number>();
  readonly vnids: VnidAllocator;
  readonly macAllocator: MacAllocator;

  constructor(options: StateOptions = {}) {
    this.vnids = new VnidAllocator({ ranges: options.vnidRanges, reserved: options.vnidReserved });
    this.macAllocator = new MacAllocator(options.macPrefix);
  }

  static async load(store: Store, options: StateOptions = {}): Promise<FabricState> {
    const state = new FabricState(options);
    for await (const [, v] of store.scan(TENANT_PREFIX)) state.addTenant(decodeTenant(v));
    for await (const [, v] of store.scan(NETWORK_PREFIX)) {
      const net = decodeNetwork(v);
      state.vnids.claim(net.vnid);
      state.addNetwork(state.networkEntry(net));
    }
    for await (const [, v] of store.scan(NODE_PREFIX)) state.addNode(decodeNode(v));
    for await (const [, v] of store.scan(NIC_PREFIX)) {
      const nic = decodeNic(v);
      const entry = state.networks.get(networkRef({ tenant: nic.tenant, name: nic.network }));
      if (!entry) continue; // cannot happen: the controller refuses to delete a network with NICs
      for (const ip of nic.ips) FabricState.poolFor(entry, ip)?.claim(ip);
      state.macAllocator.observe(nic.mac);
      state.addNic(nic, entry);
    }
    return state;
  }

  /** Builds a network's entry with its address pools (validating subnets and gateways). */
  networkEntry(net: Network): NetworkEntry {
    const entry: NetworkEntry = { net, macs: new Set(), nics: new Set() };
    if (net.subnet4) {
      entry.cidr4 = parseCidr(net.subnet4, 'subnet4', 4);
      entry.pool4 = new SubnetPool(entry.cidr4, net.gateway4 || undefined);
    }
    if (net.subnet6) {
      entry.cidr6 = parseCidr(net.subnet6, 'subnet6', 6);
      entry.pool6 = new SubnetPool(entry.cidr6, net.gateway6 || undefined);
    }
    return entry;
  }

  addTenant(t: Tenant): void {
    this.tenants.set(t.name, t);
    this.networksByTenant.set(t.name, new Set());
  }

  removeTenant(name: string): void {
    this.tenants.delete(name);
    this.networksByTenant.delete(name);
  }

  addNetwork(entry: NetworkEntry): void {
    const ref = networkRef(entry.net);
    this.networks.set(ref, entry);
    this.networksByTenant.get(entry.net.tenant)?.add(ref);
  }

  removeNetwork(entry: NetworkEntry): void {
    const ref = networkRef(entry.net);
    this.networks.delete(ref);
    this.networksByTenant.get(entry.net.tenant)?.delete(ref);
  }

  addNode(n: Node): void {
    this.nodes.set(n.name, n);
    this.nodeByUnderlay.set(n.underlay, n.name);
    if (!this.nicsByNode.has(n.name)) this.nicsByNode.set(n.name, new Set());
  }

  removeNode(n: Node): void {
    this.nodes.delete(n.name);
    this.nodeByUnderlay.delete(n.underlay);
    this.nicsByNode.delete(n.name);
  }

  addNic(nic: Nic, entry: NetworkEntry): void {
    // The same tenant, network and node names, shared: a NIC decoded from the store comes with
    // copies of its own, three strings per NIC for the GC to carry at a million NICs.
    if (nic.tenant === entry.net.tenant) nic.tenant = entry.net.tenant;
    if (nic.network === entry.net.name) nic.network = entry.net.name;
    nic.node = this.nodes.get(nic.node)?.name ?? nic.node;
    this.nics.set(nic.id, nic);
    entry.nics.add(nic.id);
    entry.macs.add(nic.mac);
    this.macUse.set(nic.mac, (this.macUse.get(nic.mac) ?? 0) + 1);
    let onNode = this.nicsByNode.get(nic.node);
    if (!onNode) this.nicsByNode.set(nic.node, (onNode = new Set()));
    onNode.add(nic.id);
  }

  removeNic(nic: Nic, entry: NetworkEntry): void {
    this.nics.delete(nic.id);
    entry.nics.delete(nic.id);
    entry.macs.delete(nic.mac);
    const uses = (this.macUse.get(nic.mac) ?? 1) - 1;
    if (uses > 0) this.macUse.set(nic.mac, uses);
    else this.macUse.delete(nic.mac);
    this.nicsByNode.get(nic.node)?.delete(nic.id);
  }

  /** The pool an address of this network belongs to, by family. */
  static poolFor(entry: NetworkEntry, ip: string): SubnetPool | undefined {
    return ip.includes(':') ? entry.pool6 : entry.pool4;
  }
}
