// IP addresses and CIDR blocks as (family, bigint) pairs. Both families share one code path:
// only the width (32 or 128 bits) and IPv4's broadcast address differ, and those are looked up
// by family rather than written twice. Parsing goes through ip-address, after our own stricter
// checks (no zone ids, no whitespace, a plain decimal prefix length).

import { Address4, Address6 } from 'ip-address';
import { invalid } from './errors.js';

export type Family = 4 | 6;

export interface IpAddr {
  family: Family;
  value: bigint;
  /** Canonical text: dotted quad, or RFC 5952 compressed lowercase IPv6. */
  text: string;
}

export interface Cidr {
  family: Family;
  /** The network address: host bits are always zero. */
  network: bigint;
  prefix: number;
  /** Canonical "a.b.c.d/n" or compressed IPv6 "2001:db8::/64". */
  text: string;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };
const DOTTED_QUAD = /^[0-9]{1,3}(\.[0-9]{1,3}){3}$/;
const PREFIX = /^(0|[1-9][0-9]{0,2})$/;

/** Address width in bits: 32 or 128. */
export function familyBits(family: Family): number {
  return BITS[family];
}

function familyName(family: Family): string {
  return `IPv${family}`;
}

/** Parses bare address text; undefined when it is not an address of either family. */
function parseAddress(text: string): { family: Family; value: bigint } | undefined {
  try {
    if (text.includes(':')) {
      // Zones ("%eth0") and prefixes are meaningful to ip-address but never in a tenant address.
      if (text.includes('%') || text.includes('/')) return undefined;
      return { family: 6, value: new Address6(text).bigInt() };
    }
    if (!DOTTED_QUAD.test(text)) return undefined;
    return { family: 4, value: new Address4(text).bigInt() };
  } catch {
    return undefined;
  }
}

/** Canonical text of an address value. RangeError when the value does not fit the family. */
export function formatIp(family: Family, value: bigint): string {
  if (value < 0n || value >> BigInt(BITS[family]) !== 0n) {
    throw new RangeError(`${value} is not an ${familyName(family)} address value`);
  }
  if (family === 4) {
    const n = Number(value);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  return Address6.fromBigInt(value).correctForm();
}

function familyMismatch(field: string, text: string, got: Family, want: Family): never {
  throw invalid(field, text, `is ${familyName(got)}, expected ${familyName(want)}`);
}

/** Parses an address; INVALID_ARGUMENT for garbage or, when `family` is given, the other family. */
export function parseIp(text: string, field: string, family?: Family): IpAddr {
  if (typeof text !== 'string') throw invalid(field, text, 'must be an IP address as text');
  const addr = parseAddress(text);
  if (addr === undefined) {
    throw invalid(field, text, `is not ${family === undefined ? 'an IPv4 or IPv6' : `an ${familyName(family)}`} address`);
  }
  if (family !== undefined && addr.family !== family) familyMismatch(field, text, addr.family, family);
  return { ...addr, text: formatIp(addr.family, addr.value) };
}

function hostMask(family: Family, prefix: number): bigint {
  return (1n << BigInt(BITS[family] - prefix)) - 1n;
}

/**
 * Parses "address/prefix". INVALID_ARGUMENT for garbage, a missing or out-of-range prefix length,
 * the wrong family, or host bits set (the message suggests the network that was probably meant).
 */
export function parseCidr(text: string, field: string, family?: Family): Cidr {
  if (typeof text !== 'string') throw invalid(field, text, 'must be a CIDR block as text');
  const slash = text.indexOf('/');
  const example = family === 6 ? '2001:db8::/64' : '10.0.0.0/24';
  if (slash < 0) throw invalid(field, text, `missing prefix length (like ${example})`);
  const addr = parseAddress(text.slice(0, slash));
  if (addr === undefined) {
    throw invalid(field, text, `is not a CIDR block: the part before "/" is not an IP address (like ${example})`);
  }
  if (family !== undefined && addr.family !== family) familyMismatch(field, text, addr.family, family);
  const bits = BITS[addr.family];
  const prefixText = text.slice(slash + 1);
  const prefix = PREFIX.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix <= bits)) throw invalid(field, text, `prefix length must be an integer from 0 to ${bits}`);
  const host = hostMask(addr.family, prefix);
  const network = addr.value & ~host;
  const canonical = `${formatIp(addr.family, network)}/${prefix}`;
  if ((addr.value & host) !== 0n) throw invalid(field, text, `host bits set, did you mean ${canonical}?`);
  return { family: addr.family, network, prefix, text: canonical };
}

/** Number of addresses in the block (2^(bits - prefix)). */
export function cidrSize(cidr: Cidr): bigint {
  return 1n << BigInt(BITS[cidr.family] - cidr.prefix);
}

/** The highest address in the block (IPv4: the broadcast address when prefix <= 30). */
export function cidrLast(cidr: Cidr): bigint {
  return cidr.network | hostMask(cidr.family, cidr.prefix);
}

/** Whether the block holds the address; an address of the other family is never contained. */
export function cidrContains(cidr: Cidr, ip: bigint | IpAddr): boolean {
  if (typeof ip !== 'bigint') {
    if (ip.family !== cidr.family) return false;
    ip = ip.value;
  }
  return ip >= cidr.network && ip <= cidrLast(cidr);
}

/** Whether two blocks share any address. Blocks of different families never overlap. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  // Aligned blocks either nest or are disjoint: compare on the shorter prefix.
  const mask = ~hostMask(a.family, Math.min(a.prefix, b.prefix));
  return (a.network & mask) === (b.network & mask);
}

/**
 * The conventional gateway: the first host address. None for /31, /32, /127 and /128, where
 * every address is a host address and taking one for a gateway would leave too few.
 */
export function defaultGateway(cidr: Cidr): string | undefined {
  if (BITS[cidr.family] - cidr.prefix < 2) return undefined;
  return formatIp(cidr.family, cidr.network + 1n);
}
