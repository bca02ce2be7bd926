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
import type { Store, StoreOp } from '../store/store.js';
import { VxfabError } from '../model/errors.js';

type Builder = (revision: number) => StoreOp[];

interface Pending {
  build: Builder;
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
  submit(build: Builder): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ build, resolve, reject });
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
          try {
            for (const op of p.build(revision)) ops.push(op);
            built.push(p);
          } catch (e) {
            p.reject(e);
          }
        }
        if (built.length === 0) continue;
        try {
          const committed = await this.store.batch(ops);
          if (committed !== revision) {
            throw new VxfabError('INTERNAL', `store committed revision ${committed}, expected ${revision}: another writer?`);
          }
          this.stats.batches++;
          this.stats.writes += built.length;
          for (const p of built) p.resolve(committed);
        } catch (e) {
          for (const p of built) p.reject(e);
        }
      }
    } finally {
      this.inFlight = false;
    }
  }
}
