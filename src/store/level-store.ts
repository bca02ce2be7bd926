// The embedded store: classic LevelDB through `level`, one directory per controller.
//
// Layout. User keys live as they are. Internal keys start with "\u0000", which user keys may not:
//   "\u0000meta/revision"          the last committed revision, decimal ASCII
//   "\u0000log/<16-digit revision>" the change-log entry, an encoded vxfab.v1.ChangeBatch
// Every write puts its data, its log entry and the new counter in one LevelDB batch written with
// sync, so after kill -9 a batch is either wholly there (with its log entry and counter) or not.
//
// Ordering. LevelDB batches issued concurrently may complete in any order, which would let
// revision 8 be acknowledged before 7. So writes go through one queue, one LevelDB write at a
// time. Batches that queue up while a write is syncing go out together in the next LevelDB write
// (group commit): each still gets its own revision and log entry, but they share one fsync, which
// is what keeps many concurrent small writes fast.

import { Level } from 'level';
import { pino, type Logger } from 'pino';
import { invalid, VxfabError } from '../model/errors.js';
import { decodeChange, encodeChange } from './change-codec.js';
import { checkPrefix, checkUserKey, compareKeys, RESERVED_PREFIX } from './keys.js';
import { CommitListeners } from './listeners.js';
import { checkLimit, checkRevision, copyOps, copyValue } from './ops.js';
import { checkRetention, retentionTarget, type RetentionOptions } from './retention.js';
import type { Change, ChangesResult, ScanOptions, Store, StoreOp } from './store.js';

const REVISION_KEY = `${RESERVED_PREFIX}meta/revision`;
const LOG_PREFIX = `${RESERVED_PREFIX}log/`;
const LOG_END = `${RESERVED_PREFIX}log0`; // '0' sorts right after '/': the end of the log range
const REVISION_DIGITS = 16; // Number.MAX_SAFE_INTEGER has 16 digits
// The smallest user key: anything below it starts with the reserved "\u0000".
const FIRST_USER_KEY = '\u0001';

// Group commit bounds: enough to share an fsync widely, small enough to keep one write's memory
// and latency modest. A single larger batch still goes out alone.
const MAX_GROUP_BATCHES = 1024;
const MAX_GROUP_OPS = 16_384;
// Log entries deleted per LevelDB write while compacting.
const COMPACT_CHUNK = 1000;

export interface LevelStoreOptions extends RetentionOptions {
  /** Parent logger; the store logs as its child { module: 'store' }. Default: pino at 'warn'. */
  logger?: Logger;
}

interface Pending {
  ops: StoreOp[];
  resolve(revision: number): void;
  reject(err: unknown): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function logKey(revision: number): string {
  return LOG_PREFIX + String(revision).padStart(REVISION_DIGITS, '0');
}

function logKeyRevision(key: string): number {
  return Number(key.slice(LOG_PREFIX.length));
}

/** A plain Uint8Array over the same memory (LevelDB and protobufjs hand out Buffers). */
function view(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class LevelStore implements Store {
  /** Capability flag for shared tests: acknowledged writes survive kill -9. */
  readonly durable = true;

  private committed: number;
  /** Log entries below this revision are compacted (or being deleted); never read them. */
  private firstKept: number;
  private readonly queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private compaction: Promise<void> = Promise.resolve();
  private closing = false;
  private closed: Promise<void> | undefined;
  private readonly listeners: CommitListeners;

  private constructor(
    private readonly db: Level<string, Uint8Array>,
    readonly dir: string,
    revision: number,
    firstKept: number,
    private readonly retention: number,
    private readonly log: Logger,
  ) {
    this.committed = revision;
    this.firstKept = firstKept;
    this.listeners = new CommitListeners(log);
  }

  /** Opens (creating if missing) the store in `dir`. UNAVAILABLE when another process holds it. */
  static async open(dir: string, options: LevelStoreOptions = {}): Promise<LevelStore> {
    const retention = checkRetention(options.logRetention);
    const log = (options.logger ?? pino({ level: 'warn' })).child({ module: 'store' });
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code ?? 'unknown';
      throw new VxfabError('UNAVAILABLE', `dir ${JSON.stringify(dir)}: cannot open the store (${code})`, {
        field: 'dir', value: dir, cause: err,
      });
    }
    try {
      const { revision, firstKept } = await LevelStore.readState(db, dir);
      log.debug({ dir, revision, firstKept }, 'store opened');
      return new LevelStore(db, dir, revision, firstKept, retention, log);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /** The revision counter and the oldest log entry, checked against each other. */
  private static async readState(db: Level<string, Uint8Array>, dir: string): Promise<{ revision: number; firstKept: number }> {
    const stored = await db.get(REVISION_KEY);
    const revision = stored === undefined ? 0 : Number(decoder.decode(stored));
    const corrupt = (why: string): VxfabError =>
      new VxfabError('INTERNAL', `dir ${JSON.stringify(dir)}: store is inconsistent: ${why}`, { field: 'dir', value: dir });
    if (!Number.isSafeInteger(revision) || revision < 0) throw corrupt(`revision counter ${JSON.stringify(String(revision))}`);
    const [first] = await db.keys({ gte: LOG_PREFIX, lt: LOG_END, limit: 1 }).all();
    const [last] = await db.keys({ gte: LOG_PREFIX, lt: LOG_END, limit: 1, reverse: true }).all();
    if (last !== undefined && logKeyRevision(last) !== revision) {
      throw corrupt(`newest log entry is ${logKeyRevision(last)} but the revision is ${revision}`);
    }
    // An empty log means everything up to the current revision was compacted.
    return { revision, firstKept: first === undefined ? revision + 1 : logKeyRevision(first) };
  }

  get revision(): number {
    return this.committed;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    checkUserKey(key, 'key');
    this.checkOpen();
    const value = await this.db.get(key);
    return value === undefined ? undefined : view(value);
  }

  scan(prefix: string, options: ScanOptions = {}): AsyncIterable<[string, Uint8Array]> {
    checkPrefix(prefix);
    const limit = checkLimit(options.limit, 'limit');
    const after = options.after;
    if (after !== undefined && typeof after !== 'string') throw invalid('after', after, 'must be a string');
    this.checkOpen();
    const lowest = prefix === '' ? FIRST_USER_KEY : prefix;
    const range = after !== undefined && compareKeys(after, lowest) >= 0 ? { gt: after } : { gte: lowest };
    const db = this.db;
    return {
      async *[Symbol.asyncIterator]() {
        // Keys with the prefix are contiguous in key order: stop at the first one without it.
        for await (const [key, value] of db.iterator({ ...range, limit: limit === Infinity ? -1 : limit })) {
          if (!key.startsWith(prefix)) return;
          yield [key, view(value)] as [string, Uint8Array];
        }
      },
    };
  }

  put(key: string, value: Uint8Array): Promise<number> {
    try {
      return this.enqueue([{ type: 'put', key: checkUserKey(key, 'key'), value: copyValue(value, 'value') }]);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  del(key: string): Promise<number> {
    try {
      return this.enqueue([{ type: 'del', key: checkUserKey(key, 'key') }]);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  batch(ops: StoreOp[]): Promise<number> {
    try {
      return this.enqueue(copyOps(ops));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async changes(after: number, limit?: number): Promise<ChangesResult> {
    checkRevision(after, 'after');
    const max = checkLimit(limit, 'limit');
    this.checkOpen();
    const current = this.committed;
    const oldest = this.firstKept <= current ? this.firstKept : 0;
    if (after >= current) return { changes: [], compacted: false, oldest, current };
    if (after + 1 < this.firstKept) return { changes: [], compacted: true, oldest, current };
    const upTo = Math.min(current, after + max);
    const entries = await this.db.iterator({ gte: logKey(after + 1), lte: logKey(upTo) }).all();
    const changes = entries.map(([, value]) => decodeChange(value));
    for (let i = 0; i < changes.length; i++) {
      if (changes[i]!.revision !== after + 1 + i) {
        // Only a compaction racing this read can open a gap, and only at the start.
        if (i === 0) return { changes: [], compacted: true, oldest: this.firstKept <= current ? this.firstKept : 0, current };
        throw new VxfabError('INTERNAL', `dir ${JSON.stringify(this.dir)}: change log has a gap before revision ${changes[i]!.revision}`, { field: 'dir', value: this.dir });
      }
    }
    if (changes.length === 0) return { changes: [], compacted: true, oldest: this.firstKept <= current ? this.firstKept : 0, current };
    return { changes, compacted: false, oldest, current };
  }

  compact(keepFrom: number): Promise<void> {
    try {
      checkRevision(keepFrom, 'keepFrom');
      this.checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.startCompaction(keepFrom);
  }

  onCommit(listener: (change: Change) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Rejects new writes, lets queued ones finish, then closes LevelDB. Safe to call twice. */
  close(): Promise<void> {
    this.closing = true;
    this.closed ??= (async () => {
      while (this.draining !== undefined) await this.draining;
      await this.compaction;
      await this.db.close();
      this.log.debug({ dir: this.dir, revision: this.committed }, 'store closed');
    })();
    return this.closed;
  }

  private checkOpen(): void {
    if (this.closing) {
      throw new VxfabError('UNAVAILABLE', `dir ${JSON.stringify(this.dir)}: the store is closed`, { field: 'dir', value: this.dir });
    }
  }

  private enqueue(ops: StoreOp[]): Promise<number> {
    this.checkOpen();
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ ops, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /** The single writer: runs while the queue has work; at most one runs at a time. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) await this.writeGroup(this.takeGroup());
    this.draining = undefined;
  }

  private takeGroup(): Pending[] {
    const group = [this.queue.shift()!];
    let ops = group[0]!.ops.length;
    while (this.queue.length > 0 && group.length < MAX_GROUP_BATCHES && ops + this.queue[0]!.ops.length <= MAX_GROUP_OPS) {
      const next = this.queue.shift()!;
      ops += next.ops.length;
      group.push(next);
    }
    return group;
  }

  /** Writes a group as one synced LevelDB batch; settles every member's promise. Never throws. */
  private async writeGroup(group: Pending[]): Promise<void> {
    const first = this.committed + 1;
    const changes: Change[] = group.map((p, i) => ({ revision: first + i, ops: p.ops }));
    const last = first + group.length - 1;
    const writes: StoreOp[] = [];
    for (const change of changes) {
      for (const op of change.ops) writes.push(op); // no spread: a batch may hold 100k ops
      writes.push({ type: 'put', key: logKey(change.revision), value: encodeChange(change) });
    }
    writes.push({ type: 'put', key: REVISION_KEY, value: encoder.encode(String(last)) });
    try {
      await this.db.batch(writes, { sync: true });
    } catch (err) {
      const e = new VxfabError('INTERNAL', `dir ${JSON.stringify(this.dir)}: writing revisions ${first}..${last} failed: ${String(err)}`, {
        field: 'dir', value: this.dir, cause: err,
      });
      this.log.error({ err, first, last }, 'store write failed');
      for (const p of group) p.reject(e);
      return;
    }
    this.log.debug({ first, last, ops: writes.length }, 'committed');
    // Listeners run before any writer resumes: resolve() only schedules the continuation.
    for (let i = 0; i < group.length; i++) {
      this.committed = changes[i]!.revision;
      this.listeners.emit(changes[i]!);
      group[i]!.resolve(changes[i]!.revision);
    }
    const target = retentionTarget(this.committed, this.firstKept, this.retention);
    if (target !== undefined && !this.closing) {
      this.startCompaction(target).catch((err: unknown) => this.log.warn({ err, target }, 'background log compaction failed'));
    }
  }

  /**
   * Moves the compaction point at once (readers stop seeing older entries right away), then
   * deletes the entries in the background, oldest first, so a crash midway leaves a log that is
   * still one contiguous run of revisions.
   */
  private startCompaction(keepFrom: number): Promise<void> {
    const target = Math.min(keepFrom, this.committed + 1);
    if (target <= this.firstKept) return this.compaction;
    this.firstKept = target;
    const run = this.compaction.then(() => this.deleteLogBelow(target));
    this.compaction = run.catch(() => undefined);
    return run;
  }

  private async deleteLogBelow(target: number): Promise<void> {
    let deleted = 0;
    for (;;) {
      const keys = await this.db.keys({ gte: LOG_PREFIX, lt: logKey(target), limit: COMPACT_CHUNK }).all();
      if (keys.length === 0) break;
      await this.db.batch(keys.map((key) => ({ type: 'del' as const, key })));
      deleted += keys.length;
    }
    this.log.debug({ target, deleted }, 'change log compacted');
  }
}
