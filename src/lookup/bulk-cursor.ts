// A consistent copy of one vnid's endpoints, taken at one revision, handed out page by page.
// The copy is compact (a MAC number, a shared node record, the IPs and the id per endpoint) and
// Endpoint objects are built only for the page being sent, so a server may await socket drain
// between pages while the index keeps applying batches.

import { formatIp4, formatMac } from './addr.js';
import type { EndpointInfo, FloodMemberInfo } from './types.js';

const TWO32 = 0x100000000;

/** Default page size of a BulkRequest with page_size 0. */
export const DEFAULT_BULK_PAGE = 512;

export class BulkCursor implements Iterable<EndpointInfo> {
  private pos = 0;

  /** Do not call: LookupIndex.bulk() builds cursors. `ips` holds a uint32 for a NIC with exactly
   *  one IPv4 address, else its address list (shared, never mutated). */
  constructor(
    readonly revision: number,
    private readonly macs: Float64Array,
    private readonly where: readonly FloodMemberInfo[],
    private readonly ips: readonly (number | string[])[],
    private readonly ids: readonly string[],
  ) {}

  /** Endpoints in the copy. */
  get total(): number {
    return this.macs.length;
  }

  get done(): boolean {
    return this.pos >= this.macs.length;
  }

  /** The next at most `max` endpoints; an empty array once every endpoint was returned. */
  next(max = DEFAULT_BULK_PAGE): EndpointInfo[] {
    const end = Math.min(this.macs.length, this.pos + Math.max(1, max));
    const page: EndpointInfo[] = [];
    for (let i = this.pos; i < end; i++) page.push(this.at(i));
    this.pos = end;
    return page;
  }

  /** The remaining endpoints as pages of `size` (the last may be shorter). */
  *pages(size = DEFAULT_BULK_PAGE): Generator<EndpointInfo[]> {
    while (!this.done) yield this.next(size);
  }

  *[Symbol.iterator](): Iterator<EndpointInfo> {
    while (this.pos < this.macs.length) yield this.at(this.pos++);
  }

  private at(i: number): EndpointInfo {
    const mac = this.macs[i];
    const w = this.where[i];
    const ip = this.ips[i];
    return {
      mac: formatMac(Math.floor(mac / TWO32), mac >>> 0),
      ips: typeof ip === 'number' ? [formatIp4(ip)] : ip,
      underlay: w.underlay,
      port: w.port,
      node: w.node,
      nicId: this.ids[i],
    };
  }
}
