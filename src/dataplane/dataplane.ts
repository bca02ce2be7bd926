// The data-plane seam: what an agent asks of a host's forwarding tables, independent of how they are
// kept. Two implementations: `linux` (kernel VXLAN device + bridge per network, programmed through
// long-lived iproute2 batch processes) and `sim` (in-memory tables, cheap enough for thousands of
// simulated hosts in one process). Both pass the same suite (test/dataplane/suite.ts).
//
// Design note. One VXLAN device and one bridge per virtual network (VNID); the VXLAN device is a
// port of the bridge, local endpoints are the other ports. Learning is off on the VXLAN device: every
// remote MAC comes from the control plane, so the kernel never learns a stale entry and never races
// us into EEXIST. `proxy` is on, so ARP/ND for remote IPs is answered from the neighbour table
// without flooding. Broadcast/unknown/multicast goes by head-end replication: one all-zero-MAC FDB
// entry per remote host carrying the network ("flood" entries). In on-demand mode `l2miss`/`l3miss`
// make the kernel report lookups that found nothing, and the agent installs the answer (varpd-style).

// The fabric's rules (VNID range, VXLAN port, encapsulation overhead) have one home, src/model/;
// the data plane names them under the names its callers know.
import { DEFAULT_VTEP_PORT, VXLAN_OVERHEAD_V4, VXLAN_OVERHEAD_V6 } from '../model/limits.js';
export { VNID_MIN, VNID_MAX } from '../model/vnid.js';

/** IANA VXLAN port. Linux defaults to the legacy 8472 when `dstport` is omitted, so always pass it. */
export const VXLAN_PORT = DEFAULT_VTEP_PORT;
/** Encapsulation overhead by underlay address family: overlay MTU = underlay MTU − overhead. */
export const VXLAN_OVERHEAD_IPV4 = VXLAN_OVERHEAD_V4;
export const VXLAN_OVERHEAD_IPV6 = VXLAN_OVERHEAD_V6;

/** What a virtual network needs on this host. */
export interface NetworkSpec {
  vnid: number;
  /** MTU of the VXLAN device and the bridge (the overlay MTU), 68..65535. */
  mtu: number;
  /** This host's underlay address (VTEP source), IPv4 or IPv6. */
  local: string;
  /** Underlay device to bind to; absent means the kernel picks by route. */
  underlayDev?: string;
  /** UDP destination port, normally VXLAN_PORT. */
  port: number;
  /** Kernel L2/L3 miss notifications (on-demand mode). */
  learningMisses: boolean;
}

/** A network as found on the host (listNetworks). */
export interface NetworkState {
  vnid: number;
  vxlanDev: string;
  /** Bridge the VXLAN device is a port of; '' when it is not enslaved. */
  bridgeDev: string;
  mtu: number;
  /** '' when the device has no local address. */
  local: string;
  /** '' when the device is not bound to an underlay device. */
  underlayDev: string;
  port: number;
  /** True only when both l2miss and l3miss are on. */
  learningMisses: boolean;
  proxy: boolean;
  learning: boolean;
  up: boolean;
}

/** What ensureNetwork did; `differences` says in words what was wrong ("port: have 8472, want 4789"). */
export interface EnsureOutcome {
  action: 'created' | 'unchanged' | 'updated' | 'recreated';
  differences: string[];
}

export interface FdbEntry {
  mac: string;
  /** Remote underlay address (the VTEP that has this MAC). */
  dst: string;
}

export interface NeighEntry {
  /** Overlay IPv4 or IPv6 address. */
  ip: string;
  mac: string;
}

/** Changes to one network's tables. Absent or empty lists mean "no change of that kind". A key must
 * not appear both in a set/add list and in the matching delete list. */
export interface TableChanges {
  /** Unicast entries MAC → remote VTEP, written with replace (created or overwritten). */
  fdbSet?: FdbEntry[];
  /** MACs whose unicast entry goes; a MAC with no entry is not an error. */
  fdbDel?: string[];
  /** Remote VTEPs that receive broadcast/unknown/multicast (head-end replication), appended. */
  floodAdd?: string[];
  /** Remote VTEPs to stop flooding to; a missing one is not an error. */
  floodDel?: string[];
  /** Proxy ARP/ND entries IP → MAC, written with replace. */
  neighSet?: NeighEntry[];
  /** IPs whose proxy entry goes; a missing one is not an error. */
  neighDel?: string[];
}

/** One network's tables: keys and values are canonical (lowercase MACs, RFC 5952 IPv6). */
export interface Tables {
  fdb: Map<string, string>;
  flood: Set<string>;
  neigh: Map<string, string>;
}

/** A kernel lookup that found nothing: `l2` carries the MAC, `l3` the IP. */
export interface MissEvent {
  vnid: number;
  kind: 'l2' | 'l3';
  mac?: string;
  ip?: string;
}

export type MissListener = (miss: MissEvent) => void;

/**
 * Programs one host's overlay forwarding state.
 *
 * Every method validates its input first and rejects with VxfabError INVALID_ARGUMENT (field names
 * the bad value, e.g. "fdbSet[2].mac") before writing anything. All writes are idempotent: a call may
 * be repeated with identical input and leaves the same state; deleting what is absent is not an
 * error. Calls for one VNID are serialized in call order; calls for different VNIDs may overlap.
 * A kernel write that fails rejects with INTERNAL (or NOT_FOUND / INVALID_ARGUMENT when the kernel's
 * reason maps to one); earlier writes of the same call may then have been applied, and repeating the
 * call is the recovery.
 */
export interface DataPlane {
  readonly kind: 'linux' | 'sim';

  /**
   * Creates or corrects the VXLAN device and bridge of a network (named by vxlanDeviceName /
   * bridgeDeviceName). Learning off, proxy on, misses per spec. When a device exists but differs,
   * the outcome lists the differences in words; what the kernel can change in place (MTU, local
   * address, underlay device, learning, bridge membership, up) is changed in place; a different VNI,
   * port, proxy or miss setting needs a recreate, which DROPS the network's FDB and neighbour entries
   * (action 'recreated': the caller must re-program them, e.g. by reconcile).
   * Errors: INVALID_ARGUMENT (spec), NOT_FOUND (field underlayDev: no such device), CONFLICT (a
   * device with the derived name exists but is not a VXLAN device / bridge), INTERNAL.
   */
  ensureNetwork(spec: NetworkSpec): Promise<EnsureOutcome>;

  /** Removes the network's VXLAN device (and with it all its entries) and bridge. Absent is fine.
   * Local endpoint ports still on the bridge are detached, not deleted. */
  removeNetwork(vnid: number): Promise<void>;

  /** The networks present on the host (devices named by our convention), sorted by VNID. */
  listNetworks(): Promise<NetworkState[]>;

  /**
   * Applies changes to one network's tables. Write order, so that no step leaves a proxied ARP/ND
   * answer pointing at a MAC the FDB cannot forward:
   *   1. fdbSet, floodAdd      — new forwarding first;
   *   2. neighSet, neighDel    — then the ARP/ND answers that point at it (and stop answering for
   *                              IPs that go);
   *   3. fdbDel, floodDel      — forwarding for what is no longer answered goes last.
   * A phase that fails stops the later phases. Errors: NOT_FOUND (field vnid: network absent),
   * INVALID_ARGUMENT (entries; also a dst of another address family than the network's local),
   * INTERNAL.
   */
  apply(vnid: number, changes: TableChanges): Promise<void>;

  /** What is programmed now: only entries we program (permanent, on the VXLAN device itself), not
   * the bridge's own or learned entries. Errors: NOT_FOUND (network absent). */
  read(vnid: number): Promise<Tables>;

  /** Subscribes to kernel miss notifications of networks with learningMisses. Returns the
   * unsubscribe function (after close(), subscribing does nothing). Delivery is best effort: the kernel repeats a miss for every packet that
   * finds nothing, so a lost one is recovered by the next packet. */
  onMiss(listener: MissListener): () => void;

  /** Stops helper processes and listeners; the kernel state stays. Idempotent. */
  close(): Promise<void>;
}
