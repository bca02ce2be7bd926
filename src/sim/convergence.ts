// Knowing when a step's effects have settled: every host's `dp` (the tables its agent wrote — the
// data plane itself in the simulator, a copy of what the kernel accepted on linux) is watched, and
// after a step the watched hosts are compared with the desired state (desired.ts) until they match,
// timing it from the event to the last write that got them there. A move is also timed until every
// other host carrying the network points the MAC at the new host.
//
// Settling is by progress, not by a wall-clock budget: the simulator shares its thread (and the
// machine) with every agent and the control plane, so on a busy machine everything is slower, and
// a fixed budget turned "the machine was loaded" into "the fabric is wrong" (issue #11: the
// 1,000-host example failed with a load of 10 on 2 cores and passed idle). A wait goes on while
// anything moves — a table write on any host, a host coming to match, or a pending host's agent
// still starting up or doing work (settleProgress) — and gives up only after `stallMs` without any
// of that, or at the hard deadline `deadlineMs` (wall time) from the start of the wait. The stall
// window is measured on a clock that stops while this process is not running: each look at the
// hosts adds the time since the previous one, but at most MAX_TICK_MS, so a machine so loaded that
// a 20 ms nap takes seconds (measured: the event loop 73 s late at a load of 22 on 2 cores) does
// not count as the fabric standing still.
import { performance } from 'node:perf_hooks';
import { diffHost, formatDiff } from './desired.js';
import { changedVnids, type FabricView } from './fabric.js';
import type { HostRuntime } from './host-runtime.js';

/** A NIC move being timed: when each other carrier's FDB entry for the MAC was written. */
export interface MoveWatch {
  vnid: number;
  mac: string;
  underlay: string;
  hosts: string[];
  at: Map<string, number>;
}

export interface Convergence {
  ms: number;
  converged: boolean;
  /** What still differed on up to 5 hosts that did not converge. */
  pending: string[];
  /** A move's, when every other carrier points the MAC at the new host. */
  propagateMs?: number;
  /** Why a wait that did not converge ended. */
  gaveUp?: 'stalled' | 'deadline';
}

/** When a wait gives up: after `stallMs` without progress, or `deadlineMs` after it began. */
export interface SettleLimits {
  stallMs: number;
  deadlineMs: number;
}

/** The hard deadline when none is given: twenty stall windows (20 minutes for the 1,000-host
 *  example's 60 s: its boot took over 11 minutes at a load of 22 on 2 cores, 33 s idle). */
export const DEADLINE_STALLS = 20;

/** The most one look at the hosts adds to the stall clock (a 20 ms nap plus the look itself). */
const MAX_TICK_MS = 250;

/** Running time for stall windows: advances by the time between ticks, but at most MAX_TICK_MS a
 *  tick, so the time this process spent not running (a loaded machine) barely counts. */
export class StallClock {
  private ms = 0;
  private at = performance.now();

  /** Advances to now; returns the running time so far. */
  tick(now = performance.now()): number {
    this.ms += Math.min(now - this.at, MAX_TICK_MS);
    this.at = now;
    return this.ms;
  }
}

/** How often, when no table was written, the agents of pending hosts are asked what they are doing. */
const AGENT_LOOK_MS = 250;

export class ConvergenceWatch {
  private wake: (() => void) | undefined;
  private readonly dirty = new Set<string>();
  /** Table writes and network changes seen on every host so far. */
  writes = 0;
  /** Hosts whose tables matched `judged` (the view of the last convergence) when last looked at,
   * with the networks that may differ since: written to, or their endpoints changed. A host not
   * in here (never matched, or a network created or removed since) is compared in full. Every
   * change to a host's tables is observed, so comparing only these networks is exact. */
  private readonly matched = new Map<string, Set<number>>();
  private judged: FabricView | undefined;
  private moveWatch: MoveWatch | undefined;

  constructor(private readonly hosts: Map<string, HostRuntime>, private readonly view: () => FabricView, private readonly limits: SettleLimits) {}

  /** Follows every change to the host's tables; once per host, before its agent starts. */
  observe(host: HostRuntime): void {
    const touched = () => {
      this.writes++;
      host.lastWriteAt = performance.now();
      this.dirty.add(host.name);
      this.wake?.();
    };
    host.onNetworkChange = () => {
      this.matched.delete(host.name);
      touched();
    };
    host.dp.observeWrites((w) => {
      this.matched.get(host.name)?.add(w.vnid);
      touched();
      const m = this.moveWatch;
      if (m && w.table === 'fdb' && w.op === 'set' && w.key === m.mac && w.vnid === m.vnid) m.at.set(host.name, host.lastWriteAt);
    });
  }

  /** Records when each carrier writes the moved MAC, from now until the next wait ends: call it
   * before the move is made. */
  watchMove(move: MoveWatch): void {
    this.moveWatch = move;
  }

  /** Waits until every healthy host of `watched` matches the desired state; the time is from
   * `since` to the last write that made a host match. */
  async wait(watched: Set<string>, since: number, onProgress?: (done: number) => void, move?: MoveWatch): Promise<Convergence> {
    const pending = new Set([...watched].filter((h) => !this.hosts.get(h)?.impaired));
    const total = pending.size;
    let last = since;
    // A move: every other host carrying the network must point the MAC at the new host.
    const movePending = new Set(move ? move.hosts.filter((h) => !this.hosts.get(h)?.impaired) : []);
    let propagated = since;
    const checkMove = () => {
      for (const h of [...movePending]) {
        if (this.hosts.get(h)!.dp.fdbLookup(move!.vnid, move!.mac) !== move!.underlay) continue;
        movePending.delete(h);
        propagated = Math.max(propagated, move!.at.get(h) ?? since);
      }
    };
    if (move) checkMove();
    const started = performance.now();
    const deadline = started + this.limits.deadlineMs;
    // The stall clock: running time, not wall time (see the header).
    const clock = new StallClock();
    let running = 0;
    let progressAt = 0;
    let agentsLookedAt = started;
    const marks = new Map<string, string>();
    /** Notes progress: any write since the last look, a host that came to match, or (looked at
     * every AGENT_LOOK_MS when nothing was written) an agent of a still-pending host that is
     * starting or has done something since. */
    const noteProgress = (now: number, matched: boolean) => {
      running = clock.tick(now);
      if (this.dirty.size > 0 || matched) {
        progressAt = running;
        return;
      }
      if (now - agentsLookedAt < AGENT_LOOK_MS) return;
      agentsLookedAt = now;
      for (const name of new Set([...pending, ...movePending])) {
        const p = this.hosts.get(name)!.settleProgress();
        const moved = marks.has(name) && marks.get(name) !== p.mark;
        marks.set(name, p.mark);
        if (p.starting || moved) progressAt = running;
      }
    };
    const gaveUp = (now: number): Convergence['gaveUp'] =>
      now >= deadline ? 'deadline' : running - progressAt >= this.limits.stallMs ? 'stalled' : undefined;
    const nap = () => new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 20);
      this.wake = () => { clearTimeout(timer); this.wake = undefined; setTimeout(resolve, 5); };
    });
    // The agents are reacting to the step right now, in this thread: let them run before the
    // first look instead of holding them up with it (building the view and comparing tables takes
    // tens of ms at 1,000 hosts) — until the move is seen everywhere and a nap passes without a
    // write. The time recorded for a host is that of its last write (or `since` if it wrote
    // nothing), and a move's that of each carrier's write, so looking late costs no precision.
    let stop: Convergence['gaveUp'];
    for (;;) {
      this.dirty.clear();
      await nap();
      const before = movePending.size;
      if (move) checkMove();
      if (this.dirty.size === 0 && movePending.size === 0) break;
      const now = performance.now();
      noteProgress(now, movePending.size < before);
      if ((stop = gaveUp(now)) !== undefined) break;
    }
    const view = this.view();
    // What the step changed in the desired state: those networks are to be compared again.
    const changed = this.judged === undefined ? undefined : changedVnids(this.judged, view);
    if (changed === undefined) this.matched.clear();
    else {
      for (const vnid of changed) {
        for (const h of [...this.judged!.carriers(vnid), ...view.carriers(vnid)]) this.matched.get(h)?.add(vnid);
      }
    }
    this.judged = view;
    const check = (h: string, full = false) => {
      const known = full ? undefined : this.matched.get(h);
      if (diffHost(view, h, 1, known).length > 0) return;
      this.matched.set(h, new Set());
      pending.delete(h);
      last = Math.max(last, this.hosts.get(h)!.lastWriteAt);
    };
    this.dirty.clear();
    for (const h of [...pending]) check(h);
    if (move) checkMove();
    // A host changes only by writes and network creations/removals, all observed: only hosts
    // touched since the last look are checked. A slow full look is a safety net.
    let fullAt = performance.now() + 1000;
    while ((pending.size > 0 || movePending.size > 0) && stop === undefined) {
      await nap();
      const now = performance.now();
      const full = now >= fullAt;
      if (full) fullAt = now + 1000;
      const left = pending.size + movePending.size;
      const toCheck = full ? [...pending] : [...this.dirty].filter((h) => pending.has(h));
      for (const h of toCheck) check(h, full);
      if (move) checkMove();
      noteProgress(now, pending.size + movePending.size < left);
      this.dirty.clear();
      onProgress?.(total - pending.size);
      if (pending.size > 0 || movePending.size > 0) stop = gaveUp(now);
    }
    this.wake = undefined;
    const left = [...pending].slice(0, 5).flatMap((h) => diffHost(view, h, 2).map(formatDiff));
    this.moveWatch = undefined;
    return {
      ms: (pending.size > 0 ? performance.now() : last) - since, converged: pending.size === 0, pending: left,
      ...(move && movePending.size === 0 ? { propagateMs: propagated - since } : {}),
      ...(pending.size > 0 ? { gaveUp: stop ?? 'stalled' } : {}),
    };
  }
}
