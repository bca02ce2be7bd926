// Input checks and canonical forms shared by every DataPlane. Canonical keys matter because the
// reconcile diff compares strings: the kernel prints lowercase MACs and RFC 5952 IPv6, so desired
// state is brought to the same form before comparing.

import { isIPv6 } from 'node:net';
import { invalid, type VxfabError } from '../model/errors.js';
import type { FdbEntry, NeighEntry, NetworkSpec, TableChanges } from './dataplane.js';
import { checkVnid } from './names.js';

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const DASH_MAC_RE = /^[0-9a-f]{2}(-[0-9a-f]{2}){5}$/;

/** A field name, or a function making it: bulk checks build the name ("fdbSet[9123].mac") only
 * for a value that fails. */
export type Field = string | (() => string);

function bad(field: Field, value: unknown, why: string): VxfabError {
  return invalid(typeof field === 'function' ? field() : field, value, why);
}
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
export const ZERO_MAC = '00:00:00:00:00:00';

/** Lowercase colon form of a unicast, non-zero MAC; INVALID_ARGUMENT otherwise. */
export function canonicalMac(mac: string, field: Field = 'mac'): string {
  let m = typeof mac === 'string' ? mac.toLowerCase() : '';
  // The forms src/model/mac.ts parseMac accepts (property-tested against it): colons, or dashes
  // throughout; the kernel's form, lowercase with colons, is the fast path.
  if (!MAC_RE.test(m)) {
    if (!DASH_MAC_RE.test(m)) throw bad(field, mac, 'must be a MAC address like 02:00:00:00:00:01');
    m = m.replaceAll('-', ':');
  }
  if (m === ZERO_MAC) throw bad(field, mac, 'must not be the all-zero MAC (flood entries are separate)');
  // The group bit is the low bit of the first octet, i.e. of its second hex digit.
  if ((HEX_LOW_BIT[m.charCodeAt(1)] ?? 0) === 1) throw bad(field, mac, 'must be a unicast MAC');
  return m;
}

const HEX_LOW_BIT: Record<number, number> = Object.fromEntries(
  [...'0123456789abcdef'].map((c, i) => [c.charCodeAt(0), i & 1]),
);

export type Family = 4 | 6;

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Canonical text of an IPv4 or IPv6 address (no zone, no prefix); INVALID_ARGUMENT otherwise. */
export function canonicalIp(ip: string, field: Field = 'ip'): string {
  if (typeof ip === 'string' && IPV4_RE.test(ip)) return ip;
  if (typeof ip === 'string' && isIPv6(ip) && !ip.includes('%')) {
    // The WHATWG URL parser prints IPv6 hosts in RFC 5952 form, as the kernel tools do.
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  }
  throw bad(field, ip, 'must be an IPv4 or IPv6 address');
}

export function ipFamily(ip: string): Family {
  return ip.includes(':') ? 6 : 4;
}

/** An underlay address usable as a VTEP: canonical, not unspecified, not multicast. A host talks to
 * few VTEPs and a bulk change repeats them thousands of times, so valid ones are remembered. */
export function canonicalVtep(ip: string, field: Field): string {
  const known = vtepMemo.get(ip);
  if (known !== undefined) return known;
  const c = canonicalIp(ip, field);
  if (c === '0.0.0.0' || c === '::') throw bad(field, ip, 'must not be the unspecified address');
  const first = ipFamily(c) === 4 ? Number(c.split('.')[0]) : -1;
  if ((first >= 224 && first <= 239) || c.startsWith('ff')) throw bad(field, ip, 'must be a unicast address');
  if (vtepMemo.size >= VTEP_MEMO_MAX) vtepMemo.clear();
  vtepMemo.set(ip, c);
  return c;
}

const VTEP_MEMO_MAX = 4096;
const vtepMemo = new Map<string, string>();

export function checkSpec(spec: NetworkSpec): NetworkSpec {
  if (spec === null || typeof spec !== 'object') throw invalid('spec', spec, 'must be an object');
  checkVnid(spec.vnid, 'vnid');
  if (!Number.isInteger(spec.mtu) || spec.mtu < 68 || spec.mtu > 65535) {
    throw invalid('mtu', spec.mtu, 'must be an integer from 68 to 65535');
  }
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) {
    throw invalid('port', spec.port, 'must be an integer from 1 to 65535');
  }
  if (spec.underlayDev !== undefined && !IFNAME_RE.test(spec.underlayDev)) {
    throw invalid('underlayDev', spec.underlayDev, 'must be an interface name (1-15 of A-Z a-z 0-9 _ . -)');
  }
  if (typeof spec.learningMisses !== 'boolean') throw invalid('learningMisses', spec.learningMisses, 'must be a boolean');
  const out: NetworkSpec = {
    vnid: spec.vnid,
    mtu: spec.mtu,
    local: canonicalVtep(spec.local, 'local'),
    port: spec.port,
    learningMisses: spec.learningMisses,
  };
  if (spec.underlayDev !== undefined) out.underlayDev = spec.underlayDev;
  return out;
}

/** TableChanges with every list present and every value canonical. */
export interface NormalChanges {
  fdbSet: FdbEntry[];
  fdbDel: string[];
  floodAdd: string[];
  floodDel: string[];
  neighSet: NeighEntry[];
  neighDel: string[];
}

export function isEmptyChanges(c: NormalChanges): boolean {
  return (
    c.fdbSet.length + c.fdbDel.length + c.floodAdd.length + c.floodDel.length + c.neighSet.length + c.neighDel.length ===
    0
  );
}

/** Validates and canonicalizes changes. A key set twice to different values, or both set and
 * deleted, is INVALID_ARGUMENT: the call would not say what it wants. */
export function normalizeChanges(changes: TableChanges): NormalChanges {
  if (changes === null || typeof changes !== 'object') throw invalid('changes', changes, 'must be an object');
  const list = <T>(v: T[] | undefined, field: string): T[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw invalid(field, v, 'must be an array');
    return v;
  };
  const fdbSet = list(changes.fdbSet, 'fdbSet').map((e, i) => ({
    mac: canonicalMac(e?.mac, () => `fdbSet[${i}].mac`),
    dst: canonicalVtep(e?.dst, () => `fdbSet[${i}].dst`),
  }));
  const fdbDel = list(changes.fdbDel, 'fdbDel').map((m, i) => canonicalMac(m, () => `fdbDel[${i}]`));
  const floodAdd = list(changes.floodAdd, 'floodAdd').map((d, i) => canonicalVtep(d, () => `floodAdd[${i}]`));
  const floodDel = list(changes.floodDel, 'floodDel').map((d, i) => canonicalVtep(d, () => `floodDel[${i}]`));
  const neighSet = list(changes.neighSet, 'neighSet').map((e, i) => ({
    ip: canonicalIp(e?.ip, () => `neighSet[${i}].ip`),
    mac: canonicalMac(e?.mac, () => `neighSet[${i}].mac`),
  }));
  const neighDel = list(changes.neighDel, 'neighDel').map((ip, i) => canonicalIp(ip, () => `neighDel[${i}]`));

  noConflicts('fdbSet', fdbSet, (e) => e.mac, (e) => e.dst, 'fdbDel', fdbDel);
  noConflicts('neighSet', neighSet, (e) => e.ip, (e) => e.mac, 'neighDel', neighDel);
  noConflicts('floodAdd', floodAdd, (d) => d, (d) => d, 'floodDel', floodDel);
  return { fdbSet, fdbDel, floodAdd, floodDel, neighSet, neighDel };
}

function noConflicts<T>(
  setField: string,
  sets: T[],
  key: (e: T) => string,
  value: (e: T) => string,
  delField: string,
  dels: string[],
): void {
  if (sets.length === 0 || (sets.length === 1 && dels.length === 0)) return;
  const seen = new Map<string, string>();
  for (let i = 0; i < sets.length; i++) {
    const k = key(sets[i]!);
    const v = value(sets[i]!);
    const prev = seen.get(k);
    if (prev !== undefined && prev !== v) throw invalid(`${setField}[${i}]`, k, `is set twice, to ${prev} and ${v}`);
    seen.set(k, v);
  }
  dels.forEach((k, i) => {
    if (seen.has(k)) throw invalid(`${delField}[${i}]`, k, `is also in ${setField}`);
  });
}

/** Every dst of the changes must be of the network's underlay family (the kernel refuses others). */
export function checkDstFamilies(c: NormalChanges, local: string): void {
  const fam = ipFamily(local);
  const check = (dst: string, field: string): void => {
    if (ipFamily(dst) !== fam) throw invalid(field, dst, `is IPv${ipFamily(dst)} but the network's local address ${local} is IPv${fam}`);
  };
  c.fdbSet.forEach((e, i) => check(e.dst, `fdbSet[${i}].dst`));
  c.floodAdd.forEach((d, i) => check(d, `floodAdd[${i}]`));
}
