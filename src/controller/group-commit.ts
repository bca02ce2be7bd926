// Group commit: many pipelined writes, one durable store batch.
//
// Writes queue while a batch is in flight; when it completes, everything queued meanwhile goes
// out as the next batch. Under load this amortises LevelDB's synchronous write (the fsync) over
// hundreds of requests; with one writer at a time it degenerates to one batch per write. No
// write's promise resolves before its batch is durable.
//
// Each write is a builder called with the revision its batch will get, so objects can record the
// revision they were written at. The committer is the store's only writer, which is what makes
// that revision knowable in advance (it is checked against the store's answer).
//
// A write's outcome hooks (`committed`, `failed`) run synchronously when its batch settles, before
// the next batch is built and before any promise continuation: the in-memory state a later build
// or a later request sees is always the outcome of every batch before it, never a failed batch's
// leftovers waiting for a microtask to be cleaned up.
import type { Store, StoreOp } from '../store/store.js';
import { VxfabError } from '../model/errors.js';

export interface CommitWrite {
  /** The write's ops, given the revision its batch will get. Throwing fails this write alone. */
  build(revision: number): StoreOp[];
  /** The batch carrying the write is durable. Must not throw. */
  committed?(revision: number): void;
  /** The write will not be committed (its build threw or its batch failed). Must not throw. */
  failed?(error: unknown): void;
}

interface Pending {
  write: CommitWrite;
  resolve: (revision: number) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitStats {
  batches: number;
  writes: number;
}

export class GroupCommitter {
  private queue: Pending[] = [];
  private inFlight = false;
  readonly stats: GroupCommitStats = { batches: 0, writes: 0 };

  constructor(private readonly store: Store, private readonly maxWritesPerBatch = 4096) {}

  /** Resolves to the revision of the batch that carried this write, once it is durable. */
  submit(write: CommitWrite): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      if (!this.inFlight) void this.flush();
    });
  }

  /** Resolves when nothing is queued or in flight. */
  async idle(): Promise<void> {
    while (this.inFlight || this.queue.length > 0) await new Promise((r) => setImmediate(r));
  }

  private async flush(): Promise<void> {
    this.inFlight = true;
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0, this.maxWritesPerBatch);
        const revision = this.store.revision + 1;
        const ops: StoreOp[] = [];
        const built: Pending[] = [];
        for (const p of group) {
          let mine: StoreOp[];
          try {
            mine = p.write.build(revision);
          } catch (e) {
            p.write.failed?.(e);
            p.reject(e);
            continue;
          }
          for (const op of mine) ops.push(op);
          built.push(p);
        }
        if (built.length === 0) continue;
        let committed: number;
        try {
          committed = await this.store.batch(ops);
        } catch (e) {
          // Undone newest first, so each write finds the state as it left it.
          for (let i = built.length - 1; i >= 0; i--) built[i]!.write.failed?.(e);
          for (const p of built) p.reject(e);
          continue;
        }
        if (committed !== revision) {
          // The batch is durable, so memory keeps it; but revisions recorded in the objects are
          // wrong, and only a second writer on the store can cause that: nothing here is to be trusted.
          const e = new VxfabError('INTERNAL', `store committed revision ${committed}, expected ${revision}: another writer?`);
          for (const p of built) p.write.committed?.(committed);
          for (const p of built) p.reject(e);
          continue;
        }
        this.stats.batches++;
        this.stats.writes += built.length;
        for (const p of built) p.write.committed?.(committed);
        for (const p of built) p.resolve(committed);
      }
    } finally {
      this.inFlight = false;
    }
  }
}
