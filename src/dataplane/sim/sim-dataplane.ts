// In-memory data plane with the kernel's semantics, for simulating thousands of hosts in one process.
// Per instance: a Map of networks, each three small Maps/Sets; no timers, no processes. The simulator
// walks frames through the tables with the accessors below: `forward` and `resolve` behave like the
// kernel's VXLAN transmit path (and emit misses), the `…Lookup`/`floodList` accessors only read.

import { VxfabError } from '../../model/errors.js';
import type {
  DataPlane,
  EnsureOutcome,
  MissEvent,
  MissListener,
  NetworkSpec,
  NetworkState,
  TableChanges,
  Tables,
} from '../dataplane.js';
import { bridgeDeviceName, checkVnid, vxlanDeviceName } from '../names.js';
import { canonicalIp, checkDstFamilies, checkSpec, isEmptyChanges, normalizeChanges } from '../validate.js';

interface SimNetwork {
  spec: NetworkSpec;
  fdb: Map<string, string>;
  flood: Set<string>;
  neigh: Map<string, string>;
}

/** One write as the kernel would see it; for simulators counting kernel work and for tests proving
 * that reconcile leaves live entries alone. */
export interface SimWrite {
  vnid: number;
  table: 'fdb' | 'flood' | 'neigh';
  op: 'set' | 'del';
  key: string;
}

/** Where the VXLAN device would send a frame for a destination MAC. */
export type ForwardDecision =
  | { via: 'fdb'; dsts: [string] }
  | { via: 'flood'; dsts: string[] }
  | { via: 'drop'; dsts: [] };

export class SimDataPlane implements DataPlane {
  readonly kind = 'sim' as const;
  private readonly networks = new Map<number, SimNetwork>();
  private readonly missListeners = new Set<MissListener>();
  private writeObserver: ((w: SimWrite) => void) | undefined;
  private closed = false;

  ensureNetwork(spec: NetworkSpec): Promise<EnsureOutcome> {
    return this.sync(() => {
      const s = checkSpec(spec);
      const net = this.networks.get(s.vnid);
      if (net === undefined) {
        this.networks.set(s.vnid, { spec: s, fdb: new Map(), flood: new Set(), neigh: new Map() });
        return { action: 'created', differences: [] };
      }
      const differences: string[] = [];
      const have = (what: string, a: unknown, b: unknown): void => {
        differences.push(`${what}: have ${a === undefined ? 'none' : String(a)}, want ${b === undefined ? 'none' : String(b)}`);
      };
      const old = net.spec;
      // Same split as the kernel: port and miss flags cannot change in place.
      const recreate = old.port !== s.port || old.learningMisses !== s.learningMisses;
      if (old.port !== s.port) have('port', old.port, s.port);
      if (old.learningMisses !== s.learningMisses) {
        have('l2miss', onOff(old.learningMisses), onOff(s.learningMisses));
        have('l3miss', onOff(old.learningMisses), onOff(s.learningMisses));
      }
      if (old.underlayDev !== s.underlayDev) have('underlay device', old.underlayDev, s.underlayDev);
      if (old.local !== s.local) have('local', old.local, s.local);
      if (old.mtu !== s.mtu) have('mtu', old.mtu, s.mtu);
      net.spec = s;
      if (recreate) {
        net.fdb.clear();
        net.flood.clear();
        net.neigh.clear();
        return { action: 'recreated', differences };
      }
      return { action: differences.length === 0 ? 'unchanged' : 'updated', differences };
    });
  }

  removeNetwork(vnid: number): Promise<void> {
    return this.sync(() => {
      checkVnid(vnid);
      this.networks.delete(vnid);
    });
  }

  listNetworks(): Promise<NetworkState[]> {
    return this.sync(() =>
      [...this.networks.values()]
        .map(({ spec }) => ({
          vnid: spec.vnid,
          vxlanDev: vxlanDeviceName(spec.vnid),
          bridgeDev: bridgeDeviceName(spec.vnid),
          mtu: spec.mtu,
          local: spec.local,
          underlayDev: spec.underlayDev ?? '',
          port: spec.port,
          learningMisses: spec.learningMisses,
          proxy: true,
          learning: false,
          up: true,
        }))
        .sort((a, b) => a.vnid - b.vnid),
    );
  }

  apply(vnid: number, changes: TableChanges): Promise<void> {
    return this.sync(() => {
      checkVnid(vnid);
      const c = normalizeChanges(changes);
      if (isEmptyChanges(c)) return;
      const net = this.network(vnid);
      checkDstFamilies(c, net.spec.local);
      // Same order as the kernel implementation (see DataPlane.apply); here it matters only to the
      // write observer.
      for (const e of c.fdbSet) this.write(net, 'fdb', 'set', e.mac, () => net.fdb.set(e.mac, e.dst));
      for (const d of c.floodAdd) this.write(net, 'flood', 'set', d, () => net.flood.add(d));
      for (const e of c.neighSet) this.write(net, 'neigh', 'set', e.ip, () => net.neigh.set(e.ip, e.mac));
      for (const ip of c.neighDel) if (net.neigh.has(ip)) this.write(net, 'neigh', 'del', ip, () => net.neigh.delete(ip));
      for (const mac of c.fdbDel) if (net.fdb.has(mac)) this.write(net, 'fdb', 'del', mac, () => net.fdb.delete(mac));
      for (const d of c.floodDel) if (net.flood.has(d)) this.write(net, 'flood', 'del', d, () => net.flood.delete(d));
    });
  }

  read(vnid: number): Promise<Tables> {
    return this.sync(() => {
      checkVnid(vnid);
      const net = this.network(vnid);
      return { fdb: new Map(net.fdb), flood: new Set(net.flood), neigh: new Map(net.neigh) };
    });
  }

  onMiss(listener: MissListener): () => void {
    if (this.closed) return () => undefined;
    this.missListeners.add(listener);
    return () => this.missListeners.delete(listener);
  }

  close(): Promise<void> {
    this.closed = true;
    this.missListeners.clear();
    this.writeObserver = undefined;
    return Promise.resolve();
  }

  // ---- simulator accessors (synchronous) ----

  /** Observes every table write (one observer; undefined removes it). */
  observeWrites(observer: ((w: SimWrite) => void) | undefined): void {
    this.writeObserver = observer;
  }

  hasNetwork(vnid: number): boolean {
    return this.networks.has(vnid);
  }

  networkSpec(vnid: number): NetworkSpec | undefined {
    return this.networks.get(vnid)?.spec;
  }

  /** VNIDs of the networks present, without copying their tables (for simulators). */
  networkIds(): number[] {
    return [...this.networks.keys()];
  }

  /** A network's live tables, not copied: for simulators that audit thousands of hosts. Callers
   * must not modify them. Undefined when the network is absent. */
  tablesView(vnid: number): Readonly<{ fdb: ReadonlyMap<string, string>; flood: ReadonlySet<string>; neigh: ReadonlyMap<string, string> }> | undefined {
    return this.networks.get(vnid);
  }

  /** The unicast FDB entry for a MAC, without side effects. */
  fdbLookup(vnid: number, mac: string): string | undefined {
    return this.networks.get(vnid)?.fdb.get(mac.toLowerCase());
  }

  /** The flood targets of a network (a fresh array), without side effects. */
  floodList(vnid: number): string[] {
    const net = this.networks.get(vnid);
    return net === undefined ? [] : [...net.flood];
  }

  /** The proxy ARP/ND answer for an IP, without side effects. */
  neighLookup(vnid: number, ip: string): string | undefined {
    const net = this.networks.get(vnid);
    return net === undefined ? undefined : net.neigh.get(canonicalIp(ip));
  }

  /** What the kernel does with a frame to `mac` leaving through the VXLAN device: the unicast entry,
   * else the flood list, else drop — and with misses on, an l2 miss when there is neither (as the
   * kernel: no miss for multicast/broadcast destinations). */
  forward(vnid: number, mac: string): ForwardDecision {
    const net = this.networks.get(vnid);
    if (net === undefined) return { via: 'drop', dsts: [] };
    const m = mac.toLowerCase();
    const dst = net.fdb.get(m);
    if (dst !== undefined) return { via: 'fdb', dsts: [dst] };
    if (net.flood.size > 0) return { via: 'flood', dsts: [...net.flood] };
    const multicast = (parseInt(m.slice(0, 2), 16) & 1) === 1;
    if (net.spec.learningMisses && !multicast) this.emitMiss({ vnid, kind: 'l2', mac: m });
    return { via: 'drop', dsts: [] };
  }

  /** What the proxy does with an ARP request / neighbour solicitation for `ip`: the MAC to answer
   * with, or undefined (request consumed; an l3 miss when misses are on). */
  resolve(vnid: number, ip: string): string | undefined {
    const net = this.networks.get(vnid);
    if (net === undefined) return undefined;
    const key = canonicalIp(ip);
    const mac = net.neigh.get(key);
    if (mac === undefined && net.spec.learningMisses) this.emitMiss({ vnid, kind: 'l3', ip: key });
    return mac;
  }

  /** Entry counts, for a simulator's memory and load figures. */
  entryCount(): number {
    let n = 0;
    for (const net of this.networks.values()) n += net.fdb.size + net.flood.size + net.neigh.size;
    return n;
  }

  private network(vnid: number): SimNetwork {
    const net = this.networks.get(vnid);
    if (net === undefined) {
      throw new VxfabError('NOT_FOUND', `vnid ${vnid}: network not present on this host (no device ${vxlanDeviceName(vnid)})`, {
        field: 'vnid',
        value: String(vnid),
      });
    }
    return net;
  }

  private write(net: SimNetwork, table: SimWrite['table'], op: SimWrite['op'], key: string, fn: () => unknown): void {
    fn();
    this.writeObserver?.({ vnid: net.spec.vnid, table, op, key });
  }

  private emitMiss(miss: MissEvent): void {
    // Delivered asynchronously, as a kernel notification would be: a listener that programs the
    // entry must not re-enter the lookup that reported the miss.
    for (const l of this.missListeners) queueMicrotask(() => l(miss));
  }

  /** Runs synchronous work as a promise: validation errors become rejections, as in linux. */
  private sync<T>(fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new VxfabError('UNAVAILABLE', 'data plane is closed'));
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

function onOff(b: boolean): string {
  return b ? 'on' : 'off';
}
