// Knowing when a step's effects have settled: every host's `dp` (the tables its agent wrote — the
// data plane itself in the simulator, a copy of what the kernel accepted on linux) is watched, and
// after a step the watched hosts are compared with the desired state (desired.ts) until they match,
// timing it from the event to the last write that got them there. A move is also timed until every
// other host carrying the network points the MAC at the new host.
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
}

export class ConvergenceWatch {
  private wake: (() => void) | undefined;
  private readonly dirty = new Set<string>();
  /** Hosts whose tables matched `judged` (the view of the last convergence) when last looked at,
   * with the networks that may differ since: written to, or their endpoints changed. A host not
   * in here (never matched, or a network created or removed since) is compared in full. Every
   * change to a host's tables is observed, so comparing only these networks is exact. */
  private readonly matched = new Map<string, Set<number>>();
  private judged: FabricView | undefined;
  private moveWatch: MoveWatch | undefined;

  constructor(private readonly hosts: Map<string, HostRuntime>, private readonly view: () => FabricView, private readonly settleMs: number) {}

  /** Follows every change to the host's tables; once per host, before its agent starts. */
  observe(host: HostRuntime): void {
    const touched = () => {
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
    const deadline = performance.now() + this.settleMs;
    const nap = () => new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 20);
      this.wake = () => { clearTimeout(timer); this.wake = undefined; setTimeout(resolve, 5); };
    });
    // The agents are reacting to the step right now, in this thread: let them run before the
    // first look instead of holding them up with it (building the view and comparing tables takes
    // tens of ms at 1,000 hosts) — until the move is seen everywhere and a nap passes without a
    // write. The time recorded for a host is that of its last write (or `since` if it wrote
    // nothing), and a move's that of each carrier's write, so looking late costs no precision.
    for (;;) {
      this.dirty.clear();
      await nap();
      if (move) checkMove();
      if (performance.now() >= deadline || (this.dirty.size === 0 && movePending.size === 0)) break;
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
    while ((pending.size > 0 || movePending.size > 0) && performance.now() < deadline) {
      await nap();
      const now = performance.now();
      const full = now >= fullAt;
      if (full) fullAt = now + 1000;
      const toCheck = full ? [...pending] : [...this.dirty].filter((h) => pending.has(h));
      this.dirty.clear();
      for (const h of toCheck) check(h, full);
      if (move) checkMove();
      onProgress?.(total - pending.size);
    }
    this.wake = undefined;
    const left = [...pending].slice(0, 5).flatMap((h) => diffHost(view, h, 2).map(formatDiff));
    this.moveWatch = undefined;
    return {
      ms: (pending.size > 0 ? performance.now() : last) - since, converged: pending.size === 0, pending: left,
      ...(move && movePending.size === 0 ? { propagateMs: propagated - since } : {}),
    };
  }
}
