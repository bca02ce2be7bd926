// NIC ids by slot and slots by NIC id, off the JS heap: the ids' UTF-8 bytes in one arena buffer,
// their places in typed-array columns, and the id → slot index in a SlotTable keyed by a hash of
// the bytes.
//
// Why not a string[] and a Map<string, number>: at a million NICs those were a million strings
// and a million-entry Map, most of a lookup replica's heap, and every major GC marked them all,
// in incremental steps of up to 12 ms on the main thread (measured): answers waited behind them.
// Here the GC sees a few large buffers. An id is turned back into a string only when an answer or
// event needs it.
//
// Deleted ids leave their bytes behind in the arena; once those are more than half of it, the
// arena is rewritten with the live ids only.
import { EMPTY, SlotTable, widened } from './slot-table.js';

const FIRST_ARENA = 64 * 1024;

/** FNV-1a over bytes [start, end): 32 bits, cheap, and spreads ids that differ in one digit. */
function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}

export class IdTable {
  private arena = Buffer.allocUnsafeSlow(FIRST_ARENA);
  private used = 0;
  private wasted = 0;
  private start: Uint32Array;
  private len: Uint32Array;
  private live: Uint8Array;
  /** Bucket word = the id's hash, so probes compare bytes only on a full hash match. */
  private readonly table = new SlotTable((_slot, word) => word, true);
  /** The id being looked up, as UTF-8 (reused). */
  private scratch = Buffer.allocUnsafeSlow(256);

  constructor(capacity: number) {
    this.start = new Uint32Array(capacity);
    this.len = new Uint32Array(capacity);
    this.live = new Uint8Array(capacity);
  }

  /** Makes room for slots below `capacity` (the index grows its columns together). */
  grow(capacity: number): void {
    this.start = widened(this.start, capacity, (n) => new Uint32Array(n));
    this.len = widened(this.len, capacity, (n) => new Uint32Array(n));
    this.live = widened(this.live, capacity, (n) => new Uint8Array(n));
  }

  /** The slot holding `id`, or undefined. */
  slotOf(id: string): number | undefined {
    const n = this.encode(id);
    const hash = hashBytes(this.scratch, 0, n);
    const { buckets, words, mask } = this.table;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const s = buckets[i]!;
      if (s === EMPTY) return undefined;
      if (words![i] === hash && this.len[s] === n && this.equals(s, n)) return s;
    }
  }

  /** The id in `slot` ('' for a free slot). */
  idAt(slot: number): string {
    return this.live[slot] === 1 ? this.arena.toString('utf8', this.start[slot], this.start[slot]! + this.len[slot]!) : '';
  }

  /** Puts `id` in the free `slot`; the caller knows the id is not in the table. */
  add(slot: number, id: string): void {
    const n = this.encode(id);
    if (this.used + n > this.arena.length) this.makeRoom(n);
    this.scratch.copy(this.arena, this.used, 0, n);
    this.start[slot] = this.used;
    this.len[slot] = n;
    this.live[slot] = 1;
    this.used += n;
    const hash = hashBytes(this.scratch, 0, n);
    this.table.insert(hash, slot, hash);
  }

  /** Frees `slot`'s id. */
  remove(slot: number): void {
    if (this.live[slot] !== 1) return;
    const from = this.start[slot]!;
    const hash = hashBytes(this.arena, from, from + this.len[slot]!);
    this.table.remove(hash, slot, hash);
    this.live[slot] = 0;
    this.wasted += this.len[slot]!;
    this.len[slot] = 0;
  }

  clear(): void {
    this.table.clear();
    this.live.fill(0);
    this.len.fill(0);
    this.used = 0;
    this.wasted = 0;
  }

  /** Bytes held outside the JS heap's objects (for memory accounting). */
  get bytes(): number {
    return this.arena.length + this.start.byteLength + this.len.byteLength + this.live.byteLength;
  }

  /** Writes `id` as UTF-8 into scratch; returns its length. */
  private encode(id: string): number {
    const max = id.length * 3;
    if (max > this.scratch.length) this.scratch = Buffer.allocUnsafeSlow(Math.max(max, this.scratch.length * 2));
    return this.scratch.write(id, 0, 'utf8');
  }

  private equals(slot: number, n: number): boolean {
    const a = this.arena;
    const s = this.scratch;
    const from = this.start[slot]!;
    for (let i = 0; i < n; i++) if (a[from + i] !== s[i]) return false;
    return true;
  }

  /** Room for n more bytes: drop the dead ids' bytes when they are most of the arena, grow if
   *  that is not enough. */
  private makeRoom(n: number): void {
    const liveBytes = this.used - this.wasted;
    const size = this.wasted > liveBytes ? this.arena.length : this.arena.length * 2;
    const next = Buffer.allocUnsafeSlow(Math.max(size, (liveBytes + n) * 2));
    let at = 0;
    for (let s = 0; s < this.live.length; s++) {
      if (this.live[s] !== 1) continue;
      const from = this.start[s]!;
      const len = this.len[s]!;
      this.arena.copy(next, at, from, from + len);
      this.start[s] = at;
      at += len;
    }
    this.arena = next;
    this.used = at;
    this.wasted = 0;
  }
}
