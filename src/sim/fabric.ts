// What the checker sees of a running fabric: the hosts with their (sim) data planes and the
// endpoints as the controller has them now. Built by the runner from the controller's state; tests
// build it by hand around hand-programmed SimDataPlanes.
import { canonicalIp } from '../dataplane/validate.js';
import type { SimDataPlane } from '../dataplane/sim/sim-dataplane.js';
import type { AgentMode } from './topology.js';

export interface SimEndpoint {
  /** The NIC's name in the topology file. */
  name: string;
  /** TENANT/NETWORK */
  network: string;
  vnid: number;
  host: string;
  /** Canonical lowercase MAC. */
  mac: string;
  /** Canonical addresses. */
  ips: string[];
}

export interface SimHost {
  name: string;
  underlay: string;
  mode: AgentMode;
  dp: SimDataPlane;
  /** Why this host is exempt from the default expectation and the table audit (agent stopped, cut
   * off from the lookup service); undefined when it is healthy. */
  impaired?: string;
}

/** What diffHost needs of one network, independent of the host judged: built once per view and
 * network, not once per host (a 1,000-host fabric judges each network ~100 times). */
export interface VnidIndex {
  byMac: Map<string, SimEndpoint>;
  /** Canonical address → endpoint. */
  byIp: Map<string, SimEndpoint>;
  /** Underlays of the hosts carrying the network. */
  carrierUnderlays: Set<string>;
  /** Each endpoint's addresses in canonical form. */
  canonicalIps: Map<SimEndpoint, string[]>;
}

/** A view to build the next one from, and the networks whose endpoints changed since. */
export interface ViewBase {
  view: FabricView;
  changed: ReadonlySet<number>;
}

/** Indexes over the endpoints, rebuilt for each check (a check reads a consistent snapshot). Built
 * from a `base` view, the networks not in `base.changed` share its per-network indexes: the
 * simulator builds a view per step, and rebuilding every index of 20,000 endpoints each time was
 * most of what a 1,000-host run allocated while NIC moves were being timed. */
export class FabricView {
  readonly hostByUnderlay: Map<string, SimHost>;
  /** vnid → its endpoints. */
  readonly byVnid = new Map<number, SimEndpoint[]>();
  /** vnid → host name → that host's endpoints of the vnid. */
  readonly byVnidHost = new Map<number, Map<string, SimEndpoint[]>>();
  private readonly endpoints: readonly SimEndpoint[];
  private names: Map<string, SimEndpoint> | undefined;
  /** host name → vnids it carries (built on first use). */
  private vnidsByHost: Map<string, number[]> | undefined;
  private readonly vnidIndexes = new Map<number, VnidIndex>();

  constructor(readonly hosts: Map<string, SimHost>, endpoints: Iterable<SimEndpoint>, base?: ViewBase) {
    this.endpoints = Array.isArray(endpoints) ? endpoints : [...endpoints];
    const reuse = base !== undefined && base.view.hosts === hosts ? base : undefined;
    if (reuse !== undefined) this.hostByUnderlay = reuse.view.hostByUnderlay;
    else {
      this.hostByUnderlay = new Map();
      for (const h of hosts.values()) this.hostByUnderlay.set(h.underlay, h);
    }
    for (const e of this.endpoints) {
      if (reuse !== undefined && !reuse.changed.has(e.vnid) && reuse.view.byVnid.has(e.vnid)) continue;
      let list = this.byVnid.get(e.vnid);
      if (!list) this.byVnid.set(e.vnid, (list = []));
      list.push(e);
      let perHost = this.byVnidHost.get(e.vnid);
      if (!perHost) this.byVnidHost.set(e.vnid, (perHost = new Map()));
      let local = perHost.get(e.host);
      if (!local) perHost.set(e.host, (local = []));
      local.push(e);
    }
    if (reuse !== undefined) {
      // Unchanged networks: the base's lists and indexes, which a rebuild would make equal.
      for (const [vnid, list] of reuse.view.byVnid) {
        if (reuse.changed.has(vnid)) continue;
        this.byVnid.set(vnid, list);
        this.byVnidHost.set(vnid, reuse.view.byVnidHost.get(vnid)!);
        const ix = reuse.view.vnidIndexes.get(vnid);
        if (ix !== undefined) this.vnidIndexes.set(vnid, ix);
      }
    }
  }

  /** Endpoints by NIC name. */
  get byName(): ReadonlyMap<string, SimEndpoint> {
    if (this.names === undefined) {
      this.names = new Map();
      for (const e of this.endpoints) this.names.set(e.name, e);
    }
    return this.names;
  }

  /** The endpoints of `vnid` on `host` (bridge ports). */
  local(vnid: number, host: string): SimEndpoint[] {
    return this.byVnidHost.get(vnid)?.get(host) ?? [];
  }

  /** Names of the hosts that carry `vnid` (have at least one of its endpoints). */
  carriers(vnid: number): string[] {
    return [...(this.byVnidHost.get(vnid)?.keys() ?? [])];
  }

  /** Vnids that `host` carries. */
  vnidsOf(host: string): number[] {
    if (this.vnidsByHost === undefined) {
      this.vnidsByHost = new Map();
      for (const [vnid, perHost] of this.byVnidHost) {
        for (const h of perHost.keys()) {
          let vnids = this.vnidsByHost.get(h);
          if (!vnids) this.vnidsByHost.set(h, (vnids = []));
          vnids.push(vnid);
        }
      }
    }
    return [...(this.vnidsByHost.get(host) ?? [])];
  }

  /** The per-network lookups of the table audit (desired.ts), built on first use. */
  vnidIndex(vnid: number): VnidIndex {
    let ix = this.vnidIndexes.get(vnid);
    if (ix !== undefined) return ix;
    ix = { byMac: new Map(), byIp: new Map(), carrierUnderlays: new Set(), canonicalIps: new Map() };
    for (const e of this.byVnid.get(vnid) ?? []) {
      ix.byMac.set(e.mac, e);
      const ips = e.ips.map((ip) => canonicalIp(ip));
      ix.canonicalIps.set(e, ips);
      for (const ip of ips) ix.byIp.set(ip, e);
    }
    for (const h of this.carriers(vnid)) ix.carrierUnderlays.add(this.hosts.get(h)?.underlay ?? '');
    this.vnidIndexes.set(vnid, ix);
    return ix;
  }

  isImpaired(host: string): boolean {
    return this.hosts.get(host)?.impaired !== undefined;
  }
}

/** Networks whose endpoints differ between two views (added, removed, moved or readdressed): the
 * only networks whose desired tables can differ, since hosts and their underlays do not change. */
export function changedVnids(a: FabricView, b: FabricView): Set<number> {
  const out = new Set<number>();
  for (const [vnid, list] of a.byVnid) {
    const other = b.byVnid.get(vnid);
    if (other === list) continue; // shared with the view it was built from: unchanged
    if (other === undefined || other.length !== list.length || list.some((e, i) => !sameEndpoint(e, other[i]!))) out.add(vnid);
  }
  for (const vnid of b.byVnid.keys()) if (!a.byVnid.has(vnid)) out.add(vnid);
  return out;
}

function sameEndpoint(a: SimEndpoint, b: SimEndpoint): boolean {
  return a.name === b.name && a.host === b.host && a.mac === b.mac && a.ips.length === b.ips.length && a.ips.every((ip, i) => ip === b.ips[i]);
}
