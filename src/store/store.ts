// The store interface. LevelDB implements it on disk (embedded); an etcd backend is meant to
// implement the same contract later, so nothing here assumes one process or one file.
//
// Contract:
// - Keys are UTF-8 strings, values opaque bytes.
// - Every write (put, del, batch) is atomic and gets the next revision (1, 2, 3, …). The batch
//   and its change-log entry are written together: either both are visible or neither is.
// - A write's promise resolves only once the write is durable (survives kill -9 of the process).
// - The change log holds every batch after the compaction point; changes(after) from a revision
//   older than that point reports `compacted`, and the reader must resync from a scan.

export type StoreOp =
  | { type: 'put'; key: string; value: Uint8Array }
  | { type: 'del'; key: string };

export interface Change {
  revision: number;
  ops: StoreOp[];
}

export interface ChangesResult {
  /** Changes with revision > after, in order, at most `limit` of them. */
  changes: Change[];
  /** True when revision `after` + 1 was compacted away: the caller must resync. */
  compacted: boolean;
  /** The oldest revision still listed in the log (0 when the log is empty). */
  oldest: number;
  /** The store's current revision when the answer was made. */
  current: number;
}

export interface ScanOptions {
  /** Only keys strictly greater than this (for paging). */
  after?: string;
  limit?: number;
}

export interface Store {
  /** The revision of the last committed write; 0 for an empty store. */
  readonly revision: number;

  get(key: string): Promise<Uint8Array | undefined>;
  /** Keys starting with prefix, in key order. */
  scan(prefix: string, options?: ScanOptions): AsyncIterable<[string, Uint8Array]>;

  put(key: string, value: Uint8Array): Promise<number>;
  del(key: string): Promise<number>;
  /** Applies all ops atomically as one revision; resolves to that revision once durable. */
  batch(ops: StoreOp[]): Promise<number>;

  /** Changes after revision `after`. */
  changes(after: number, limit?: number): Promise<ChangesResult>;
  /** Drops change-log entries with revision < keepFrom. Never touches the data. */
  compact(keepFrom: number): Promise<void>;
  /** Called synchronously after each committed write, in revision order. Returns an unsubscribe. */
  onCommit(listener: (change: Change) => void): () => void;

  close(): Promise<void>;
}
