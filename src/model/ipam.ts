// Address allocation inside one subnet.
//
// State is sparse on purpose: a Set of the addresses in use and a next-fit cursor. An IPv6 /64
// holds 2^64 addresses, so nothing here may grow with the size of the subnet, only with the
// number of addresses in use. The cursor walks upwards from the first usable address and wraps,
// so released addresses come back once the fresh space behind the cursor has been used up.
//
// Never handed out: the network address (for IPv6 the subnet-router anycast address, RFC 4291
// 2.6.1), the IPv4 broadcast address, and the gateway. Point-to-point blocks are the exception:
// /31 (RFC 3021) and /127 (RFC 6164) use both addresses, /32 and /128 their only one.

import { VxfabError, invalid } from './errors.js';
import { type Cidr, type Family, cidrLast, formatIp, familyBits, parseIp } from './ip.js';

export * from './ip.js';

/** Request field that names a subnet's gateway, by family. */
export function gatewayField(family: Family): string {
  return `gateway${family}`;
}

/** Request field that names a subnet, by family. */
export function subnetField(family: Family): string {
  return `subnet${family}`;
}

/** Offsets below this are small integers (V8 Smis) and need no object of their own. */
const SMALL_OFFSETS = 1n << 30n;

export class SubnetPool {
  readonly cidr: Cidr;
  /** Canonical gateway text, when the subnet has one. */
  readonly gateway: string | undefined;
  /** Usable addresses, not counting the gateway. */
  readonly capacity: bigint;
  private readonly gatewayValue: bigint | undefined;
  private readonly first: bigint;
  private readonly last: bigint;
  /** Addresses in use, by offset from `first`: a number where it fits a small integer (every
   *  IPv4 subnet), so that a million NICs' addresses are not a million BigInt objects on the heap
   *  (each young-generation GC of a big controller takes longer the more objects it holds). */
  private readonly inUse = new Set<number | bigint>();
  private cursor: bigint;

  /**
   * `gateway` is reserved and never handed out. It must be a usable host address inside the
   * subnet, else INVALID_ARGUMENT on field gateway4 / gateway6. No gateway, nothing reserved:
   * callers wanting the conventional one pass defaultGateway(cidr).
   */
  constructor(cidr: Cidr, gateway?: string) {
    this.cidr = cidr;
    const hostBits = familyBits(cidr.family) - cidr.prefix;
    const top = cidrLast(cidr);
    // With two or more host bits the network address is reserved, and for IPv4 the broadcast too.
    this.first = hostBits >= 2 ? cidr.network + 1n : cidr.network;
    this.last = hostBits >= 2 && cidr.family === 4 ? top - 1n : top;
    this.cursor = this.first;

    let usable = this.last - this.first + 1n;
    if (gateway !== undefined) {
      const field = gatewayField(cidr.family);
      const gw = parseIp(gateway, field, cidr.family);
      const why = this.unusableReason(gw.value);
      if (why !== undefined) throw invalid(field, gateway, `cannot be the gateway: ${why}`);
      this.gatewayValue = gw.value;
      this.gateway = gw.text;
      usable -= 1n;
    }
    this.capacity = usable;
  }

  /** Addresses handed out or claimed (the gateway not included). */
  get used(): number {
    return this.inUse.size;
  }

  /** inUse's key for an address of this subnet: numbers and bigints never compare equal, so an
   *  offset kept as a number cannot be mistaken for one kept as a bigint. */
  private key(v: bigint): number | bigint {
    const offset = v - this.first;
    return offset >= 0n && offset < SMALL_OFFSETS ? Number(offset) : v;
  }

  /** Hands out a free address; RESOURCE_EXHAUSTED naming the subnet when none is left. */
  allocate(): string {
    if (BigInt(this.inUse.size) >= this.capacity) {
      const field = subnetField(this.cidr.family);
      throw new VxfabError(
        'RESOURCE_EXHAUSTED',
        `${field} ${this.cidr.text}: no free addresses (${this.inUse.size} in use${this.gateway === undefined ? '' : `, gateway ${this.gateway}`})`,
        { field, value: this.cidr.text },
      );
    }
    // A free address exists, so this loop ends; it only steps over addresses in use.
    for (;;) {
      const v = this.cursor;
      this.cursor = v === this.last ? this.first : v + 1n;
      if (v === this.gatewayValue) continue;
      const k = this.key(v);
      if (!this.inUse.has(k)) {
        this.inUse.add(k);
        return formatIp(this.cidr.family, v);
      }
    }
  }

  /**
   * Takes a specific address. INVALID_ARGUMENT when it is garbage, the other family, outside the
   * subnet, the network or broadcast address, or the gateway; ALREADY_EXISTS when in use.
   */
  claim(ip: string, field = 'ips'): void {
    const addr = parseIp(ip, field, this.cidr.family);
    const why = this.unusableReason(addr.value);
    if (why !== undefined) throw invalid(field, ip, why);
    if (addr.value === this.gatewayValue) throw invalid(field, ip, `is the gateway of ${this.cidr.text}`);
    const k = this.key(addr.value);
    if (this.inUse.has(k)) {
      throw new VxfabError('ALREADY_EXISTS', `${field} ${JSON.stringify(ip)}: already in use in ${this.cidr.text}`, {
        field,
        value: ip,
      });
    }
    this.inUse.add(k);
  }

  /** Frees an address; false (and no change) when it was not in use here. Garbage: INVALID_ARGUMENT. */
  release(ip: string): boolean {
    const addr = parseIp(ip, 'ip');
    return addr.family === this.cidr.family && this.inUse.delete(this.key(addr.value));
  }

  /** Whether the address is handed out or claimed here. Garbage: INVALID_ARGUMENT. */
  isAllocated(ip: string): boolean {
    const addr = parseIp(ip, 'ip');
    return addr.family === this.cidr.family && this.inUse.has(this.key(addr.value));
  }

  /** Why an address of this family can never be handed out here, or undefined if it can. */
  private unusableReason(v: bigint): string | undefined {
    const c = this.cidr;
    if (v < c.network || v > cidrLast(c)) return `outside subnet ${c.text}`;
    if (v < this.first) {
      return c.family === 6
        ? `is the subnet-router anycast (network) address of ${c.text}`
        : `is the network address of ${c.text}`;
    }
    if (v > this.last) return `is the broadcast address of ${c.text}`;
    return undefined;
  }
}
