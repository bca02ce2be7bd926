// Numeric limits shared by every role. Each figure is named once here; derived ones say how.

import { invalid, VxfabError } from './errors.js';
import { parseIntegerInRange } from './integers.js';

/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers. */
export const VXLAN_OVERHEAD_V4 = 50;
/** As VXLAN_OVERHEAD_V4 with a 40-byte IPv6 outer header instead of 20. */
export const VXLAN_OVERHEAD_V6 = 70;
export const DEFAULT_UNDERLAY_MTU = 1500;
/** Tenant MTU that fits a standard 1500-byte IPv4 underlay without fragmentation. */
export const DEFAULT_MTU = DEFAULT_UNDERLAY_MTU - VXLAN_OVERHEAD_V4;
/** IPv4's minimum reassembly size (RFC 791); smaller tenant MTUs break too much. */
export const MTU_MIN = 576;
/** Common jumbo-frame ceiling. */
export const MTU_MAX = 9000;
/** IANA-assigned VXLAN UDP port (RFC 7348). */
export const DEFAULT_VTEP_PORT = 4789;
export const PORT_MIN = 1;
export const PORT_MAX = 65535;

/** A tenant MTU from a number or decimal text; INVALID_ARGUMENT unless within MTU_MIN..MTU_MAX. */
export function parseMtu(value: unknown, field = 'mtu'): number {
  return parseIntegerInRange(value, field, MTU_MIN, MTU_MAX);
}

/** A UDP/TCP port from a number or decimal text; INVALID_ARGUMENT unless within 1..65535. */
export function parsePort(value: unknown, field = 'port'): number {
  return parseIntegerInRange(value, field, PORT_MIN, PORT_MAX);
}

/**
 * Addresses one NIC may hold. A VM's or container's NIC has a handful (one IPv4, one IPv6, a few
 * secondary addresses or VIPs); 64 leaves room for that many times over, while bounding what one
 * object costs everywhere it goes: a NIC of 64 IPv6 addresses encodes to under 3 KiB (so a
 * STREAM_PAGE_BYTES page holds at least 80 of them, and no NIC, event or Bulk entry comes near the
 * frame limit), and each carrier host programs one neighbour entry per address. Without a limit one
 * NIC with 40,000 addresses stalled every lookup client for 24 s and made frames over 1 MiB that
 * a new replica could never read (issue #11).
 */
export const MAX_NIC_IPS = 64;

/** INVALID_ARGUMENT (field `ips`, value the count) when a NIC is given more than MAX_NIC_IPS
 *  addresses. */
export function checkNicIpCount(ips: readonly unknown[] | undefined): void {
  const n = ips?.length ?? 0;
  if (n > MAX_NIC_IPS) throw invalid('ips', String(n), `a NIC may have at most ${MAX_NIC_IPS} addresses, ${n} given`);
}

/** The frame size limit every vxfab connection enforces (wire/frame-decoder.ts's default). */
export const FRAME_LIMIT_BYTES = 1 << 20;

/**
 * Bytes of encoded items one stream page (a List page, a Snapshot page, a Watch part, a Bulk page)
 * may carry: a quarter of the frame limit, leaving room for the frame and envelope headers and for
 * the over-estimate of encodedSizeBound, and small enough that a page is decoded in well under a
 * millisecond. A page also stops at its item count; a single item larger than this gets a page of
 * its own, and one too large for any frame is refused (checkFitsFrame).
 */
export const STREAM_PAGE_BYTES = 256 * 1024;

/** Headroom under FRAME_LIMIT_BYTES for one page's own fields (revision, flags), the stream
 *  envelope and the frame's length prefix. */
const FRAME_HEADROOM = 4096;

/**
 * An upper bound of the bytes `value` takes as a protobuf field (a message field's or a repeated
 * element's tag, length and contents), from the plain object the wire encoder is given. Cheap: no
 * encoding. Exact sizes are smaller because it assumes a 2-byte tag for every field (true for field
 * numbers below 2048; vxfab.v1 uses fewer than 16 per message), 10 bytes for every number
 * (a varint's maximum; fixed and float fields are smaller), and it counts properties the schema
 * does not have (the encoder skips them). Strings count their UTF-8 bytes. vxfab.v1 has no map
 * fields, whose keys this would not count.
 */
export function encodedSizeBound(value: unknown): number {
  switch (typeof value) {
    case 'string': {
      const n = Buffer.byteLength(value);
      return 2 + varintSize(n) + n;
    }
    case 'number':
    case 'bigint':
      return 12;
    case 'boolean':
      return 3;
    case 'object': {
      if (value === null) return 0;
      if (value instanceof Uint8Array) return 2 + varintSize(value.length) + value.length;
      if (Array.isArray(value)) {
        let n = 0;
        for (const v of value) n += encodedSizeBound(v);
        return n;
      }
      let n = 0;
      for (const v of Object.values(value)) n += encodedSizeBound(v);
      return 2 + varintSize(n) + n;
    }
    default:
      return 0;
  }
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/**
 * Cuts items into pages of at most `maxItems` items and STREAM_PAGE_BYTES of `size(item)`, lazily
 * (it pulls from `items` only as pages are taken). An item that alone is over the budget gets a
 * page of its own; one that could not fit in any frame throws (checkFitsFrame).
 */
export function* pagesBySize<T>(items: Iterable<T>, maxItems: number, size: (item: T) => number, what: (item: T) => string): Generator<T[]> {
  let page: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size(item);
    checkFitsFrame(n, () => what(item));
    if (page.length > 0 && (page.length >= maxItems || bytes + n > STREAM_PAGE_BYTES)) {
      yield page;
      page = [];
      bytes = 0;
    }
    page.push(item);
    bytes += n;
  }
  if (page.length > 0) yield page;
}

/** RESOURCE_EXHAUSTED naming the object when an item of `bytes` (encodedSizeBound) could not be
 *  sent in any frame: the stream stops with this clear error instead of sending a frame every
 *  receiver would refuse. Only objects stored before MAX_NIC_IPS existed can be that large. */
export function checkFitsFrame(bytes: number, what: () => string): void {
  if (bytes + FRAME_HEADROOM <= FRAME_LIMIT_BYTES) return;
  const name = what();
  throw new VxfabError('RESOURCE_EXHAUSTED',
    `${name} takes up to ${bytes} bytes encoded, more than one ${FRAME_LIMIT_BYTES}-byte frame can carry: ` +
    `it was stored before the limit of ${MAX_NIC_IPS} addresses per NIC; delete it or rewrite it with fewer addresses`,
    { field: 'object', value: name });
}
