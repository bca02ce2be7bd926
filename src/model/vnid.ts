// VNID allocation over the 24-bit VXLAN network identifier space.
//
// Allocation is next-fit: the search starts after the last VNID handed out and wraps. A VNID that
// was just released is therefore not handed out again until the rest of the space has been used,
// which keeps a deleted network's stale FDB entries on slow agents from matching a new network.
// The bitmap is indexed by VNID itself; VNIDs outside the configured ranges, reserved ones and 0
// are pre-set so the search never lands on them, and `blocked` tells them apart from allocations.

import { HierarchicalBitmap } from './bitmap.js';
import { VxfabError, invalid } from './errors.js';
import { parseIntegerInRange } from './integers.js';

export const VNID_MIN = 1;
export const VNID_MAX = 16777215;

export interface VnidAllocatorOptions {
  /** Inclusive [lo, hi] ranges VNIDs may come from; default one range VNID_MIN..VNID_MAX. */
  ranges?: Array<[number, number]>;
  /** VNIDs inside the ranges that are never handed out nor claimable. */
  reserved?: number[];
}

/** A VNID from a number or decimal text; INVALID_ARGUMENT unless an integer in 1..16777215. */
export function parseVnid(value: unknown, field = 'vnid'): number {
  return parseIntegerInRange(value, field, VNID_MIN, VNID_MAX);
}

function rangeText(ranges: ReadonlyArray<readonly [number, number]>): string {
  return ranges.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(', ');
}

export class VnidAllocator {
  /** Sorted, merged, non-overlapping. */
  private readonly ranges: Array<[number, number]>;
  private readonly reserved: Set<number>;
  private readonly bits = new HierarchicalBitmap(VNID_MAX + 1);
  /** Bits set for reasons other than allocation: VNID 0, outside ranges, reserved. */
  private readonly blocked: number;
  private readonly total: number;
  private cursor: number;

  constructor(options: VnidAllocatorOptions = {}) {
    const given = options.ranges ?? [[VNID_MIN, VNID_MAX]];
    if (given.length === 0) throw invalid('vnid-range', '', 'at least one range is required');
    for (const range of given) {
      const [lo, hi] = range;
      const text = `${lo}-${hi}`;
      if (!Number.isInteger(lo) || !Number.isInteger(hi)) throw invalid('vnid-range', text, 'bounds must be integers');
      if (lo < VNID_MIN || hi > VNID_MAX) {
        throw invalid('vnid-range', text, `must lie within ${VNID_MIN}-${VNID_MAX}`);
      }
      if (lo > hi) throw invalid('vnid-range', text, 'lower bound is above upper bound');
    }
    this.ranges = mergeRanges(given);

    // Block everything outside the ranges, including VNID 0.
    let next = 0;
    for (const [lo, hi] of this.ranges) {
      this.bits.setRange(next, lo - 1);
      next = hi + 1;
    }
    if (next <= VNID_MAX) this.bits.setRange(next, VNID_MAX);

    this.reserved = new Set();
    for (const v of options.reserved ?? []) {
      parseVnid(v, 'reserved-vnid');
      // A reserved VNID outside the ranges is already unavailable; no need to count it twice.
      if (this.inRanges(v) && !this.reserved.has(v)) {
        this.reserved.add(v);
        this.bits.set(v);
      }
    }
    this.blocked = this.bits.count;
    this.total = this.bits.size - this.blocked;
    this.cursor = this.ranges[0]![0];
  }

  /** VNIDs currently allocated or claimed. */
  get used(): number {
    return this.bits.count - this.blocked;
  }

  /** VNIDs that may be allocated at all: the ranges minus reserved ones. */
  get capacity(): number {
    return this.total;
  }

  /** Hands out a free VNID; RESOURCE_EXHAUSTED (field 'vnid') when none is left. */
  allocate(): number {
    let v = this.bits.nextClear(this.cursor);
    if (v < 0) v = this.bits.nextClear(0);
    if (v < 0) {
      throw new VxfabError(
        'RESOURCE_EXHAUSTED',
        `vnid: all ${this.total} VNIDs in ${rangeText(this.ranges)} are in use`,
        { field: 'vnid', value: '' },
      );
    }
    this.bits.set(v);
    this.cursor = v === VNID_MAX ? 0 : v + 1;
    return v;
  }

  /**
   * Takes a specific VNID (one chosen by a user, or loaded from the store). INVALID_ARGUMENT when it
   * is not a VNID, outside the configured ranges or reserved; ALREADY_EXISTS when in use.
   */
  claim(vnid: number, field = 'vnid'): void {
    parseVnid(vnid, field);
    if (!this.inRanges(vnid)) {
      throw invalid(field, vnid, `outside the configured VNID ranges ${rangeText(this.ranges)}`);
    }
    if (this.reserved.has(vnid)) throw invalid(field, vnid, 'is reserved');
    if (!this.bits.set(vnid)) {
      throw new VxfabError('ALREADY_EXISTS', `${field} ${JSON.stringify(String(vnid))}: already in use`, {
        field,
        value: String(vnid),
      });
    }
  }

  /** Frees a VNID; returns false (and changes nothing) when it was not allocated. */
  release(vnid: number): boolean {
    if (!this.isAllocated(vnid)) return false;
    return this.bits.clear(vnid);
  }

  isAllocated(vnid: number): boolean {
    if (!Number.isInteger(vnid) || vnid < VNID_MIN || vnid > VNID_MAX) return false;
    if (!this.inRanges(vnid) || this.reserved.has(vnid)) return false;
    return this.bits.has(vnid);
  }

  private inRanges(v: number): boolean {
    // Binary search over the merged ranges.
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const [a, b] = this.ranges[mid]!;
      if (v < a) hi = mid - 1;
      else if (v > b) lo = mid + 1;
      else return true;
    }
    return false;
  }
}

function mergeRanges(ranges: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const sorted = ranges.map(([lo, hi]): [number, number] => [lo, hi]).sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}
