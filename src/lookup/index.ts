// The lookup index: every NIC of every vnid, in memory, answering VL2 / VL3 / bulk / flood
// without I/O, and turning each committed change batch into the LookupEvents it causes.
//
// Memory is the design constraint (a million NICs must fit in ~200 bytes each; Redis needs ~90).
// So a NIC is a slot number into columns of typed arrays (vnid, MAC as hi16/lo32, node index,
// one IPv4 address), NICs with other IP sets keep a small side record, nodes are interned
// (node-table.ts), and the (vnid, MAC) and (vnid, IPv4) keys live in open-addressing tables of
// slot numbers (slot-table.ts) instead of Maps with boxed keys; NIC ids are UTF-8 bytes in an arena
// (id-table.ts), not a million strings and a Map for every major GC to mark. Per vnid there is an intrusive
// doubly linked list of its slots (bulk, and the NICs a node change moves) and a count of NICs per
// node (the flood list).
//
// What the index shows — the "visible" state that answers and events describe — is every NIC
// whose node is present. A NIC on an unknown or deleted node is kept but invisible; events are
// exactly the differences of the visible state across one batch.

import { pino, type Logger } from 'pino';
import { vxfab } from '../wire/gen/proto.js';
import { invalid } from '../model/errors.js';
import { NIC_PREFIX, NODE_PREFIX } from '../model/keys.js';
import {
  BAD, checkVnid, formatIp4, formatMac, ip6Key, isIp6Text, macHi, macLo, parseIp4, VNID_MAX, VNID_MIN,
} from './addr.js';
import { BulkCursor } from './bulk-cursor.js';
import { IdTable } from './id-table.js';
import { NodeTable } from './node-table.js';
import { EMPTY, mix3, SlotTable, widened, type Column } from './slot-table.js';
import {
  EventKind, type EndpointInfo, type FloodMemberInfo, type KeyChangeLike, type LookupEventLike,
  type Vl2Answer, type Vl3Answer,
} from './types.js';

const IP4_SALT = 0x5bd1e995;
const TWO32 = 0x100000000;

/** flagCol bits. */
const ONE_IP4 = 1; // the NIC has exactly one address, IPv4, in ip4Col
const MANY_IPS = 2; // the NIC's addresses are in extraIps

interface NicIps {
  /** As the controller wrote them (shared with events and bulk: never mutated). */
  ips: string[];
  v4: number[];
  /** Canonical IPv6 keys (ip6Key). */
  v6: string[];
}

interface VnidState {
  head: number;
  size: number;
  /** node index → NICs of this vnid on that node. */
  perNode: Map<number, number>;
}

/** The visible state of one NIC before a batch, for the diff. */
interface Before {
  vnid: number;
  ep: EndpointInfo;
}

/** What a batch touched, captured before it changed anything. */
interface Tracker {
  nics: Map<string, Before | null>;
  floods: Map<number, FloodMemberInfo[]>;
}

export interface LookupIndexOptions {
  log?: Logger;
  /** Initial NIC slot capacity (grows by doubling). */
  initialCapacity?: number;
}

const EMPTY_IPS: string[] = [];

export class LookupIndex {
  private rev = 0;
  /** What the parts of a batch applied at the current revision touched (see apply). */
  private carried: Tracker | undefined;
  private readonly log: Logger;
  private readonly nodes = new NodeTable();

  // NIC columns, indexed by slot. vnidCol 0 marks a free slot.
  private cap: number;
  private top = 0;
  private count = 0;
  private readonly freeSlots: number[] = [];
  private vnidCol: Uint32Array;
  private macHiCol: Uint16Array;
  private macLoCol: Uint32Array;
  private nodeCol: Int32Array;
  private ip4Col: Uint32Array;
  private flagCol: Uint8Array;
  private nextCol: Int32Array;
  private prevCol: Int32Array;
  private readonly extraIps = new Map<number, NicIps>();
  /** NIC ids by slot and slots by id, off the heap (id-table.ts). */
  private readonly ids: IdTable;

  private readonly vl2Table: SlotTable;
  private readonly ip4Table: SlotTable;
  /** `${vnid}/${ip6Key}` → slot. IPv6 is off the hot path, so a Map is fine here. */
  private readonly ip6Slots = new Map<string, number>();
  private readonly vnidStates = new Map<number, VnidState>();

  constructor(options: LookupIndexOptions = {}) {
    this.log = (options.log ?? pino({ level: 'silent' })).child({ module: 'lookup-index' });
    this.cap = Math.max(16, options.initialCapacity ?? 1024);
    this.ids = new IdTable(this.cap);
    this.vnidCol = new Uint32Array(this.cap);
    this.macHiCol = new Uint16Array(this.cap);
    this.macLoCol = new Uint32Array(this.cap);
    this.nodeCol = new Int32Array(this.cap);
    this.ip4Col = new Uint32Array(this.cap);
    this.flagCol = new Uint8Array(this.cap);
    this.nextCol = new Int32Array(this.cap);
    this.prevCol = new Int32Array(this.cap);
    this.vl2Table = new SlotTable((s) => mix3(this.vnidCol[s], this.macHiCol[s], this.macLoCol[s]), false);
    this.ip4Table = new SlotTable((s, ip) => mix3(this.vnidCol[s], ip, IP4_SALT), true);
  }

  /** The revision of the last applied batch or snapshot. */
  get revision(): number {
    return this.rev;
  }

  /** NICs held (one NIC with its addresses is one mapping), visible or not. */
  get mappings(): number {
    return this.count;
  }

  /** Vnids with at least one NIC, ascending. */
  vnids(): number[] {
    return [...this.vnidStates.keys()].sort((a, b) => a - b);
  }

  // ---- feeding -------------------------------------------------------------------------------

  /** Replaces the whole content with a snapshot: every object as of `revision`. No events: after
   *  a snapshot, subscribers must resync (SubscriptionHub.reset). */
  applySnapshot(revision: number, changes: Iterable<KeyChangeLike>): void {
    this.clear();
    this.loadSnapshotPage(changes);
    this.rev = revision;
  }

  /** Adds one page of a snapshot being loaded (after clear()); finish with setRevision. For
   *  feeds that deliver a snapshot in many ChangeBatch pages. */
  loadSnapshotPage(changes: Iterable<KeyChangeLike>): void {
    for (const change of changes) this.applyChange(change, undefined);
  }

  /** Sets the revision reached by a paged snapshot load. */
  setRevision(revision: number): void {
    this.rev = revision;
  }

  /** Empties the index (revision 0). */
  clear(): void {
    this.rev = 0;
    this.carried = undefined;
    this.nodes.clear();
    this.top = 0;
    this.count = 0;
    this.freeSlots.length = 0;
    this.vnidCol.fill(0);
    this.ids.clear();
    this.extraIps.clear();
    this.vl2Table.clear();
    this.ip4Table.clear();
    this.ip6Slots.clear();
    this.vnidStates.clear();
  }

  /** Applies one committed batch and returns the events it causes, grouped by vnid (ascending),
   *  within a vnid: removals, moves, additions, then the flood change. A batch below the current
   *  revision was applied already (a replayed Watch) and is ignored; one at it is a leading part
   *  of the next batch (controller/feed.ts splits a batch too big for a frame). */
  apply(revision: number, changes: Iterable<KeyChangeLike>): LookupEventLike[] {
    if (revision < this.rev) {
      this.log.debug({ revision, current: this.rev }, 'batch already applied, ignored');
      return [];
    }
    // A batch at the current revision is a part of the next batch, sent ahead of it because the
    // whole would not fit in one frame (controller/feed.ts), or a harmless replay: its changes
    // are applied now and its events come with the next batch, diffed from the state before
    // this part.
    const tracker = this.carried ?? { nics: new Map(), floods: new Map() };
    this.carried = undefined;
    for (const change of changes) this.applyChange(change, tracker);
    if (revision === this.rev) {
      this.carried = tracker;
      return [];
    }
    this.rev = revision;
    return this.diff(revision, tracker);
  }

  private applyChange(change: KeyChangeLike, tracker: Tracker | undefined): void {
    const key = change.key;
    const deleted = change.deleted === true;
    try {
      if (key.startsWith(NIC_PREFIX)) {
        const id = key.slice(NIC_PREFIX.length);
        if (tracker) this.captureNic(tracker, id);
        if (deleted) {
          this.removeNic(id);
        } else {
          const nic = vxfab.v1.Nic.decode(change.value ?? new Uint8Array(0));
          if (tracker && validVnid(nic.vnid)) this.captureFlood(tracker, nic.vnid);
          this.upsertNic(id, nic);
        }
      } else if (key.startsWith(NODE_PREFIX)) {
        const name = key.slice(NODE_PREFIX.length);
        if (deleted) {
          const idx = this.nodes.indexOf(name);
          if (idx < 0 || !this.nodes.isPresent(idx)) return;
          if (tracker) this.captureNode(tracker, idx);
          this.nodes.markAbsent(idx);
        } else {
          const node = vxfab.v1.Node.decode(change.value ?? new Uint8Array(0));
          const idx = this.nodes.intern(name);
          if (!this.nodes.wouldChange(idx, node.underlay, node.port)) return; // a heartbeat
          if (tracker) this.captureNode(tracker, idx);
          this.nodes.set(idx, node.underlay, node.port);
        }
      }
      // Tenants and networks: a NIC carries its vnid, so the index needs neither.
    } catch (e) {
      this.log.warn({ key, err: e }, 'undecodable change ignored');
    }
  }

  // ---- NIC storage ---------------------------------------------------------------------------

  private upsertNic(id: string, nic: vxfab.v1.Nic): void {
    const hi = macHi(nic.mac);
    const lo = hi < 0 ? BAD : macLo(nic.mac);
    if (lo < 0 || !validVnid(nic.vnid)) {
      this.log.warn({ id, mac: nic.mac, vnid: nic.vnid }, 'NIC with a bad MAC or vnid not indexed');
      this.removeNic(id);
      return;
    }
    let slot = this.ids.slotOf(id);
    if (slot === undefined) {
      slot = this.allocSlot();
      this.ids.add(slot, id);
      this.count++;
    } else {
      this.unindexSlot(slot);
    }
    this.vnidCol[slot] = nic.vnid;
    this.macHiCol[slot] = hi;
    this.macLoCol[slot] = lo;
    this.nodeCol[slot] = this.nodes.intern(nic.node);
    this.storeIps(slot, id, nic.ips);
    this.indexSlot(slot);
  }

  /** O(1) per address: duplicates are dropped through Sets (a NIC stored before MAX_NIC_IPS may
   *  hold tens of thousands of addresses; `includes` made 40,000 IPv6 addresses take 24 s). */
  private storeIps(slot: number, id: string, ips: string[]): void {
    const v4set = new Set<number>();
    const v6set = new Set<string>();
    for (const ip of ips) {
      if (isIp6Text(ip)) {
        const k = ip6Key(ip);
        if (k === undefined) this.log.warn({ id, ip }, 'malformed IPv6 address not indexed');
        else v6set.add(k);
      } else {
        const v = parseIp4(ip);
        if (v < 0) this.log.warn({ id, ip }, 'malformed IPv4 address not indexed');
        else v4set.add(v);
      }
    }
    const v4 = [...v4set];
    const v6 = [...v6set];
    if (ips.length === 1 && v4.length === 1) {
      // parseIp4 accepts only the canonical form, so formatIp4 gives back the same text.
      this.flagCol[slot] = ONE_IP4;
      this.ip4Col[slot] = v4[0];
    } else if (ips.length === 0) {
      this.flagCol[slot] = 0;
    } else {
      this.flagCol[slot] = MANY_IPS;
      this.extraIps.set(slot, { ips, v4, v6 });
    }
  }

  private removeNic(id: string): void {
    const slot = this.ids.slotOf(id);
    if (slot === undefined) return;
    this.unindexSlot(slot);
    this.ids.remove(slot);
    this.vnidCol[slot] = 0;
    this.freeSlots.push(slot);
    this.count--;
  }

  private allocSlot(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    if (this.top === this.cap) this.growColumns();
    return this.top++;
  }

  private growColumns(): void {
    const cap = this.cap * 2;
    const grow = <T extends Column>(old: T, make: (n: number) => T): T => widened(old, cap, make);
    this.vnidCol = grow(this.vnidCol, (n) => new Uint32Array(n));
    this.macHiCol = grow(this.macHiCol, (n) => new Uint16Array(n));
    this.macLoCol = grow(this.macLoCol, (n) => new Uint32Array(n));
    this.nodeCol = grow(this.nodeCol, (n) => new Int32Array(n));
    this.ip4Col = grow(this.ip4Col, (n) => new Uint32Array(n));
    this.flagCol = grow(this.flagCol, (n) => new Uint8Array(n));
    this.nextCol = grow(this.nextCol, (n) => new Int32Array(n));
    this.prevCol = grow(this.prevCol, (n) => new Int32Array(n));
    this.ids.grow(cap);
    this.cap = cap;
  }

  /** Enters a slot whose columns are set into the key tables, its vnid list and flood counts. */
  private indexSlot(slot: number): void {
    const vnid = this.vnidCol[slot];
    this.vl2Table.insert(mix3(vnid, this.macHiCol[slot], this.macLoCol[slot]), slot);
    const flags = this.flagCol[slot];
    if (flags & ONE_IP4) {
      const ip = this.ip4Col[slot];
      this.ip4Table.insert(mix3(vnid, ip, IP4_SALT), slot, ip);
    } else if (flags & MANY_IPS) {
      const extra = this.extraIps.get(slot) as NicIps;
      for (const ip of extra.v4) this.ip4Table.insert(mix3(vnid, ip, IP4_SALT), slot, ip);
      for (const k of extra.v6) this.ip6Slots.set(`${vnid}/${k}`, slot);
    }
    let st = this.vnidStates.get(vnid);
    if (st === undefined) {
      st = { head: EMPTY, size: 0, perNode: new Map() };
      this.vnidStates.set(vnid, st);
    }
    this.prevCol[slot] = EMPTY;
    this.nextCol[slot] = st.head;
    if (st.head !== EMPTY) this.prevCol[st.head] = slot;
    st.head = slot;
    st.size++;
    const node = this.nodeCol[slot];
    st.perNode.set(node, (st.perNode.get(node) ?? 0) + 1);
  }

  /** Undoes indexSlot; the columns keep their values. */
  private unindexSlot(slot: number): void {
    const vnid = this.vnidCol[slot];
    this.vl2Table.remove(mix3(vnid, this.macHiCol[slot], this.macLoCol[slot]), slot);
    const flags = this.flagCol[slot];
    if (flags & ONE_IP4) {
      const ip = this.ip4Col[slot];
      this.ip4Table.remove(mix3(vnid, ip, IP4_SALT), slot, ip);
    } else if (flags & MANY_IPS) {
      const extra = this.extraIps.get(slot) as NicIps;
      for (const ip of extra.v4) this.ip4Table.remove(mix3(vnid, ip, IP4_SALT), slot, ip);
      for (const k of extra.v6) {
        const key = `${vnid}/${k}`;
        if (this.ip6Slots.get(key) === slot) this.ip6Slots.delete(key);
      }
      this.extraIps.delete(slot);
    }
    this.flagCol[slot] = 0;
    const st = this.vnidStates.get(vnid) as VnidState;
    const prev = this.prevCol[slot];
    const next = this.nextCol[slot];
    if (prev === EMPTY) st.head = next;
    else this.nextCol[prev] = next;
    if (next !== EMPTY) this.prevCol[next] = prev;
    st.size--;
    const node = this.nodeCol[slot];
    const left = (st.perNode.get(node) ?? 1) - 1;
    if (left === 0) st.perNode.delete(node);
    else st.perNode.set(node, left);
    if (st.size === 0) this.vnidStates.delete(vnid);
  }

  // ---- answers -------------------------------------------------------------------------------

  /** The slot of (vnid, mac), visible or not, or -1. Throws INVALID_ARGUMENT (vnid, mac). */
  private vl2Slot(vnid: number, mac: string): number {
    checkVnid(vnid);
    const hi = macHi(mac);
    const lo = hi < 0 ? BAD : macLo(mac);
    if (lo < 0) throw invalid('mac', mac, 'must be six hex byte pairs separated by colons');
    return this.slotOf(vnid, hi, lo);
  }

  /** The slot of a parsed (vnid, MAC hi16, MAC lo32), or -1. No validation. */
  private slotOf(vnid: number, hi: number, lo: number): number {
    const { buckets, mask } = this.vl2Table;
    const vnidCol = this.vnidCol;
    const loCol = this.macLoCol;
    const hiCol = this.macHiCol;
    let i = mix3(vnid, hi, lo) & mask;
    for (;;) {
      const s = buckets[i];
      if (s === EMPTY) return -1;
      if (loCol[s] === lo && hiCol[s] === hi && vnidCol[s] === vnid) return s;
      i = (i + 1) & mask;
    }
  }

  /** The hot path: the node index holding (vnid, mac), or -1 (NOT_FOUND). Pair with
   *  vl2ReplyBytes / nodeInfo. Throws INVALID_ARGUMENT naming 'vnid' or 'mac'. */
  vl2Node(vnid: number, mac: string): number {
    const slot = this.vl2Slot(vnid, mac);
    if (slot < 0) return -1;
    const node = this.nodeCol[slot];
    return this.nodes.isPresent(node) ? node : -1;
  }

  /** vl2Node for a MAC already parsed into its top 16 and low 32 bits (macHi / macLo), for
   *  callers that parse the request bytes themselves. The caller has checked the vnid's range. */
  vl2NodeParsed(vnid: number, hi: number, lo: number): number {
    const slot = this.slotOf(vnid, hi, lo);
    if (slot < 0) return -1;
    const node = this.nodeCol[slot];
    return this.nodes.isPresent(node) ? node : -1;
  }

  /** The encoded vxfab.v1.Vl2Reply for a node index from vl2Node; cached until the node changes.
   *  The bytes are shared: send them, do not modify them. */
  vl2ReplyBytes(nodeIndex: number): Uint8Array {
    return this.nodes.vl2Reply(nodeIndex);
  }

  /** Where a node index from vl2Node is (immutable, shared). */
  nodeInfo(nodeIndex: number): FloodMemberInfo {
    return this.nodes.member(nodeIndex);
  }

  /** (vnid, mac) → where it lives, or undefined (NOT_FOUND). The answer is shared and immutable. */
  vl2(vnid: number, mac: string): Vl2Answer | undefined {
    const node = this.vl2Node(vnid, mac);
    return node < 0 ? undefined : this.nodes.member(node);
  }

  /** (vnid, IPv4 or IPv6) → MAC and place, or undefined (NOT_FOUND; also when the vnid has no
   *  address of that family). Throws INVALID_ARGUMENT naming 'vnid' or 'ip'. */
  vl3(vnid: number, ip: string): Vl3Answer | undefined {
    checkVnid(vnid);
    let slot = -1;
    if (isIp6Text(ip)) {
      const k = ip6Key(ip);
      if (k === undefined) throw invalid('ip', ip, 'is not an IPv6 address');
      slot = this.ip6Slots.get(`${vnid}/${k}`) ?? -1;
    } else {
      const v = parseIp4(ip);
      if (v < 0) throw invalid('ip', ip, 'is not an IPv4 or IPv6 address');
      const { buckets, mask } = this.ip4Table;
      const words = this.ip4Table.words as Uint32Array;
      let i = mix3(vnid, v, IP4_SALT) & mask;
      for (;;) {
        const s = buckets[i];
        if (s === EMPTY) break;
        if (words[i] === v && this.vnidCol[s] === vnid) { slot = s; break; }
        i = (i + 1) & mask;
      }
    }
    if (slot < 0) return undefined;
    const node = this.nodeCol[slot];
    if (!this.nodes.isPresent(node)) return undefined;
    const m = this.nodes.member(node);
    return { mac: formatMac(this.macHiCol[slot], this.macLoCol[slot]), underlay: m.underlay, port: m.port, node: m.node };
  }

  /** Whether a NIC of vnid is placed on the node named `node` (present or not): what the
   *  authorization policy asks before it lets an agent look up or subscribe to a vnid. */
  carries(node: string, vnid: number): boolean {
    const idx = this.nodes.indexOf(node);
    return idx >= 0 && this.vnidStates.get(vnid)?.perNode.has(idx) === true;
  }

  /** The hosts carrying at least one visible NIC of vnid, sorted by node name. */
  flood(vnid: number): FloodMemberInfo[] {
    checkVnid(vnid);
    return this.floodOf(vnid);
  }

  private floodOf(vnid: number): FloodMemberInfo[] {
    const st = this.vnidStates.get(vnid);
    if (st === undefined) return [];
    const out: FloodMemberInfo[] = [];
    for (const node of st.perNode.keys()) if (this.nodes.isPresent(node)) out.push(this.nodes.member(node));
    return out.sort(byNodeName);
  }

  /** A copy of vnid's visible endpoints as of now, to page through (see BulkCursor). */
  bulk(vnid: number): BulkCursor {
    checkVnid(vnid);
    const st = this.vnidStates.get(vnid);
    const slots: number[] = [];
    if (st !== undefined) {
      for (let s = st.head; s !== EMPTY; s = this.nextCol[s]) {
        if (this.nodes.isPresent(this.nodeCol[s])) slots.push(s);
      }
    }
    const macs = new Float64Array(slots.length);
    const where: FloodMemberInfo[] = [];
    const ips: (number | string[])[] = [];
    const ids: string[] = [];
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      macs[i] = this.macHiCol[s] * TWO32 + this.macLoCol[s];
      where.push(this.nodes.member(this.nodeCol[s]));
      const flags = this.flagCol[s];
      ips.push(flags & ONE_IP4 ? this.ip4Col[s] : flags & MANY_IPS ? (this.extraIps.get(s) as NicIps).ips : EMPTY_IPS);
      ids.push(this.ids.idAt(s));
    }
    return new BulkCursor(this.rev, macs, where, ips, ids);
  }

  private endpointAt(slot: number): EndpointInfo {
    const m = this.nodes.member(this.nodeCol[slot]);
    const flags = this.flagCol[slot];
    return {
      mac: formatMac(this.macHiCol[slot], this.macLoCol[slot]),
      ips: flags & ONE_IP4 ? [formatIp4(this.ip4Col[slot])] : flags & MANY_IPS ? (this.extraIps.get(slot) as NicIps).ips : EMPTY_IPS,
      underlay: m.underlay,
      port: m.port,
      node: m.node,
      nicId: this.ids.idAt(slot),
    };
  }

  // ---- events --------------------------------------------------------------------------------

  /** `slot`: the NIC's slot when the caller already has it (a node's NICs): finding it by id
   *  again would encode and hash the id once more. */
  private captureNic(t: Tracker, id: string, known?: number): void {
    if (t.nics.has(id)) return;
    const slot = known ?? this.ids.slotOf(id);
    if (slot === undefined) {
      t.nics.set(id, null);
      return;
    }
    const vnid = this.vnidCol[slot];
    this.captureFlood(t, vnid);
    t.nics.set(id, this.nodes.isPresent(this.nodeCol[slot]) ? { vnid, ep: this.endpointAt(slot) } : null);
  }

  private captureFlood(t: Tracker, vnid: number): void {
    if (!t.floods.has(vnid)) t.floods.set(vnid, this.floodOf(vnid));
  }

  /** Before a node changes: every NIC on it (it moves, appears or vanishes) and their floods. */
  private captureNode(t: Tracker, node: number): void {
    for (const [vnid, st] of this.vnidStates) {
      if (!st.perNode.has(node)) continue;
      this.captureFlood(t, vnid);
      for (let s = st.head; s !== EMPTY; s = this.nextCol[s]) {
        if (this.nodeCol[s] === node) this.captureNic(t, this.ids.idAt(s), s);
      }
    }
  }

  private diff(revision: number, t: Tracker): LookupEventLike[] {
    const groups = new Map<number, { removed: LookupEventLike[]; moved: LookupEventLike[]; added: LookupEventLike[] }>();
    const group = (vnid: number) => {
      let g = groups.get(vnid);
      if (g === undefined) {
        g = { removed: [], moved: [], added: [] };
        groups.set(vnid, g);
      }
      return g;
    };
    for (const [id, before] of t.nics) {
      const slot = this.ids.slotOf(id);
      const after: Before | null = slot !== undefined && this.nodes.isPresent(this.nodeCol[slot])
        ? { vnid: this.vnidCol[slot], ep: this.endpointAt(slot) }
        : null;
      if (before === null && after === null) continue;
      const removed = (b: Before) => group(b.vnid).removed.push({ revision, kind: EventKind.ENDPOINT_REMOVED, vnid: b.vnid, endpoint: b.ep });
      const added = (a: Before) => group(a.vnid).added.push({ revision, kind: EventKind.ENDPOINT_ADDED, vnid: a.vnid, endpoint: a.ep });
      if (after === null) {
        removed(before as Before);
      } else if (before === null) {
        added(after);
      } else if (before.vnid !== after.vnid || before.ep.mac !== after.ep.mac || !sameList(before.ep.ips, after.ep.ips)) {
        // Not the same endpoint any more: agents drop the old entries, then learn the new ones.
        removed(before);
        added(after);
      } else if (before.ep.node !== after.ep.node || before.ep.underlay !== after.ep.underlay || before.ep.port !== after.ep.port) {
        group(after.vnid).moved.push({
          revision, kind: EventKind.ENDPOINT_MOVED, vnid: after.vnid, endpoint: after.ep,
          oldUnderlay: before.ep.underlay, oldPort: before.ep.port, oldNode: before.ep.node,
        });
      }
    }
    const floods = new Map<number, LookupEventLike>();
    for (const [vnid, before] of t.floods) {
      const after = this.floodOf(vnid);
      if (!sameFlood(before, after)) floods.set(vnid, { revision, kind: EventKind.FLOOD_CHANGED, vnid, flood: after });
    }
    const vnids = [...new Set([...groups.keys(), ...floods.keys()])].sort((a, b) => a - b);
    const out: LookupEventLike[] = [];
    for (const vnid of vnids) {
      const g = groups.get(vnid);
      if (g !== undefined) out.push(...g.removed, ...g.moved, ...g.added);
      const f = floods.get(vnid);
      if (f !== undefined) out.push(f);
    }
    return out;
  }
}

function validVnid(vnid: number): boolean {
  return vnid >= VNID_MIN && vnid <= VNID_MAX;
}

function byNodeName(a: FloodMemberInfo, b: FloodMemberInfo): number {
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameFlood(a: readonly FloodMemberInfo[], b: readonly FloodMemberInfo[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].node !== b[i].node || a[i].underlay !== b[i].underlay || a[i].port !== b[i].port) return false;
  }
  return true;
}
