// The in-memory store: the same contract as LevelStore without a disk, for the simulator and
// fast unit tests. Writes apply synchronously inside the call, so revision order is call order
// and a simulation is deterministic; nothing survives the process (durable: false).

import { pino, type Logger } from 'pino';
import { invalid, VxfabError } from '../model/errors.js';
import { checkPrefix, checkUserKey, compareKeys } from './keys.js';
import { CommitListeners } from './listeners.js';
import { checkLimit, checkRevision, copyOps, copyValue } from './ops.js';
import { checkRetention, retentionTarget, type RetentionOptions } from './retention.js';
import type { Change, ChangesResult, ScanOptions, Store, StoreOp } from './store.js';

export interface MemoryStoreOptions extends RetentionOptions {
  /** Parent logger; the store logs as its child { module: 'store' }. Default: pino at 'warn'. */
  logger?: Logger;
}

export class MemoryStore implements Store {
  /** Capability flag for shared tests: nothing survives the process. */
  readonly durable = false;

  private readonly data = new Map<string, Uint8Array>();
  /** All keys in LevelDB order (UTF-8 bytes), for scans. */
  private readonly keys: string[] = [];
  /** log[i] has revision firstKept + i. */
  private log: Change[] = [];
  private firstKept = 1;
  private committed = 0;
  private closed = false;
  private readonly unannounced: Change[] = [];
  private announcing = false;
  private readonly retention: number;
  private readonly listeners: CommitListeners;

  constructor(options: MemoryStoreOptions = {}) {
    this.retention = checkRetention(options.logRetention);
    this.listeners = new CommitListeners((options.logger ?? pino({ level: 'warn' })).child({ module: 'store' }));
  }

  /** Same shape as LevelStore.open, for code that picks a backend by configuration. */
  static async open(options: MemoryStoreOptions = {}): Promise<MemoryStore> {
    return new MemoryStore(options);
  }

  get revision(): number {
    return this.committed;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    checkUserKey(key, 'key');
    this.checkOpen();
    return this.data.get(key);
  }

  scan(prefix: string, options: ScanOptions = {}): AsyncIterable<[string, Uint8Array]> {
    checkPrefix(prefix);
    const limit = checkLimit(options.limit, 'limit');
    const after = options.after;
    if (after !== undefined && typeof after !== 'string') throw invalid('after', after, 'must be a string');
    this.checkOpen();
    // Copy the matching entries now: a scan sees the store as of the call, like a LevelDB snapshot.
    let i = after !== undefined && compareKeys(after, prefix) >= 0 ? this.upperBound(after) : this.lowerBound(prefix);
    const rows: [string, Uint8Array][] = [];
    for (; i < this.keys.length && rows.length < limit; i++) {
      const key = this.keys[i]!;
      if (!key.startsWith(prefix)) break;
      rows.push([key, this.data.get(key)!]);
    }
    return {
      async *[Symbol.asyncIterator]() {
        yield* rows;
      },
    };
  }

  put(key: string, value: Uint8Array): Promise<number> {
    try {
      return Promise.resolve(this.apply([{ type: 'put', key: checkUserKey(key, 'key'), value: copyValue(value, 'value') }]));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  del(key: string): Promise<number> {
    try {
      return Promise.resolve(this.apply([{ type: 'del', key: checkUserKey(key, 'key') }]));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  batch(ops: StoreOp[]): Promise<number> {
    try {
      return Promise.resolve(this.apply(copyOps(ops)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async changes(after: number, limit?: number): Promise<ChangesResult> {
    checkRevision(after, 'after');
    const max = checkLimit(limit, 'limit');
    this.checkOpen();
    const current = this.committed;
    const oldest = this.log.length > 0 ? this.firstKept : 0;
    if (after >= current) return { changes: [], compacted: false, oldest, current };
    if (after + 1 < this.firstKept) return { changes: [], compacted: true, oldest, current };
    const start = after + 1 - this.firstKept;
    const end = max === Infinity ? this.log.length : Math.min(this.log.length, start + max);
    return { changes: this.log.slice(start, end), compacted: false, oldest, current };
  }

  async compact(keepFrom: number): Promise<void> {
    checkRevision(keepFrom, 'keepFrom');
    this.checkOpen();
    this.compactTo(keepFrom);
  }

  onCommit(listener: (change: Change) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new VxfabError('UNAVAILABLE', 'the memory store is closed');
  }

  private apply(ops: StoreOp[]): number {
    this.checkOpen();
    for (const op of ops) {
      if (op.type === 'put') {
        if (!this.data.has(op.key)) this.keys.splice(this.lowerBound(op.key), 0, op.key);
        this.data.set(op.key, op.value);
      } else if (this.data.delete(op.key)) {
        this.keys.splice(this.lowerBound(op.key), 1);
      }
    }
    const change: Change = { revision: this.committed + 1, ops };
    this.log.push(change);
    this.committed = change.revision;
    this.announce(change);
    const target = retentionTarget(this.committed, this.firstKept, this.retention);
    if (target !== undefined) this.compactTo(target);
    return change.revision;
  }

  /**
   * Tells listeners about a change. A listener that writes would otherwise announce revision
   * r + 1 to the listeners after it before they heard of r; such writes wait their turn.
   */
  private announce(change: Change): void {
    this.unannounced.push(change);
    if (this.announcing) return;
    this.announcing = true;
    try {
      for (let next = this.unannounced.shift(); next !== undefined; next = this.unannounced.shift()) this.listeners.emit(next);
    } finally {
      this.announcing = false;
    }
  }

  private compactTo(keepFrom: number): void {
    const target = Math.min(keepFrom, this.committed + 1);
    if (target <= this.firstKept) return;
    this.log = this.log.slice(target - this.firstKept);
    this.firstKept = target;
  }

  /** Index of the first key ≥ key. */
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first key > key. */
  private upperBound(key: string): number {
    const i = this.lowerBound(key);
    return i < this.keys.length && this.keys[i] === key ? i + 1 : i;
  }
}
