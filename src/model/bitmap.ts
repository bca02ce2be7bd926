// A hierarchical bitmap over [0, size): bit set = slot taken. Each level above the bottom holds one
// bit per 32-bit word of the level below, set when that word is full. Finding the next clear bit
// therefore walks up until a level has room, then straight down: O(log32 size) per operation,
// five steps for the 24-bit VNID space, however full it is. Memory is size/8 bytes plus ~3%.

const FULL = 0xffffffff;

function popcount(word: number): number {
  let n = word >>> 0;
  let c = 0;
  while (n !== 0) {
    n &= n - 1;
    c++;
  }
  return c;
}

function lowestSetBit(word: number): number {
  // word & -word isolates the lowest set bit; clz32 counts from the top.
  return 31 - Math.clz32(word & -word);
}

export class HierarchicalBitmap {
  readonly size: number;
  /** levels[0] is the bitmap itself; levels[k][i] bit j says levels[k-1] word 32*i+j is full. */
  private readonly levels: Uint32Array[];
  private setCount = 0;

  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size < 1 || size > 2 ** 32) {
      throw new RangeError(`bitmap size ${size} must be an integer from 1 to 2^32`);
    }
    this.size = size;
    this.levels = [];
    let bits = size;
    for (;;) {
      const words = Math.ceil(bits / 32);
      const level = new Uint32Array(words);
      // Bits past the end are marked taken so that no search ever returns them.
      const spare = words * 32 - bits;
      if (spare > 0) level[words - 1] = (FULL << (32 - spare)) >>> 0;
      this.levels.push(level);
      if (words === 1) break;
      bits = words;
    }
  }

  /** Number of set bits in [0, size). */
  get count(): number {
    return this.setCount;
  }

  has(index: number): boolean {
    this.check(index);
    return (this.levels[0][index >>> 5] & (1 << (index & 31))) !== 0;
  }

  /** Sets the bit; returns false when it was already set. */
  set(index: number): boolean {
    this.check(index);
    const changed = this.setIn(0, index);
    if (changed) this.setCount++;
    return changed;
  }

  /** Sets bit pos of level k, carrying "word now full" upwards; false if it was already set. */
  private setIn(start: number, pos: number): boolean {
    for (let k = start; k < this.levels.length; k++) {
      const level = this.levels[k];
      const w = pos >>> 5;
      const before = level[w];
      const after = (before | (1 << (pos & 31))) >>> 0;
      if (after === before) return k > start;
      level[w] = after;
      // Only a word that has just become full changes the level above.
      if (after !== FULL) break;
      pos = w;
    }
    return true;
  }

  /** Sets every bit in [from, to] (inclusive); whole words at a time in the middle. */
  setRange(from: number, to: number): void {
    if (to < from) return;
    this.check(from);
    this.check(to);
    let i = from;
    while (i <= to && (i & 31) !== 0) this.set(i++);
    const level0 = this.levels[0];
    while (i + 31 <= to) {
      const w = i >>> 5;
      const before = level0[w];
      if (before !== FULL) {
        this.setCount += 32 - popcount(before);
        level0[w] = FULL;
        // Let the upper levels learn this word is full by setting its bit one level up.
        if (this.levels.length > 1) this.setIn(1, w);
      }
      i += 32;
    }
    while (i <= to) this.set(i++);
  }

  /** Clears the bit; returns false when it was already clear. */
  clear(index: number): boolean {
    this.check(index);
    let pos = index;
    for (let k = 0; k < this.levels.length; k++) {
      const level = this.levels[k];
      const w = pos >>> 5;
      const before = level[w];
      const after = (before & ~(1 << (pos & 31))) >>> 0;
      if (after === before) {
        if (k === 0) return false;
        break;
      }
      level[w] = after;
      if (k === 0) this.setCount--;
      // Only a word that was full before changes the level above.
      if (before !== FULL) break;
      pos = w;
    }
    return true;
  }

  /** Lowest clear bit at or after `from` (no wrap), or -1 when there is none. */
  nextClear(from: number): number {
    if (from >= this.size) return -1;
    this.check(from);
    let k = 0;
    let pos = from;
    // Climb until some level has a clear bit at or after pos in the current word.
    for (;;) {
      const level = this.levels[k];
      const w = pos >>> 5;
      if (w >= level.length) return -1;
      const free = ~level[w] & (FULL << (pos & 31));
      if (free !== 0) {
        pos = w * 32 + lowestSetBit(free);
        break;
      }
      if (k === this.levels.length - 1) return -1;
      k++;
      pos = w + 1;
    }
    // Descend: at level k, bit pos says word pos of level k-1 has a clear bit.
    while (k > 0) {
      k--;
      const level = this.levels[k];
      pos = pos * 32 + lowestSetBit(~level[pos]);
    }
    return pos;
  }

  private check(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new RangeError(`bitmap index ${index} outside 0..${this.size - 1}`);
    }
  }
}
