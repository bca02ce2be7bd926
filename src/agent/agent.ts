// The per-host agent core: keeps one host's VXLAN devices and tables in line with the controller
// and the lookup service. No process concerns here (signals, argv, sockets to operators): the
// caller injects the data plane, the controller port and a lookup dialer, so one process may run
// one agent over the kernel or thousands over SimDataPlane.
//
// How it learns its networks: it lists the NICs placed on its node (ListNics node=…) at start,
// every `nicPollMs`, and at once when told something changed here — a lookup event naming this
// node (a NIC created on / moved to / moved from it in a network it already carries), or a kick
// through syncNow() (what `vxfab endpoint attach` does through the agent's socket before plugging
// a NIC). So a NIC in a network the host already carries converges with the event stream, and one
// in a new network converges with the attach (or the next poll at worst).
//
// One lookup server at a time (lookup-link.ts fails over between several). Per session: subscribe
// to the local vnids, wait for SYNCED, load bulk (push) and flood lists, then apply events as they
// come. After a lost connection the next session — on the same server or another — resumes from
// the last revision seen (revisions are the controller's, the same on every replica): the server
// replays what happened meanwhile, and the replay is applied like live events, to the on-demand
// cache too (the Flood snapshot a session loads says nothing about cached endpoints, so it must
// not mask their events). Push mode and flood lists are reloaded whole on every new session as
// well. COMPACTED or RESYNC means a full reload, and on-demand then asks again for every cached
// entry. A server behind our revision holds SYNCED back until it catches up (lookup/
// subscriptions.ts); one that does not within syncTimeoutMs is left for the next. The session is
// "live" once the loaded state and the replay are in the kernel; kernel misses are only resolved
// on a live session, so no answer older than what the agent had is installed. While no server is
// reachable the agent is "degraded": it keeps every programmed entry and does not expire cache
// entries, so established flows keep working.
//
// A node deleted from the controller while its agent runs (heartbeat NOT_FOUND) is not registered
// again: the agent stops programming (no NIC polls, no lookups, no kernel writes; what the kernel
// holds stays), logs an error, and says so in status(). It resumes by itself once an operator adds
// the node back with the same underlay, with a full reload.
//
// Every change to the kernel goes through one queue, as a diff between the tables the model asks
// for and the tables last read or written (the mirror): entries that are right are never touched,
// so a restart or a reconcile does not blip live flows. The periodic reconcile re-reads the kernel.

import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import type { DataPlane, MissEvent, NetworkSpec, TableChanges, Tables } from '../dataplane/dataplane.js';
import { VXLAN_PORT } from '../dataplane/dataplane.js';
import { diffTables, isNoChange } from '../dataplane/diff.js';
import { canonicalIp, canonicalMac } from '../dataplane/validate.js';
import { VxfabError, isVxfabError } from '../model/errors.js';
import { runningTimeout } from '../wire/transport/running-clock.js';
import type { Nic } from '../model/objects.js';
import { flushNetwork } from './flush.js';
import { LookupLink, type LookupLinkOptions } from './lookup-link.js';
import { NetState } from './net-state.js';
import type { ControllerPort, LookupConnection, LookupDialer, LookupEvent, NodeRecord } from './ports.js';

export type AgentMode = 'push' | 'on-demand';

export interface AgentOptions {
  node: string;
  /** This host's underlay address (VTEP source). */
  underlay: string;
  underlayDev?: string;
  /** VTEP UDP port; default 4789. */
  port?: number;
  mode: AgentMode;
  dataPlane: DataPlane;
  controller: ControllerPort;
  /** Lookup server addresses, tried in order, failed over in turn. */
  lookups: string[];
  dialLookup: LookupDialer;
  logger?: Logger;
  /** NIC list poll interval. Default 5000 ms. */
  nicPollMs?: number;
  heartbeatMs?: number;
  /** Full reconcile (kernel re-read) interval. Default 30000 ms; 0: only at start. */
  reconcileMs?: number;
  /** on-demand: lifetime of a resolved entry. Default 300000 ms. */
  cacheTtlMs?: number;
  /** on-demand: how long a NOT_FOUND (or local) answer suppresses new lookups for a key. */
  negativeTtlMs?: number;
  /** Lookup reconnect backoff and connect timeout. */
  link?: LookupLinkOptions;
  /** How long a lookup server may take to send SYNCED (it holds it back while it is behind our
   *  revision) before the agent tries the next one. Default 10000 ms. */
  syncTimeoutMs?: number;
}

export interface ReconcileReport {
  at: number;
  fdbSet: number;
  fdbDel: number;
  floodAdd: number;
  floodDel: number;
  neighSet: number;
  neighDel: number;
  networksAdded: number;
  networksRemoved: number;
}

export interface NetworkStatus {
  vnid: number;
  tenant: string;
  network: string;
  mtu: number;
  localNics: number;
  fdb: number;
  neigh: number;
  flood: number;
  loaded: boolean;
}

export interface AgentStatus {
  node: string;
  underlay: string;
  mode: AgentMode;
  /** live: the current session's state is loaded and in the kernel; liveSessions counts sessions
   *  that got there. */
  lookup: { state: 'connected' | 'connecting'; address: string; degraded: boolean; sessions: number; live: boolean; liveSessions: number };
  /** nodeDeleted: the controller no longer knows this node; the agent stopped programming. */
  controller: { registered: boolean; lastPollOk: boolean; nodeDeleted: boolean };
  degraded: boolean;
  revision: number;
  networks: NetworkStatus[];
  entries: { fdb: number; neigh: number; flood: number };
  writes: { applies: number; entries: number };
  misses: { received: number; resolved: number; notFound: number };
  lastReconcile: ReconcileReport | undefined;
}

export interface AgentEvents {
  /** Something in status() changed (a network, an entry, the lookup link). */
  change: [];
}

type Task<T> = () => Promise<T>;

const EMPTY_REPORT = (): ReconcileReport => ({
  at: Date.now(), fdbSet: 0, fdbDel: 0, floodAdd: 0, floodDel: 0, neighSet: 0, neighDel: 0, networksAdded: 0, networksRemoved: 0,
});

export class Agent extends EventEmitter<AgentEvents> {
  readonly node: string;
  readonly mode: AgentMode;
  private readonly o: AgentOptions;
  private readonly dp: DataPlane;
  private readonly log: Logger;
  private readonly nets = new Map<number, NetState>();
  private localNics = new Map<string, Nic>();
  private readonly networkMeta = new Map<string, { vnid: number; mtu: number }>();
  private readonly link: LookupLink;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly dirty = new Set<number>();
  private flushScheduled = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly negative = new Map<string, number>();
  private readonly inflight = new Set<string>();
  private unsubscribeMiss: (() => void) | undefined;
  private closed = false;
  private started = false;
  private registered = false;
  /** The node was deleted from the controller while we ran: programming stopped. */
  private deleted = false;
  private lastPollOk = false;
  /** The connection of the live session (state loaded, replay applied), if any. */
  private liveConn: LookupConnection | undefined;
  private liveSessions = 0;
  private polling: Promise<void> | undefined;
  private pollAgain = false;
  private lastReconcile: ReconcileReport | undefined;
  private stats = { applies: 0, entries: 0, missesReceived: 0, resolved: 0, notFound: 0 };

  constructor(options: AgentOptions) {
    super();
    this.o = options;
    this.node = options.node;
    this.mode = options.mode;
    this.dp = options.dataPlane;
    this.log = (options.logger ?? pino({ level: 'silent' })).child({ module: 'agent', node: options.node });
    this.link = new LookupLink({
      addresses: options.lookups, dial: options.dialLookup, log: this.log, ...options.link,
      session: (conn) => this.session(conn),
      onState: () => this.emit('change'),
    });
  }

  /** Adopts what the kernel has, registers the node, loads the local NICs and starts the loops.
   *  Resolves once the first NIC poll was tried (the lookup link comes up in the background). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.enqueue(() => this.adoptKernel());
    if (this.mode === 'on-demand') this.unsubscribeMiss = this.dp.onMiss((m) => this.onMiss(m));
    await this.register().catch((e: unknown) => this.log.warn({ err: errText(e) }, 'node registration failed; retrying with heartbeats'));
    await this.pollNics();
    if (this.closed) return; // closed while starting (a signal during a slow registration)
    // The controller-facing loops run at a random phase within their period: agents started
    // together (a fleet rollout, a power cut, the simulator's 1,000 in one process) would
    // otherwise poll and beat in lockstep, a burst of a thousand calls every period that holds up
    // whatever else is going on (a NIC move being propagated).
    this.every(this.o.nicPollMs ?? 5000, () => this.kick(), true);
    this.every(this.o.heartbeatMs ?? 5000, () => this.heartbeat(), true);
    if ((this.o.reconcileMs ?? 30_000) > 0) this.every(this.o.reconcileMs ?? 30_000, () => void this.reconcile().catch(() => undefined));
    if (this.mode === 'on-demand') {
      const ttl = this.o.cacheTtlMs ?? 300_000;
      this.every(Math.max(50, Math.min(5000, Math.floor(ttl / 4))), () => this.expireCache());
    }
    this.link.start();
  }

  /** Stops every loop and the lookup link. The kernel state stays; the data plane stays open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.unsubscribeMiss?.();
    await this.link.close();
    await this.queue.catch(() => undefined);
  }

  /** Polls the NIC list now, applies what changed, and resolves when it is in the kernel. */
  async syncNow(): Promise<AgentStatus> {
    if (this.deleted) {
      // What `vxfab endpoint attach` asks before plugging a NIC: tell it why no bridge will come.
      throw new VxfabError('NOT_FOUND', `node "${this.node}" was deleted from the controller: this agent programs nothing until it is added back`,
        { field: 'node', value: this.node });
    }
    await this.pollNics();
    await this.enqueue(() => this.flush());
    return this.status();
  }

  /** Re-reads every network's kernel tables and applies only the difference from the desired
   *  state; also removes networks of ours that no local NIC needs any more (after a good poll). */
  reconcile(): Promise<ReconcileReport> {
    return this.enqueue(() => this.reconcileLocked());
  }

  get degraded(): boolean {
    return this.link.degraded;
  }

  status(): AgentStatus {
    const networks: NetworkStatus[] = [];
    const entries = { fdb: 0, neigh: 0, flood: 0 };
    for (const n of [...this.nets.values()].sort((a, b) => a.vnid - b.vnid)) {
      const t = n.mirror;
      const s = { fdb: t?.fdb.size ?? 0, neigh: t?.neigh.size ?? 0, flood: t?.flood.size ?? 0 };
      entries.fdb += s.fdb;
      entries.neigh += s.neigh;
      entries.flood += s.flood;
      networks.push({
        vnid: n.vnid, tenant: n.tenant, network: n.name, mtu: n.mtu,
        localNics: [...this.localNics.values()].filter((nic) => nic.vnid === n.vnid).length, ...s, loaded: n.loaded,
      });
    }
    return {
      node: this.node, underlay: this.o.underlay, mode: this.mode,
      lookup: {
        state: this.link.connected ? 'connected' : 'connecting', address: this.link.address, degraded: this.link.degraded,
        sessions: this.link.sessions, live: this.liveConn !== undefined, liveSessions: this.liveSessions,
      },
      controller: { registered: this.registered, lastPollOk: this.lastPollOk, nodeDeleted: this.deleted },
      degraded: this.link.degraded,
      revision: this.link.revision,
      networks, entries,
      writes: { applies: this.stats.applies, entries: this.stats.entries },
      misses: { received: this.stats.missesReceived, resolved: this.stats.resolved, notFound: this.stats.notFound },
      lastReconcile: this.lastReconcile,
    };
  }

  // ---- controller: registration, heartbeats, local NICs -------------------------------------

  private async register(): Promise<void> {
    await this.o.controller.registerNode(this.node, this.o.underlay, this.o.port ?? VXLAN_PORT);
    this.registered = true;
  }

  private heartbeat(): void {
    if (!this.registered && !this.deleted) {
      // Never registered yet (the controller was down at start).
      this.register().catch((e: unknown) => this.log.debug({ err: errText(e) }, 'node registration failed'));
      return;
    }
    this.o.controller.heartbeat(this.node).then((node) => {
      if (this.deleted) this.nodeBack(node);
    }, (e: unknown) => {
      if (isVxfabError(e, 'NOT_FOUND')) {
        if (!this.deleted) void this.nodeGone();
      } else this.log.debug({ err: errText(e) }, 'heartbeat failed');
    });
  }

  /** The controller says our node does not exist: an operator deleted it. Registering it again
   *  would undo that (12 s later, silently), so stop programming until it is added back. */
  private async nodeGone(): Promise<void> {
    if (this.deleted || this.closed) return;
    this.deleted = true;
    this.registered = false;
    this.log.error({ node: this.node, underlay: this.o.underlay },
      'this node was deleted from the controller: stopped programming (kernel state kept); add it back (vxfab node add) to resume');
    this.emit('change');
    await this.link.hold();
  }

  /** A heartbeat answered again while we were deleted: the operator added the node back. */
  private nodeBack(node: NodeRecord | void): void {
    if (!this.deleted || this.closed) return;
    if (node && node.underlay !== '' && (canonicalIpOr(node.underlay) !== canonicalIpOr(this.o.underlay) || node.port !== (this.o.port ?? VXLAN_PORT))) {
      this.log.error({ node: this.node, have: `${node.underlay}:${node.port}`, ours: `${this.o.underlay}:${this.o.port ?? VXLAN_PORT}` },
        'this node was added back with another underlay: still not programming');
      return;
    }
    this.deleted = false;
    this.registered = true;
    this.log.warn({ node: this.node }, 'this node was added back to the controller: resuming with a full reload');
    // Nothing was followed meanwhile: reload everything (and revalidate the on-demand cache).
    this.link.revision = 0;
    for (const net of this.nets.values()) net.markAllDirty();
    this.link.release();
    this.kick();
    this.emit('change');
  }

  /** Schedules a NIC poll (coalesced with one in progress). */
  kick(): void {
    void this.pollNics().catch(() => undefined);
  }

  private pollNics(): Promise<void> {
    if (this.closed || this.deleted) return Promise.resolve();
    if (this.polling) {
      this.pollAgain = true;
      return this.polling;
    }
    const run = async (): Promise<void> => {
      do {
        this.pollAgain = false;
        let nics: Nic[];
        try {
          nics = await this.o.controller.listNics(this.node);
        } catch (e) {
          // Keep everything as it is: a controller outage must not tear networks down.
          this.lastPollOk = false;
          this.log.debug({ err: errText(e) }, 'NIC poll failed');
          return;
        }
        this.lastPollOk = true;
        await this.enqueue(() => this.applyLocalNics(nics));
      } while (this.pollAgain && !this.closed);
    };
    this.polling = run().finally(() => { this.polling = undefined; });
    return this.polling;
  }

  private async applyLocalNics(nics: Nic[]): Promise<void> {
    if (this.closed || this.deleted) return;
    this.localNics = new Map(nics.map((n) => [n.id, n]));
    const want = new Map<number, Nic>();
    for (const n of nics) if (!want.has(n.vnid)) want.set(n.vnid, n);
    let changed = false;
    for (const [vnid, nic] of want) {
      if (this.nets.get(vnid)?.ensured) continue;
      try {
        await this.addNetwork(vnid, nic);
        changed = true;
      } catch (e) {
        this.log.warn({ vnid, err: errText(e) }, 'cannot set up network; retrying at the next poll');
      }
    }
    for (const vnid of [...this.nets.keys()]) {
      if (want.has(vnid)) continue;
      await this.dp.removeNetwork(vnid).catch((e: unknown) => this.log.warn({ vnid, err: errText(e) }, 'removeNetwork failed'));
      this.nets.delete(vnid);
      this.log.info({ vnid }, 'network removed: no local NIC left');
      changed = true;
    }
    if (changed) {
      this.link.vnidsChanged();
      this.emit('change');
    }
  }

  private async addNetwork(vnid: number, nic: Nic): Promise<void> {
    const key = `${nic.tenant}/${nic.network}`;
    let meta = this.networkMeta.get(key);
    if (meta === undefined) {
      const net = await this.o.controller.getNetwork(nic.tenant, nic.network);
      meta = { vnid: net.vnid, mtu: net.mtu };
      this.networkMeta.set(key, meta);
    }
    const outcome = await this.dp.ensureNetwork(this.spec(vnid, meta.mtu));
    const existing = this.nets.get(vnid);
    const net = existing ?? new NetState(vnid, nic.tenant, nic.network, meta.mtu, this.node);
    net.tenant = nic.tenant;
    net.name = nic.network;
    net.mtu = meta.mtu;
    net.ensured = true;
    if (outcome.action !== 'unchanged') {
      this.log.info({ vnid, action: outcome.action, differences: outcome.differences }, 'network device');
      net.mirror = undefined; // a recreate dropped the tables: read again before diffing
    }
    if (net.mirror === undefined) net.mirror = await this.dp.read(vnid);
    if (existing === undefined) this.nets.set(vnid, net);
    this.markDirty(vnid);
  }

  private spec(vnid: number, mtu: number): NetworkSpec {
    return {
      vnid, mtu, local: this.o.underlay, port: this.o.port ?? VXLAN_PORT, learningMisses: this.mode === 'on-demand',
      ...(this.o.underlayDev ? { underlayDev: this.o.underlayDev } : {}),
    };
  }

  /** At start: the kernel's networks and entries are what we believe is there. on-demand adopts
   *  the entries into its cache (revalidated when a lookup session loads), so a restart does not
   *  drop them. Networks not backed by a local NIC go after the first good poll. */
  private async adoptKernel(): Promise<void> {
    const now = Date.now();
    const ttl = this.o.cacheTtlMs ?? 300_000;
    for (const n of await this.dp.listNetworks()) {
      const tables = await this.dp.read(n.vnid);
      const net = new NetState(n.vnid, '', '', n.mtu, this.node);
      net.mirror = tables;
      if (this.mode === 'on-demand') {
        for (const [mac, dst] of tables.fdb) net.fdbCache.set(mac, { value: dst, expiresAt: now + ttl });
        for (const [ip, mac] of tables.neigh) net.neighCache.set(ip, { value: mac, expiresAt: now + ttl });
      }
      this.nets.set(n.vnid, net);
    }
  }

  // ---- lookup sessions -------------------------------------------------------------------------

  /** One lookup server session; returns (or throws) when it is over. */
  private async session(conn: LookupConnection): Promise<void> {
    try {
      await this.sessionLoop(conn);
    } finally {
      if (this.liveConn === conn) this.liveConn = undefined;
    }
  }

  private async sessionLoop(conn: LookupConnection): Promise<void> {
    let from = this.link.revision;
    let subscribed = new Set<number>();
    for (;;) {
      if (this.closed || this.deleted) return;
      const version = this.link.vnidsVersion;
      const vnids = [...this.nets.keys()].sort((a, b) => a - b);
      if (vnids.length === 0) {
        const why = await Promise.race([this.link.waitVnidsChanged(version).then(() => 'vnids' as const), conn.lost.then(() => 'lost' as const)]);
        if (why === 'lost') return;
        continue;
      }
      // A new session reloads everything (cheap next to correctness; the diff writes only what
      // differs); a resubscription within a session loads only networks it did not have.
      const fresh = vnids.filter((v) => from === 0 || !subscribed.has(v) || !this.nets.get(v)!.loaded);
      const full = from === 0;
      const buffered: LookupEvent[] = [];
      let live = false;
      let syncedAt = -1;
      let synced: () => void = () => undefined;
      const syncedP = new Promise<void>((r) => { synced = r; });
      const stream = conn.subscribe(this.node, vnids, from, (e) => {
        if (e.kind === 'synced') {
          syncedAt = e.revision;
          this.link.revision = Math.max(this.link.revision, e.revision);
          synced();
          return;
        }
        if (live) this.onEvent(e);
        else buffered.push(e);
      });
      const ended = stream.done.then(() => undefined, (e: unknown) => e as Error);
      const syncMs = this.o.syncTimeoutMs ?? 10_000;
      let cancelSyncTimer: () => void = () => undefined;
      // Running time (running-clock.ts): a starved host must not leave a server whose SYNCED is
      // already in its socket buffer.
      const tooLong = new Promise<Error>((resolve) => {
        cancelSyncTimer = runningTimeout(() => resolve(new VxfabError('UNAVAILABLE',
          `no SYNCED within ${syncMs} ms (the server is behind revision ${from}?): trying the next one`)), syncMs);
      });
      const first1 = await Promise.race([syncedP.then(() => undefined), tooLong,
        ended.then((e) => e ?? new VxfabError('UNAVAILABLE', 'stream ended before SYNCED'))]);
      cancelSyncTimer();
      if (first1 !== undefined) {
        stream.cancel();
        if (isVxfabError(first1, 'COMPACTED') || isVxfabError(first1, 'RESYNC')) {
          this.log.info({ err: first1.message }, 'lookup asks for a full resync');
          from = 0;
          continue;
        }
        throw first1;
      }
      // Load what the event stream cannot give: the state of new networks.
      await this.loadSnapshots(conn, fresh, full);
      live = true;
      for (const e of buffered) this.onEvent(e);
      subscribed = new Set(vnids);
      // Live means "in the kernel": what was loaded and replayed is written before we say so.
      await this.enqueue(() => this.flush());
      if (this.closed || this.deleted) return;
      this.liveConn = conn;
      this.liveSessions++;
      this.log.info({ vnids: vnids.length, fresh: fresh.length, replayed: buffered.length, revision: syncedAt, server: conn.address }, 'lookup session live');
      this.emit('change');
      const why = await Promise.race([ended.then((e) => e ?? 'ended'), this.link.waitVnidsChanged(version).then(() => 'vnids' as const)]);
      if (why === 'vnids') {
        stream.cancel();
        from = this.link.revision;
        if (this.deleted) return;
        continue;
      }
      if (isVxfabError(why, 'COMPACTED') || isVxfabError(why, 'RESYNC')) {
        this.log.info({ err: why.message }, 'lookup asks for a full resync');
        from = 0;
        continue;
      }
      if (why === 'ended') return;
      throw why;
    }
  }

  private async loadSnapshots(conn: LookupConnection, vnids: number[], revalidate: boolean): Promise<void> {
    const loaded = await Promise.all(vnids.map(async (vnid) => ({
      vnid,
      bulk: this.mode === 'push' ? await conn.bulk(vnid) : undefined,
      flood: await conn.flood(vnid),
    })));
    await this.enqueue(async () => {
      for (const l of loaded) {
        const net = this.nets.get(l.vnid);
        if (net === undefined) continue;
        if (l.bulk) net.loadEndpoints(l.bulk.endpoints, l.bulk.revision);
        else net.loaded = true;
        net.flood = l.flood.members;
        net.floodRevision = l.flood.revision;
        this.markDirty(l.vnid);
      }
    });
    if (this.mode === 'on-demand' && revalidate) await this.revalidateCache(conn);
  }

  /** on-demand, after a full (re)load: asks again for every cached entry (adopted from the kernel
   *  at start, or kept through an outage), keeping the right ones untouched. */
  private async revalidateCache(conn: LookupConnection): Promise<void> {
    const work: Promise<void>[] = [];
    for (const net of this.nets.values()) {
      for (const ip of [...net.neighCache.keys()]) {
        work.push(conn.vl3(net.vnid, ip).then((a) => this.enqueue(async () => {
          if (a === undefined || net.isLocal(a.node)) {
            const mac = net.neighCache.get(ip)?.value;
            net.neighCache.delete(ip);
            if (mac !== undefined && ![...net.neighCache.values()].some((e) => e.value === mac)) net.fdbCache.delete(mac);
          } else this.cacheL3(net, ip, a.mac, a.underlay);
          this.markDirty(net.vnid);
        }), () => undefined));
      }
      for (const mac of [...net.fdbCache.keys()]) {
        work.push(conn.vl2(net.vnid, mac).then((a) => this.enqueue(async () => {
          if (a === undefined || net.isLocal(a.node)) net.fdbCache.delete(mac);
          else this.cacheL2(net, mac, a.underlay);
          this.markDirty(net.vnid);
        }), () => undefined));
      }
    }
    await Promise.all(work);
  }

  private onEvent(e: LookupEvent): void {
    if (e.kind === 'synced') return;
    this.link.revision = Math.max(this.link.revision, e.revision);
    const net = this.nets.get(e.vnid);
    if (net === undefined) return;
    if (e.kind === 'flood') {
      if (e.revision <= net.floodRevision) return; // in the Flood snapshot already
      net.flood = e.flood ?? [];
      this.scheduleFlush(e.vnid);
      return;
    }
    const ep = e.endpoint;
    if (ep === undefined) return;
    // push: the Bulk snapshot has what is at or below its revision. on-demand has no endpoint
    // snapshot: every event (a replay after a reconnect included) goes to the cache.
    if (this.mode === 'push' && e.revision <= net.snapshotRevision) return;
    const mac = ep.mac.toLowerCase();
    if (net.isLocal(ep.node) || (e.oldNode !== undefined && net.isLocal(e.oldNode))) this.kick();
    if (this.mode === 'push') {
      // Marks only the keys this endpoint can change: the flush diffs just those.
      net.applyEndpointEvent(e.kind, ep);
      this.scheduleFlush(e.vnid);
    } else {
      this.invalidate(net, e.kind, { ...ep, mac });
      this.markDirty(e.vnid);
    }
  }

  /** on-demand: a move re-points a cached entry in place (no miss, no lookup); a removal drops the
   *  entries of that endpoint; an addition drops cached answers its IPs now contradict. */
  private invalidate(net: NetState, kind: LookupEvent['kind'], ep: { mac: string; ips: string[]; node: string; underlay: string }): void {
    const ips = ep.ips.map((ip) => safeIp(ip)).filter((ip): ip is string => ip !== undefined);
    if (kind === 'moved') {
      const cached = net.fdbCache.get(ep.mac);
      if (cached !== undefined) {
        if (net.isLocal(ep.node)) {
          net.fdbCache.delete(ep.mac);
          for (const ip of ips) if (net.neighCache.get(ip)?.value === ep.mac) net.neighCache.delete(ip);
        } else cached.value = ep.underlay;
      }
    } else if (kind === 'removed') {
      net.fdbCache.delete(ep.mac);
      for (const ip of ips) if (net.neighCache.get(ip)?.value === ep.mac) net.neighCache.delete(ip);
    } else {
      for (const ip of ips) {
        const cached = net.neighCache.get(ip);
        if (cached !== undefined && cached.value !== ep.mac) net.neighCache.delete(ip);
      }
    }
  }

  // ---- on-demand: kernel misses ------------------------------------------------------------------

  private onMiss(m: MissEvent): void {
    if (this.closed) return;
    this.stats.missesReceived++;
    const net = this.nets.get(m.vnid);
    if (net === undefined) return;
    const key = m.kind === 'l2' ? `${m.vnid}/l2/${m.mac}` : `${m.vnid}/l3/${m.ip}`;
    const now = Date.now();
    if (this.inflight.has(key) || (this.negative.get(key) ?? 0) > now) return;
    // Only a live session's server is known to be at least as new as what we applied; before that
    // (degraded, or a session still loading) the kernel repeats the miss with the next packet.
    const conn = this.liveConn;
    if (conn === undefined || this.deleted) return;
    this.inflight.add(key);
    const negativeTtl = this.o.negativeTtlMs ?? 1000;
    const done = (): void => { this.inflight.delete(key); };
    // One answer, either kind: not found or local → a negative entry; otherwise install it.
    const answered = <A extends { node: string }>(a: A | undefined, install: (a: A) => void): Promise<void> => this.enqueue(async () => {
      if (a === undefined || net.isLocal(a.node)) {
        if (a === undefined) this.stats.notFound++;
        this.negative.set(key, Date.now() + negativeTtl);
        return;
      }
      this.stats.resolved++;
      install(a);
      this.markDirty(net.vnid);
    });
    if (m.kind === 'l3' && m.ip !== undefined) {
      const ip = m.ip;
      conn.vl3(m.vnid, ip).then((a) => answered(a, (r) => this.cacheL3(net, ip, r.mac, r.underlay)),
        (e: unknown) => this.log.debug({ err: errText(e), ip }, 'vl3 failed')).finally(done);
    } else if (m.kind === 'l2' && m.mac !== undefined) {
      const mac = m.mac;
      conn.vl2(m.vnid, mac).then((a) => answered(a, (r) => this.cacheL2(net, mac, r.underlay)),
        (e: unknown) => this.log.debug({ err: errText(e), mac }, 'vl2 failed')).finally(done);
    } else done();
  }

  private cacheL3(net: NetState, ip: string, mac: string, underlay: string): void {
    const expiresAt = Date.now() + (this.o.cacheTtlMs ?? 300_000);
    const m = mac.toLowerCase();
    net.neighCache.set(canonicalIp(ip), { value: m, expiresAt });
    net.fdbCache.set(m, { value: underlay, expiresAt });
  }

  private cacheL2(net: NetState, mac: string, underlay: string): void {
    net.fdbCache.set(canonicalMac(mac), { value: underlay, expiresAt: Date.now() + (this.o.cacheTtlMs ?? 300_000) });
  }

  private expireCache(): void {
    // While degraded (or not live yet) nothing could replace an expired entry: keep them all
    // (established flows).
    if (this.link.degraded || this.liveConn === undefined) return;
    const now = Date.now();
    for (const [k, t] of this.negative) if (t <= now) this.negative.delete(k);
    for (const net of this.nets.values()) if (net.expire(now)) this.markDirty(net.vnid);
  }

  // ---- writing the kernel ------------------------------------------------------------------------

  /** The whole network is to be diffed at the next flush. */
  private markDirty(vnid: number): void {
    this.nets.get(vnid)?.markAllDirty();
    this.scheduleFlush(vnid);
  }

  /** Flushes the network soon (what changed is marked in its NetState). */
  private scheduleFlush(vnid: number): void {
    this.dirty.add(vnid);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Coalesce a burst of events (a bulk, a batch of moves) into one diff per network.
    setImmediate(() => {
      this.flushScheduled = false;
      void this.enqueue(() => this.flush()).catch(() => undefined);
    });
  }

  private async flush(): Promise<void> {
    if (this.deleted) return; // stopped programming; the dirty marks stay for when we resume
    const vnids = [...this.dirty];
    this.dirty.clear();
    let changed = false;
    for (const vnid of vnids) {
      const net = this.nets.get(vnid);
      if (net === undefined || !net.ensured || (this.mode === 'push' && !net.loaded)) continue;
      try {
        if (await flushNetwork(net, this.dp, this.mode, (c) => this.write(vnid, c)) !== undefined) changed = true;
      } catch (e) {
        net.mirror = undefined;
        this.log.warn({ vnid, err: errText(e) }, 'table write failed; retrying in 1 s (from a fresh kernel read)');
        const retry = setTimeout(() => { if (!this.closed) this.markDirty(vnid); }, 1000);
        retry.unref();
      }
    }
    if (changed) this.emit('change');
  }

  private async write(vnid: number, changes: TableChanges): Promise<void> {
    this.stats.applies++;
    this.stats.entries += count(changes);
    this.log.debug({ vnid, changes: summary(changes) }, 'apply');
    await this.dp.apply(vnid, changes);
  }

  private async reconcileLocked(): Promise<ReconcileReport> {
    const report = EMPTY_REPORT();
    if (this.deleted) return report;
    if (this.lastPollOk) {
      // Stray networks of ours (a crashed run, a NIC deleted while we were down).
      for (const n of await this.dp.listNetworks()) {
        if (this.nets.get(n.vnid)?.ensured) continue;
        if ([...this.localNics.values()].some((nic) => nic.vnid === n.vnid)) continue;
        await this.dp.removeNetwork(n.vnid);
        this.nets.delete(n.vnid);
        report.networksRemoved++;
      }
    }
    for (const net of this.nets.values()) {
      if (!net.ensured) continue;
      const actual: Tables = await this.dp.read(net.vnid);
      net.mirror = actual;
      net.markAllDirty(); // a fresh read: the next flush diffs in full (also if the write below fails)
      if (this.mode === 'push' && !net.loaded) continue; // nothing known yet: delete nothing
      const want = net.desired(this.mode);
      const changes = diffTables(want, actual);
      if (!isNoChange(changes)) {
        report.fdbSet += changes.fdbSet?.length ?? 0;
        report.fdbDel += changes.fdbDel?.length ?? 0;
        report.floodAdd += changes.floodAdd?.length ?? 0;
        report.floodDel += changes.floodDel?.length ?? 0;
        report.neighSet += changes.neighSet?.length ?? 0;
        report.neighDel += changes.neighDel?.length ?? 0;
        await this.write(net.vnid, changes);
      }
      net.mirror = want;
    }
    this.lastReconcile = report;
    this.emit('change');
    return report;
  }

  // ---- plumbing ------------------------------------------------------------------------------------

  private enqueue<T>(task: Task<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Runs `fn` every `ms`. With `spread`: at a random phase of its own within the period, kept
   *  from tick to tick; and a tick held up by a stall of the process (more than a tenth of the
   *  period or 100 ms late) is skipped rather than run late, though never two in a row: otherwise
   *  every agent's overdue tick runs at once when the stall ends (1,000 agents sharing a process
   *  in the simulator; a fleet resumed together), and intervals restarted from that moment would
   *  stay in lockstep for good. */
  private every(ms: number, fn: () => void, spread = false): void {
    if (!spread) {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.add(t);
      return;
    }
    const tolerance = Math.min(ms / 10, 100);
    let skipped = false;
    let due = performance.now() + Math.random() * ms;
    const arm = (): void => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (this.closed) return;
        const now = performance.now();
        if (now - due <= tolerance || skipped) {
          skipped = false;
          fn();
        } else skipped = true;
        do due += ms; while (due <= now);
        arm();
      }, Math.max(0, due - performance.now()));
      t.unref();
      this.timers.add(t);
    };
    arm();
  }
}

function count(c: TableChanges): number {
  return (c.fdbSet?.length ?? 0) + (c.fdbDel?.length ?? 0) + (c.floodAdd?.length ?? 0) + (c.floodDel?.length ?? 0) +
    (c.neighSet?.length ?? 0) + (c.neighDel?.length ?? 0);
}

function summary(c: TableChanges): Record<string, number> {
  return {
    fdbSet: c.fdbSet?.length ?? 0, fdbDel: c.fdbDel?.length ?? 0, floodAdd: c.floodAdd?.length ?? 0,
    floodDel: c.floodDel?.length ?? 0, neighSet: c.neighSet?.length ?? 0, neighDel: c.neighDel?.length ?? 0,
  };
}

function canonicalIpOr(ip: string): string {
  return safeIp(ip) ?? ip;
}

function safeIp(ip: string): string | undefined {
  try {
    return canonicalIp(ip);
  } catch {
    return undefined;
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
