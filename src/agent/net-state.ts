// What the agent knows about one virtual network present on its host, and the kernel tables that
// knowledge asks for.
//
// push:      every endpoint of the network (bulk + events); desired = an FDB entry and proxy
//            neighbour entries for every endpoint on another node, plus one flood entry per other
//            host carrying the network.
// on-demand: only what kernel misses asked for (a cache with expiry), plus the same flood entries.
//
// Local endpoints get no entries at all: the bridge forwards between local ports by itself, and the
// VXLAN proxy never sends an ARP request over the tunnel (it answers or drops it), so ARP between
// two local endpoints is answered by the endpoint itself through the bridge. Remote hosts answer
// for our endpoints from their own tables.
//
// Flushing (push): rebuilding and diffing the whole network's tables on every event cost each of
// the ~100 hosts carrying a network a full copy of its tables per NIC move, most of what a 1,000-host
// fabric allocated while moves were timed. So an event marks only the keys it can change (the MAC,
// the endpoint's old and new addresses; the flood list), and the next flush compares just those
// with the mirror and updates the mirror in place. A load, a fresh kernel read, a failed write and
// on-demand mode take the full path (everything dirty). The delta path computes exactly the full
// diff restricted to the dirty keys, which are the only keys whose desired value can have changed
// (test/agent/delta.test.ts checks the two paths against each other).

import { diffTables, emptyTables, sortedChanges } from '../dataplane/diff.js';
import type { TableChanges, Tables } from '../dataplane/dataplane.js';
import { canonicalIp, canonicalMac, canonicalVtep } from '../dataplane/validate.js';
import type { EndpointLocation, FloodTarget } from './ports.js';

export interface CacheEntry<V> {
  value: V;
  expiresAt: number;
}

/** A flush's work on one network: the changes to write, and what to do to the mirror once they
 *  are written. */
export interface FlushPlan {
  changes: TableChanges;
  /** Records the written changes in the mirror (call only after the write succeeded). */
  commit(): void;
  /** The full path was taken. */
  full: boolean;
}

export class NetState {
  /** push: every endpoint of the network by MAC (local ones included; desired() skips them).
   *  Addresses and underlays are kept in canonical form where valid (see ingest()). */
  readonly endpoints = new Map<string, EndpointLocation>();
  /** Hosts carrying the network, this one included (desired() skips it). */
  private floodTargets: FloodTarget[] = [];
  /** on-demand: MAC → remote VTEP. */
  readonly fdbCache = new Map<string, CacheEntry<string>>();
  /** on-demand: IP → MAC. */
  readonly neighCache = new Map<string, CacheEntry<string>>();
  /** What the kernel holds, as far as we know; undefined: read it before the next diff. */
  mirror: Tables | undefined;
  /** push: the lookup state was loaded (bulk) at least once; until then nothing is deleted. */
  loaded = false;
  /** push: revision of the last Bulk snapshot: endpoint events at or below it are already in it. */
  snapshotRevision = 0;
  /** Revision of the last Flood snapshot: flood events at or below it are already in it. (A
   *  Flood snapshot says nothing about endpoints: on-demand applies every endpoint event.) */
  floodRevision = 0;
  /** The ensureNetwork spec was applied (device and bridge exist). */
  ensured = false;
  /** Keys whose desired value may have changed since the last flush (push). */
  private dirtyAll = true;
  private dirtyFlood = false;
  private readonly dirtyMacs = new Set<string>();
  private readonly dirtyIps = new Set<string>();

  constructor(
    readonly vnid: number,
    public tenant: string,
    public name: string,
    public mtu: number,
    private readonly self: string,
  ) {}

  isLocal(node: string): boolean {
    return node === this.self;
  }

  get flood(): FloodTarget[] {
    return this.floodTargets;
  }

  /** Replaces the flood list (hosts carrying the network). */
  set flood(members: FloodTarget[]) {
    // A flood change adds or drops one host of ~100: the others' entries (and their strings) are
    // kept, so a list that 100 agents each receive per NIC move does not leave 100 copies behind.
    const had = new Map<string, FloodTarget>();
    for (const f of this.floodTargets) had.set(f.node, f);
    this.floodTargets = members.map((m) => {
      const underlay = vtepOrRaw(m.underlay);
      const f = had.get(m.node);
      return f !== undefined && f.underlay === underlay && f.port === m.port ? f : { ...m, underlay };
    });
    this.dirtyFlood = true;
  }

  /** Everything may have changed: the next flush diffs the whole network. */
  markAllDirty(): void {
    this.dirtyAll = true;
  }

  /** True when a flush has something to look at. */
  get dirty(): boolean {
    return this.dirtyAll || this.dirtyFlood || this.dirtyMacs.size > 0 || this.dirtyIps.size > 0;
  }

  /** The tables the kernel should hold for this network. */
  desired(mode: 'push' | 'on-demand'): Tables {
    const t = emptyTables();
    for (const f of this.floodTargets) if (!this.isLocal(f.node)) t.flood.add(f.underlay);
    if (mode === 'push') {
      for (const ep of this.endpoints.values()) {
        if (this.isLocal(ep.node)) continue;
        t.fdb.set(ep.mac, ep.underlay);
        for (const ip of ep.ips) t.neigh.set(ip, ep.mac);
      }
    } else {
      for (const [mac, e] of this.fdbCache) t.fdb.set(mac, e.value);
      for (const [ip, e] of this.neighCache) t.neigh.set(ip, e.value);
    }
    return t;
  }

  /** Replaces the endpoint set with a bulk snapshot. */
  loadEndpoints(endpoints: EndpointLocation[], revision: number): void {
    this.endpoints.clear();
    for (const ep of endpoints) {
      const e = ingest(ep);
      this.endpoints.set(e.mac, e);
    }
    this.snapshotRevision = revision;
    this.loaded = true;
    this.dirtyAll = true;
  }

  /** push: an endpoint added, moved or removed; marks the keys it can change. */
  applyEndpointEvent(kind: 'added' | 'moved' | 'removed', endpoint: EndpointLocation): void {
    const ep = ingest(endpoint);
    const old = this.endpoints.get(ep.mac);
    if (kind === 'removed') {
      if (old === undefined || (old.nicId !== ep.nicId && ep.nicId !== '')) return;
      this.endpoints.delete(ep.mac);
    } else this.endpoints.set(ep.mac, ep);
    this.dirtyMacs.add(ep.mac);
    if (old !== undefined) for (const ip of old.ips) this.dirtyIps.add(ip);
    if (kind !== 'removed') for (const ip of ep.ips) this.dirtyIps.add(ip);
  }

  /** The work of the next flush against `this.mirror` (which must be set), or undefined when
   *  nothing changed. `forceFull`: take the full path (tests compare the two). Throws what
   *  diffTables throws for an invalid desired entry. */
  plan(mode: 'push' | 'on-demand', forceFull = false): FlushPlan | undefined {
    const mirror = this.mirror;
    if (mirror === undefined) throw new Error('NetState.plan: mirror not read');
    const full = forceFull || mode === 'on-demand' || this.dirtyAll;
    if (!full && !this.dirty) return undefined;
    // Cleared also when computing throws (an invalid entry): the caller then drops the mirror, and
    // the next flush re-reads the kernel and takes the full path.
    try {
      if (full) {
        const want = this.desired(mode);
        const changes = diffTables(want, mirror);
        // `want` was built for this diff and nothing else holds it: it becomes the mirror as is
        // (a copy would double what every network's tables cost).
        return { changes, full, commit: () => { this.mirror = want; } };
      }
      const changes = this.delta(mirror);
      return { changes, full, commit: () => applyChanges(mirror, changes) };
    } finally {
      this.clearDirty();
    }
  }

  private clearDirty(): void {
    this.dirtyAll = false;
    this.dirtyFlood = false;
    this.dirtyMacs.clear();
    this.dirtyIps.clear();
  }

  /** The full diff restricted to the dirty keys (the mirror holds the previous desired state,
   *  canonical, for every other key). The checks are the full path's: an entry is canonicalized
   *  only when it is desired. */
  private delta(mirror: Tables): TableChanges {
    const fdbSet: Array<{ mac: string; dst: string }> = [];
    const fdbDel: string[] = [];
    const neighSet: Array<{ ip: string; mac: string }> = [];
    const neighDel: string[] = [];
    const floodAdd: string[] = [];
    const floodDel: string[] = [];
    for (const mac of this.dirtyMacs) {
      const ep = this.endpoints.get(mac);
      if (ep !== undefined && !this.isLocal(ep.node)) {
        const field = () => `desired.fdb[${mac}]`;
        const key = canonicalMac(mac, field);
        const dst = canonicalVtep(ep.underlay, field);
        if (mirror.fdb.get(key) !== dst) fdbSet.push({ mac: key, dst });
      } else if (mirror.fdb.has(mac)) fdbDel.push(mac);
    }
    if (this.dirtyIps.size > 0) {
      // The owner of an address is the last remote endpoint (in map order) listing it, as in
      // desired(): one pass over the endpoints, whatever the number of dirty addresses.
      const owner = new Map<string, string>();
      for (const ep of this.endpoints.values()) {
        if (this.isLocal(ep.node)) continue;
        for (const ip of ep.ips) if (this.dirtyIps.has(ip)) owner.set(ip, ep.mac);
      }
      for (const ip of this.dirtyIps) {
        const mac = owner.get(ip);
        if (mac !== undefined) {
          const field = () => `desired.neigh[${ip}]`;
          const key = canonicalIp(ip, field);
          const value = canonicalMac(mac, field);
          if (mirror.neigh.get(key) !== value) neighSet.push({ ip: key, mac: value });
        } else if (mirror.neigh.has(ip)) neighDel.push(ip);
      }
    }
    if (this.dirtyFlood) {
      const want = new Set<string>();
      for (const f of this.floodTargets) if (!this.isLocal(f.node)) want.add(canonicalVtep(f.underlay, () => `desired.flood[${f.underlay}]`));
      for (const d of want) if (!mirror.flood.has(d)) floodAdd.push(d);
      for (const d of mirror.flood) if (!want.has(d)) floodDel.push(d);
    }
    return sortedChanges({ fdbSet, fdbDel, floodAdd, floodDel, neighSet, neighDel });
  }

  /** Drops cache entries past their expiry; true when something went. */
  expire(now: number): boolean {
    let changed = false;
    for (const [k, e] of this.fdbCache) if (e.expiresAt <= now) { this.fdbCache.delete(k); changed = true; }
    for (const [k, e] of this.neighCache) if (e.expiresAt <= now) { this.neighCache.delete(k); changed = true; }
    return changed;
  }
}

/** An endpoint as kept: lowercase MAC, canonical addresses and underlay. A value that does not
 *  parse is kept as it came, so the diff rejects it as it did before (and the flush retries). */
function ingest(ep: EndpointLocation): EndpointLocation {
  return { ...ep, mac: ep.mac.toLowerCase(), ips: ep.ips.map(ipOrRaw), underlay: vtepOrRaw(ep.underlay) };
}

function ipOrRaw(ip: string): string {
  try {
    return canonicalIp(ip);
  } catch {
    return ip;
  }
}

/** canonicalVtep remembers the underlays it saw, so this also makes every endpoint on a host
 *  share one string for that host's underlay. */
function vtepOrRaw(ip: string): string {
  try {
    return canonicalVtep(ip, 'underlay');
  } catch {
    return ip;
  }
}

/** Records written changes in a mirror. */
function applyChanges(t: Tables, c: TableChanges): void {
  for (const e of c.fdbSet ?? []) t.fdb.set(e.mac, e.dst);
  for (const mac of c.fdbDel ?? []) t.fdb.delete(mac);
  for (const d of c.floodAdd ?? []) t.flood.add(d);
  for (const d of c.floodDel ?? []) t.flood.delete(d);
  for (const e of c.neighSet ?? []) t.neigh.set(e.ip, e.mac);
  for (const ip of c.neighDel ?? []) t.neigh.delete(ip);
}
