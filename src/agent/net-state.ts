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

import { emptyTables } from '../dataplane/diff.js';
import type { Tables } from '../dataplane/dataplane.js';
import type { EndpointLocation, FloodTarget } from './ports.js';

export interface CacheEntry<V> {
  value: V;
  expiresAt: number;
}

export class NetState {
  /** push: every endpoint of the network by MAC (local ones included; desired() skips them). */
  readonly endpoints = new Map<string, EndpointLocation>();
  /** Hosts carrying the network, this one included (desired() skips it). */
  flood: FloodTarget[] = [];
  /** on-demand: MAC → remote VTEP. */
  readonly fdbCache = new Map<string, CacheEntry<string>>();
  /** on-demand: IP → MAC. */
  readonly neighCache = new Map<string, CacheEntry<string>>();
  /** What the kernel holds, as far as we know; undefined: read it before the next diff. */
  mirror: Tables | undefined;
  /** push: the lookup state was loaded (bulk) at least once; until then nothing is deleted. */
  loaded = false;
  /** Revision of the last bulk/flood snapshot: events at or below it are already in it. */
  snapshotRevision = 0;
  /** The ensureNetwork spec was applied (device and bridge exist). */
  ensured = false;

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

  /** The tables the kernel should hold for this network. */
  desired(mode: 'push' | 'on-demand'): Tables {
    const t = emptyTables();
    for (const f of this.flood) if (!this.isLocal(f.node)) t.flood.add(f.underlay);
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
    for (const ep of endpoints) this.endpoints.set(ep.mac.toLowerCase(), { ...ep, mac: ep.mac.toLowerCase() });
    this.snapshotRevision = revision;
    this.loaded = true;
  }

  /** Drops cache entries past their expiry; true when something went. */
  expire(now: number): boolean {
    let changed = false;
    for (const [k, e] of this.fdbCache) if (e.expiresAt <= now) { this.fdbCache.delete(k); changed = true; }
    for (const [k, e] of this.neighCache) if (e.expiresAt <= now) { this.neighCache.delete(k); changed = true; }
    return changed;
  }
}
