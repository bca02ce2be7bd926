// The one way the controller writes: every request that changes the fabric is a mutation run
// here, in five steps.
//
//   1. validate  the request against memory; a refusal throws before anything is claimed.
//   2. reserve   in memory what the write will hold (names, VNIDs, addresses, MACs, NIC ids,
//                index entries), at once, so pipelined requests see it; each claim records its undo.
//   3. build     the store ops, given the revision the batch will get.
//   4. commit    through the group committer.
//   5. settle    on success, free what the write gives up (a delete's name, VNID, addresses, MAC);
//                on failure, undo the claims, newest first. The caller gets the store's error.
//
// The rule that makes step 5 unable to fail: while a write is pending, memory holds the union of
// the state before and after it. A create adds the object at once and a failure removes it; a
// delete leaves the object in place (its name, VNID, addresses and MAC still taken, so a pipelined
// create cannot take them) and only a durable commit removes it; a move puts the NIC on its new
// node while keeping it on the old one until the commit. Settling therefore only ever removes
// things, and only things this mutation added: nothing in it can find a value taken.
//
// That holds because two writes never change one object at once: a mutation *owns* the objects it
// creates, changes or deletes, and one that wants an object another pending write owns waits for
// that write to settle and starts over from validation (it sees the outcome). A mutation also
// waits for the parents it depends on (a NIC's network and node, a network's tenant) to have no
// write pending, so it never builds on a parent whose create may yet fail or whose delete may yet
// commit. A mutation waits only before it holds anything, so waits cannot form a cycle.
import type { Logger } from 'pino';
import type { StoreOp } from '../store/store.js';
import type { GroupCommitter } from './group-commit.js';

interface Lock {
  owner: Mutation;
  /** Mutations that wait for this lock to go, woken when it does. */
  waiters?: Array<() => void>;
}

/** Thrown out of a describe function when an object it needs is owned by another pending write. */
class Busy {
  constructor(readonly lock: Lock) {}

  settled(): Promise<void> {
    return new Promise((resolve) => (this.lock.waiters ??= []).push(resolve));
  }
}

/** What a describe function hands back: how to write it, and what the caller gets. */
export interface Write<T> {
  /** The store ops, given the batch's revision. Absent: the request changes nothing (an
   *  idempotent repeat), and it is answered once no write on what it owns is pending. */
  ops?: (revision: number) => StoreOp[];
  result: T;
}

/** One write's claims, held objects and deferred releases. Given to its describe function. */
export class Mutation {
  private readonly undos: Array<() => void> = [];
  private readonly releases: Array<() => void> = [];
  private readonly owned: string[] = [];

  constructor(private readonly locks: Map<string, Lock>) {}

  /** Makes this write the only pending one on `key` (an object it creates, changes or deletes).
   *  When another write owns it, this one is started over once that write has settled. */
  own(key: string): void {
    const lock = this.locks.get(key);
    if (lock && lock.owner !== this) throw new Busy(lock);
    if (lock) return;
    this.locks.set(key, { owner: this });
    this.owned.push(key);
  }

  /** Waits, without owning it, until no write on `key` is pending: a parent this write builds on. */
  after(key: string): void {
    const lock = this.locks.get(key);
    if (lock && lock.owner !== this) throw new Busy(lock);
  }

  /** Makes a claim in memory and records its undo. When `claim` throws nothing is recorded.
   *  `undo` must only take back what `claim` did. */
  reserve<T>(claim: () => T, undo: (claimed: T) => void): T {
    const claimed = claim();
    this.undos.push(() => undo(claimed));
    return claimed;
  }

  /** Frees something once the write is durable (never before: until then it is still taken). */
  release(free: () => void): void {
    this.releases.push(free);
  }

  /** Undoes every claim, newest first, and lets go of what it owns. */
  rollBack(log: Logger): void {
    for (let i = this.undos.length - 1; i >= 0; i--) guarded(log, 'undo', this.undos[i]!);
    this.undos.length = 0;
    this.releases.length = 0;
    this.disown();
  }

  /** Runs the deferred releases and lets go of what it owns. */
  commit(log: Logger): void {
    for (const free of this.releases) guarded(log, 'release', free);
    this.undos.length = 0;
    this.releases.length = 0;
    this.disown();
  }

  private disown(): void {
    for (const key of this.owned) {
      const lock = this.locks.get(key);
      if (lock?.owner !== this) continue;
      this.locks.delete(key);
      for (const wake of lock.waiters ?? []) wake();
    }
    this.owned.length = 0;
  }
}

/** Settling is written not to throw; if it ever does, the write's own outcome (and the store's
 *  error, when it failed) must still reach its caller, so the fault is logged instead. */
function guarded(log: Logger, step: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    log.error({ err: e, step }, 'controller state step threw while settling a write: memory may differ from the store');
  }
}

export class MutationExecutor {
  private readonly locks = new Map<string, Lock>();

  constructor(private readonly committer: GroupCommitter, private readonly log: Logger) {}

  /** Writes pending at this moment, by the objects they own (for tests and diagnostics). */
  get pending(): number {
    return this.locks.size;
  }

  /**
   * Runs one write. `describe` validates, reserves through the mutation, and says what to write;
   * it is synchronous, so nothing else runs between its checks and its claims. It may be called
   * more than once when it has to wait for another write (each call starts from a clean slate).
   * Resolves once the write is durable; rejects with the refusal or with the store's error.
   */
  async run<T>(describe: (m: Mutation) => Write<T>): Promise<T> {
    for (;;) {
      const m = new Mutation(this.locks);
      let write: Write<T>;
      try {
        write = describe(m);
      } catch (e) {
        m.rollBack(this.log);
        if (e instanceof Busy) {
          await e.settled();
          continue;
        }
        throw e;
      }
      const ops = write.ops;
      if (!ops) {
        m.commit(this.log);
        return write.result;
      }
      await this.committer.submit({
        build: ops,
        committed: () => m.commit(this.log),
        failed: () => m.rollBack(this.log),
      });
      return write.result;
    }
  }
}
