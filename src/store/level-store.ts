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
//
// Failures. A LevelDB write that fails (ENOSPC, EIO) may leave a torn record in the middle of
// LevelDB's log; LevelDB then goes on appending after it, and at the next open its recovery skips
// the torn record and the rest of its block, so writes acknowledged after the failure vanish
// (seen: 200 creates acknowledged after a disk-full episode, all gone after a clean restart).
// So after any failed write the store is "not known good": it refuses writes (UNAVAILABLE),
// closes LevelDB and opens it again, which recovers the log into a table and starts a fresh log,
// dropping only the torn record of the failed write (never acknowledged). Only when the reopened
// revision equals the last acknowledged one does it accept writes again. A reopen that fails (the
// disk is still full) is retried on a write at most every RECOVERY_RETRY_MS; a reopen that finds
// a different revision or damaged files leaves the store read-only for good, logged at error.
//
// Integrity on open. LevelDB's own recovery drops damaged log records silently and reads tables
// without checking their checksums, so before LevelDB opens the directory every live file is
// checked (leveldb-files.ts); the change log must be one contiguous run ending at the revision
// counter; and the revision must not be below the acknowledged-revision marker
// (revision-marker.ts). Any failure is a VxfabError naming the file or the directory.

import { join } from 'node:path';
import { Level } from 'level';
import { pino, type Logger } from 'pino';
import { invalid, isVxfabError, VxfabError } from '../model/errors.js';
import { decodeChange, encodeChange } from './change-codec.js';
import { lockHolder } from './dir-lock.js';
import { verifyLevelFiles, type TornTail } from './leveldb-files.js';
import { MARKER_FILE, readMarker, RevisionMarker } from './revision-marker.js';
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
// After a failed reopen (the disk is still full), the next try waits at least this long, so a
// stream of rejected writes does not turn into a stream of LevelDB opens.
const RECOVERY_RETRY_MS = 1000;

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

type Db = Level<string, Uint8Array>;

interface Opened {
  db: Db;
  revision: number;
  firstKept: number;
  tornTails: TornTail[];
}

function quoted(dir: string): string {
  return JSON.stringify(dir);
}

function inUse(dir: string, pid: number | undefined, cause?: unknown): VxfabError {
  const who = pid === undefined ? '' : pid === process.pid ? ' (this process)' : ` (pid ${pid})`;
  return new VxfabError('UNAVAILABLE',
    `data dir ${quoted(dir)} is in use by another vxfab serve${who}: stop it, or give this one its own --data`,
    { field: 'dir', value: dir, cause });
}

function inconsistent(dir: string, why: string): VxfabError {
  return new VxfabError('INTERNAL', `dir ${quoted(dir)}: store is inconsistent: ${why}`, { field: 'dir', value: dir });
}

/**
 * Checks LevelDB's files, opens LevelDB, and reads and checks the revision counter and the
 * change log. Throws UNAVAILABLE when the directory is in use or cannot be opened now (a full
 * disk), INTERNAL naming the file or directory when something is damaged.
 */
async function openLevel(dir: string): Promise<Opened> {
  const holder = await lockHolder(dir);
  if (holder !== undefined) throw inUse(dir, holder);
  let tornTails: TornTail[];
  try {
    ({ tornTails } = await verifyLevelFiles(dir));
  } catch (err) {
    // A writer that took the lock meanwhile changes files under the reader: say that instead.
    const late = await lockHolder(dir);
    if (late !== undefined) throw inUse(dir, late, err);
    if (isVxfabError(err)) throw err;
    throw new VxfabError('UNAVAILABLE', `dir ${quoted(dir)}: cannot read the store's files: ${String(err)}`, { field: 'dir', value: dir, cause: err });
  }
  const db: Db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? (err as { code?: string }).code ?? 'unknown';
    if (code === 'LEVEL_LOCKED') throw inUse(dir, await lockHolder(dir), err);
    const detail = cause?.message ?? String(err);
    if (code === 'LEVEL_CORRUPTION') {
      throw new VxfabError('INTERNAL', `dir ${quoted(dir)}: LevelDB reports damage: ${detail}`, { field: 'dir', value: dir, cause: err });
    }
    throw new VxfabError('UNAVAILABLE', `dir ${quoted(dir)}: cannot open the store (${code}: ${detail})`, {
      field: 'dir', value: dir, cause: err,
    });
  }
  try {
    const { revision, firstKept } = await readState(db, dir);
    return { db, revision, firstKept, tornTails };
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** The revision counter and the change log, checked against each other: one contiguous run. */
async function readState(db: Db, dir: string): Promise<{ revision: number; firstKept: number }> {
  const stored = await db.get(REVISION_KEY);
  const revision = stored === undefined ? 0 : Number(decoder.decode(stored));
  if (!Number.isSafeInteger(revision) || revision < 0) throw inconsistent(dir, `revision counter ${JSON.stringify(String(revision))}`);
  let first: number | undefined;
  let next = 0;
  for await (const key of db.keys({ gte: LOG_PREFIX, lt: LOG_END })) {
    const r = logKeyRevision(key);
    if (key.length !== LOG_PREFIX.length + REVISION_DIGITS || !Number.isSafeInteger(r)) {
      throw inconsistent(dir, `malformed change-log key ${JSON.stringify(key)}`);
    }
    if (first === undefined) first = r;
    else if (r !== next) throw inconsistent(dir, `the change log has a gap: revision ${next} is missing (the next entry is ${r})`);
    next = r + 1;
  }
  if (first !== undefined && next - 1 !== revision) {
    throw inconsistent(dir, `newest log entry is ${next - 1} but the revision is ${revision}`);
  }
  // An empty log means everything up to the current revision was compacted.
  return { revision, firstKept: first ?? revision + 1 };
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
  /** False while LevelDB is closed for a reopen (or a reopen failed). */
  private dbOpen = true;
  /** Set while the store is not known good: every write is refused with it. */
  private failure: VxfabError | undefined;
  /** A reopen found a different revision or damage: writes are refused until a restart. */
  private broken = false;
  private recovery: Promise<void> | undefined;
  private lastRecoveryAt = 0;

  private constructor(
    private db: Db,
    readonly dir: string,
    revision: number,
    firstKept: number,
    private readonly marker: RevisionMarker,
    private readonly retention: number,
    private readonly log: Logger,
  ) {
    this.committed = revision;
    this.firstKept = firstKept;
    this.listeners = new CommitListeners(log);
  }

  /**
   * Opens (creating if missing) the store in `dir`. UNAVAILABLE when another process holds it
   * or it cannot be opened now; INTERNAL, naming the file or directory, when its files are
   * damaged or acknowledged writes are missing (never a quiet start with data missing).
   */
  static async open(dir: string, options: LevelStoreOptions = {}): Promise<LevelStore> {
    const retention = checkRetention(options.logRetention);
    const log = (options.logger ?? pino({ level: 'warn' })).child({ module: 'store' });
    let acknowledged: number | undefined;
    try {
      acknowledged = readMarker(dir);
    } catch (err) {
      if (isVxfabError(err)) throw err;
      throw new VxfabError('UNAVAILABLE', `dir ${quoted(dir)}: cannot read the revision marker: ${String(err)}`, { field: 'dir', value: dir, cause: err });
    }
    const { db, revision, firstKept, tornTails } = await openLevel(dir);
    let marker: RevisionMarker;
    try {
      if (acknowledged !== undefined && revision < acknowledged) throw LevelStore.lost(dir, revision, acknowledged, tornTails);
      if (acknowledged === undefined && revision > 0) log.warn({ dir, revision }, 'no acknowledged-revision marker: creating one');
      // Above the marker is allowed: writes that reached the log before a crash, never acknowledged.
      marker = new RevisionMarker(dir, revision);
    } catch (err) {
      await db.close();
      if (isVxfabError(err)) throw err;
      throw new VxfabError('UNAVAILABLE', `dir ${quoted(dir)}: cannot write the revision marker: ${String(err)}`, { field: 'dir', value: dir, cause: err });
    }
    log.debug({ dir, revision, firstKept, tornTails }, 'store opened');
    return new LevelStore(db, dir, revision, firstKept, marker, retention, log);
  }

  private static lost(dir: string, revision: number, acknowledged: number, tornTails: TornTail[]): VxfabError {
    const marker = join(dir, MARKER_FILE);
    const cut = tornTails.map((t) => `; ${t.file} ends in a cut record at offset ${t.offset} (${t.bytes} bytes)`).join('');
    return new VxfabError('INTERNAL',
      `dir ${quoted(dir)}: acknowledged writes are missing: the store is at revision ${revision} but ${quoted(marker)} `
      + `records revision ${acknowledged} as acknowledged${cut}; restore the data dir from a backup`,
      { field: 'dir', value: dir });
  }

  get revision(): number {
    return this.committed;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    checkUserKey(key, 'key');
    this.checkOpen();
    const value = await (await this.readable()).get(key);
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
    const readable = (): Promise<Db> => this.readable();
    return {
      async *[Symbol.asyncIterator]() {
        const db = await readable();
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
    const db = await this.readable();
    const current = this.committed;
    const oldest = this.firstKept <= current ? this.firstKept : 0;
    if (after >= current) return { changes: [], compacted: false, oldest, current };
    if (after + 1 < this.firstKept) return { changes: [], compacted: true, oldest, current };
    const upTo = Math.min(current, after + max);
    const entries = await db.iterator({ gte: logKey(after + 1), lte: logKey(upTo) }).all();
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
      if (this.failure !== undefined) throw this.failure;
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
      while (this.recovery !== undefined) await this.recovery;
      await this.compaction;
      try {
        if (this.dbOpen) {
          this.dbOpen = false;
          await this.db.close();
        }
      } finally {
        this.marker.close();
      }
      this.log.debug({ dir: this.dir, revision: this.committed }, 'store closed');
    })();
    return this.closed;
  }

  private checkOpen(): void {
    if (this.closing) {
      throw new VxfabError('UNAVAILABLE', `dir ${JSON.stringify(this.dir)}: the store is closed`, { field: 'dir', value: this.dir });
    }
  }

  /** LevelDB for a read: waits out a reopen in progress; UNAVAILABLE when LevelDB is not open. */
  private async readable(): Promise<Db> {
    while (this.recovery !== undefined) await this.recovery;
    this.checkOpen();
    if (!this.dbOpen) throw this.failure ?? new VxfabError('UNAVAILABLE', `dir ${quoted(this.dir)}: the store is not open`, { field: 'dir', value: this.dir });
    return this.db;
  }

  private enqueue(ops: StoreOp[]): Promise<number> {
    this.checkOpen();
    if (this.failure !== undefined) return this.enqueueAfterRecovery(ops);
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ ops, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /** A write while not known good: joins (or starts) a reopen, then writes only if it succeeded. */
  private async enqueueAfterRecovery(ops: StoreOp[]): Promise<number> {
    await this.tryRecovery();
    if (this.failure !== undefined) throw this.failure;
    return this.enqueue(ops);
  }

  /**
   * Enters the "not known good" state after a failed LevelDB write: refuses queued and new
   * writes, and starts a reopen once the writer and any compaction have stopped.
   */
  private fail(err: unknown, what: string): void {
    if (this.failure === undefined) {
      this.failure = new VxfabError('UNAVAILABLE',
        `dir ${quoted(this.dir)}: the store refuses writes until it is known good again: ${what} failed (${String(err)}); `
        + 'it reopens LevelDB to check its log, and writes resume once the reopened revision matches the last acknowledged one',
        { field: 'dir', value: this.dir, cause: err });
      this.log.error({ err, revision: this.committed, what }, 'store write failed: refusing writes until LevelDB is reopened and checked');
      this.lastRecoveryAt = 0;
    }
    for (const p of this.queue.splice(0)) p.reject(this.failure);
    void this.tryRecovery();
  }

  /** Starts a reopen unless one runs, the store is broken or closing, or the last try was too recent. */
  private tryRecovery(): Promise<void> {
    if (this.recovery !== undefined) return this.recovery;
    if (this.broken || this.closing || Date.now() - this.lastRecoveryAt < RECOVERY_RETRY_MS) return Promise.resolve();
    this.recovery = this.recover().finally(() => {
      this.recovery = undefined;
    });
    return this.recovery;
  }

  /** Closes and reopens LevelDB, then checks the reopened revision. Never throws. */
  private async recover(): Promise<void> {
    // Let the failed group's drain loop and any compaction chunk finish: nothing may write now.
    await Promise.resolve();
    while (this.draining !== undefined) await this.draining;
    await this.compaction;
    this.lastRecoveryAt = Date.now();
    if (this.dbOpen) {
      this.dbOpen = false;
      try {
        await this.db.close();
      } catch (err) {
        this.log.warn({ err }, 'closing LevelDB after a failed write failed');
      }
    }
    let opened: Opened;
    try {
      opened = await openLevel(this.dir);
    } catch (err) {
      if (isVxfabError(err, 'INTERNAL')) {
        this.goBroken(`reopening found damage: ${err.message}`, err);
      } else {
        this.log.error({ err, retryAfterMs: RECOVERY_RETRY_MS }, 'store reopen failed: writes stay refused');
      }
      return;
    }
    this.db = opened.db;
    this.dbOpen = true;
    this.firstKept = Math.max(this.firstKept, opened.firstKept);
    if (opened.revision < this.committed) {
      this.goBroken(`after reopening, the store is at revision ${opened.revision} but revision ${this.committed} was acknowledged: acknowledged writes are missing`);
    } else if (opened.revision > this.committed) {
      // The failed write reached the disk after all. Its callers were told it failed and every
      // reader's state is at the old revision: only a restart (which reloads) makes them agree.
      this.goBroken(`after reopening, the store is at revision ${opened.revision}, past the last acknowledged ${this.committed}: `
        + `the failed write reached the disk; restart vxfab serve so that every reader reloads`);
    } else {
      this.failure = undefined;
      this.log.warn({ revision: this.committed, tornTails: opened.tornTails }, 'store reopened and checked after a failed write: accepting writes again');
    }
  }

  private goBroken(why: string, cause?: unknown): void {
    this.broken = true;
    this.failure = new VxfabError('UNAVAILABLE', `dir ${quoted(this.dir)}: the store is read-only until an operator acts: ${why}`,
      { field: 'dir', value: this.dir, cause });
    this.log.error({ err: cause, revision: this.committed }, `STORE IS READ-ONLY: ${why}`);
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
      for (const p of group) p.reject(e);
      this.fail(err, `writing revisions ${first}..${last}`);
      return;
    }
    try {
      this.marker.record(last);
    } catch (err) {
      // The write is durable; only the marker lags, which weakens the open check, never fails it.
      this.log.error({ err, revision: last }, 'could not record the acknowledged revision in the marker');
    }
    this.log.debug({ first, last, ops: writes.length }, 'committed');
    // Listeners run before any writer resumes: resolve() only schedules the continuation.
    for (let i = 0; i < group.length; i++) {
      this.committed = changes[i]!.revision;
      this.listeners.emit(changes[i]!);
      group[i]!.resolve(changes[i]!.revision);
    }
    const target = retentionTarget(this.committed, this.firstKept, this.retention);
    if (target !== undefined && !this.closing && this.failure === undefined) {
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
      // A failed write stops compaction too: after a torn log record nothing may be appended.
      if (this.failure !== undefined) throw this.failure;
      const keys = await this.db.keys({ gte: LOG_PREFIX, lt: logKey(target), limit: COMPACT_CHUNK }).all();
      if (keys.length === 0) break;
      try {
        await this.db.batch(keys.map((key) => ({ type: 'del' as const, key })));
      } catch (err) {
        this.fail(err, 'compacting the change log');
        throw err;
      }
      deleted += keys.length;
    }
    this.log.debug({ target, deleted }, 'change log compacted');
  }
}
