// Ethernet MAC addresses: parsing, and allocation of locally administered unicast addresses.
//
// Canonical form is lowercase with colons ("02:00:00:0a:0b:0c"). A 48-bit MAC fits exactly in a
// JS number (2^48 < 2^53), so arithmetic stays in plain numbers.

import { VxfabError, invalid } from './errors.js';

const MAC = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$/i;
const PREFIX = /^[0-9a-f]{2}(?:([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){0,3})?$/i;
const MAC_SPACE = 2 ** 48;
/** I/G bit of the first octet: set for multicast (and broadcast) destinations. */
const GROUP_BIT = 0x01;
/** U/L bit of the first octet: set for locally administered addresses (not vendor-assigned). */
const LOCAL_BIT = 0x02;

function octetsOf(text: string): number[] {
  return text.split(/[:-]/).map((h) => parseInt(h, 16));
}

function fromOctets(octets: number[]): number {
  return octets.reduce((n, b) => n * 256 + b, 0);
}

/** The MAC as a 48-bit number. Any well-formed MAC (multicast too); INVALID_ARGUMENT otherwise. */
export function macToNumber(mac: string, field = 'mac'): number {
  if (typeof mac !== 'string' || !MAC.test(mac)) {
    throw invalid(field, mac, 'is not a MAC address (like 02:00:00:0a:0b:0c)');
  }
  return fromOctets(octetsOf(mac));
}

/** Canonical text of a 48-bit number; RangeError when it is not one. */
export function numberToMac(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n >= MAC_SPACE) throw new RangeError(`${n} is not a 48-bit MAC value`);
  const octets: string[] = [];
  for (let i = 5; i >= 0; i--) octets.push((Math.floor(n / 256 ** i) % 256).toString(16).padStart(2, '0'));
  return octets.join(':');
}

/**
 * A MAC usable for an endpoint, in canonical form. Accepts ':' or '-' separators in either case;
 * INVALID_ARGUMENT for garbage, all-zero, broadcast and multicast addresses.
 */
export function parseMac(text: string, field = 'mac'): string {
  const n = macToNumber(text, field);
  if (n === 0) throw invalid(field, text, 'is the all-zero address, not an endpoint MAC');
  if (n === MAC_SPACE - 1) throw invalid(field, text, 'is the broadcast address, not an endpoint MAC');
  if (Math.floor(n / 2 ** 40) & GROUP_BIT) {
    throw invalid(field, text, 'is a multicast address (I/G bit 0x01 of the first octet is set), not an endpoint MAC');
  }
  return numberToMac(n);
}

/**
 * Hands out MACs under a fixed prefix with a next-fit counter. The allocator keeps no set of its
 * own: the caller's isTaken is the truth (the store's MAC index), and observe() lets the counter
 * start after the MACs that already exist when the controller starts.
 */
export class MacAllocator {
  /** Canonical prefix text, e.g. "02:00:00". */
  readonly prefix: string;
  /** Number of MACs under the prefix. */
  readonly size: number;
  private readonly base: number;
  /** Starts at suffix 1: a first NIC with MAC 02:00:00:00:00:00 reads like an unset address.
   *  Suffix 0 is still handed out once the counter wraps. */
  private cursor = 1;

  /** `prefix`: 1 to 5 octets, unicast and locally administered; INVALID_ARGUMENT (field 'mac-prefix'). */
  constructor(prefix = '02:00:00') {
    const field = 'mac-prefix';
    if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
      throw invalid(field, prefix, 'must be 1 to 5 octets of hex like 02:00:00');
    }
    const octets = octetsOf(prefix);
    const first = octets[0]!;
    if (first & GROUP_BIT) throw invalid(field, prefix, 'is multicast (I/G bit 0x01 of the first octet is set)');
    if (!(first & LOCAL_BIT)) {
      throw invalid(field, prefix, 'is not locally administered (U/L bit 0x02 of the first octet must be set, like 02:…)');
    }
    this.prefix = octets.map((b) => b.toString(16).padStart(2, '0')).join(':');
    this.size = 2 ** (8 * (6 - octets.length));
    this.base = fromOctets(octets) * this.size;
  }

  /**
   * The next MAC under the prefix for which isTaken is false. The counter moves past what it
   * returns, so two calls in a row differ even before the caller records the first. With a short
   * prefix the space is up to 2^40, so RESOURCE_EXHAUSTED is in practice only seen for long ones.
   */
  allocate(isTaken: (mac: string) => boolean): string {
    for (let tried = 0; tried < this.size; tried++) {
      const mac = numberToMac(this.base + this.cursor);
      this.cursor = (this.cursor + 1) % this.size;
      if (!isTaken(mac)) return mac;
    }
    throw new VxfabError('RESOURCE_EXHAUSTED', `mac: all ${this.size} MACs under prefix ${this.prefix} are taken`, {
      field: 'mac',
      value: this.prefix,
    });
  }

  /**
   * Tells the allocator about an existing MAC (loaded from the store): if it lies under the prefix
   * at or beyond the counter, the counter moves past it. Returns whether it lies under the prefix.
   */
  observe(mac: string): boolean {
    const offset = macToNumber(mac) - this.base;
    if (offset < 0 || offset >= this.size) return false;
    if (offset >= this.cursor) this.cursor = (offset + 1) % this.size;
    return true;
  }
}
