// Open-addressing hash multimap from a key to NIC slot numbers, kept in typed arrays so a
// million entries cost a few bytes each instead of a Map entry plus a boxed 48-bit key.
//
// The table stores only slot numbers (and, optionally, one uint32 key word per bucket). It does
// not know how keys are hashed or compared: the owner probes it inline (for speed, and so the
// hot path calls no closure), and gives `homeOf` so deletion can shift entries back (linear
// probing with backward-shift deletion: no tombstones, so probe chains stay short forever).
// Duplicate keys are allowed; each (key, slot) pair is one entry.

export const EMPTY = -1;

export class SlotTable {
  /** Slot per bucket, EMPTY when free. */
  buckets: Int32Array;
  /** One key word per bucket when the owner asked for it (VL3 keeps the IPv4 address here). */
  words: Uint32Array | undefined;
  mask: number;
  size = 0;

  /** homeOf(slot, word) → the full hash of the entry in a bucket (the owner's hash function). */
  constructor(
    private readonly homeOf: (slot: number, word: number) => number,
    withWords: boolean,
    initialBits = 10,
  ) {
    const cap = 1 << initialBits;
    this.buckets = new Int32Array(cap).fill(EMPTY);
    this.words = withWords ? new Uint32Array(cap) : undefined;
    this.mask = cap - 1;
  }

  /** Adds (hash → slot); the caller guarantees the pair is not already present. */
  insert(hash: number, slot: number, word = 0): void {
    if ((this.size + 1) * 2 > this.buckets.length) this.grow();
    this.place(hash, slot, word);
    this.size++;
  }

  /** Removes the entry holding `slot` (and `word`, when words are kept) on hash's chain. */
  remove(hash: number, slot: number, word = 0): boolean {
    const { buckets, words, mask } = this;
    let i = hash & mask;
    for (;;) {
      const s = buckets[i];
      if (s === EMPTY) return false;
      if (s === slot && (words === undefined || words[i] === word)) break;
      i = (i + 1) & mask;
    }
    // Backward shift: pull later chain members into the hole when their home allows it.
    let hole = i;
    let j = (i + 1) & mask;
    for (;;) {
      const s = buckets[j];
      if (s === EMPTY) break;
      const w = words === undefined ? 0 : words[j];
      const home = this.homeOf(s, w) & mask;
      // Entry j may move to hole iff hole lies cyclically in [home, j).
      const fits = hole <= j ? home <= hole || home > j : home <= hole && home > j;
      if (fits) {
        buckets[hole] = s;
        if (words !== undefined) words[hole] = w;
        hole = j;
      }
      j = (j + 1) & mask;
    }
    buckets[hole] = EMPTY;
    this.size--;
    return true;
  }

  clear(): void {
    this.buckets.fill(EMPTY);
    this.size = 0;
  }

  private place(hash: number, slot: number, word: number): void {
    const { buckets, mask } = this;
    let i = hash & mask;
    while (buckets[i] !== EMPTY) i = (i + 1) & mask;
    buckets[i] = slot;
    if (this.words !== undefined) this.words[i] = word;
  }

  private grow(): void {
    const old = this.buckets;
    const oldWords = this.words;
    const cap = old.length * 2;
    this.buckets = new Int32Array(cap).fill(EMPTY);
    this.words = oldWords === undefined ? undefined : new Uint32Array(cap);
    this.mask = cap - 1;
    for (let i = 0; i < old.length; i++) {
      const s = old[i];
      if (s === EMPTY) continue;
      const w = oldWords === undefined ? 0 : oldWords[i];
      this.place(this.homeOf(s, w), s, w);
    }
  }
}

/** A 32-bit mix (murmur3 finalizer) of up to three words: cheap, and spreads sequential MACs. */
export function mix3(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul(b ^ (h >>> 15), 0xc2b2ae35);
  h ^= Math.imul(c ^ (h >>> 13), 0x27d4eb2f);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A typed-array column of per-slot values. */
export type Column = Uint8Array | Uint16Array | Uint32Array | Int32Array;

/** A copy of `old` with room for `cap` entries (a column growing with its table). */
export function widened<T extends Column>(old: T, cap: number, make: (n: number) => T): T {
  const next = make(cap);
  next.set(old);
  return next;
}
