// Reconcile as a diff: the smallest change set that turns `actual` into `desired`. An entry whose
// value already matches is not in the result, so reconcile never deletes and re-adds a live entry
// (which would drop packets and, for a proxied ARP answer, briefly lie).

import type { TableChanges, Tables } from './dataplane.js';
import { canonicalIp, canonicalMac, canonicalVtep } from './validate.js';

/** Returns the changes that make `actual` equal to `desired`. Keys and values of both sides are
 * canonicalized first (INVALID_ARGUMENT on a bad one, field "desired.fdb[KEY]" etc.); lists in the
 * result are sorted, so equal inputs give equal outputs. */
export function diffTables(desired: Tables, actual: Tables): TableChanges {
  const want = canonicalTables(desired, 'desired');
  const have = canonicalTables(actual, 'actual');
  const changes: TableChanges = {};

  const fdbSet = [...want.fdb].filter(([mac, dst]) => have.fdb.get(mac) !== dst).map(([mac, dst]) => ({ mac, dst }));
  const fdbDel = [...have.fdb.keys()].filter((mac) => !want.fdb.has(mac));
  const floodAdd = [...want.flood].filter((d) => !have.flood.has(d));
  const floodDel = [...have.flood].filter((d) => !want.flood.has(d));
  const neighSet = [...want.neigh].filter(([ip, mac]) => have.neigh.get(ip) !== mac).map(([ip, mac]) => ({ ip, mac }));
  const neighDel = [...have.neigh.keys()].filter((ip) => !want.neigh.has(ip));

  if (fdbSet.length > 0) changes.fdbSet = fdbSet.sort((a, b) => cmp(a.mac, b.mac));
  if (fdbDel.length > 0) changes.fdbDel = fdbDel.sort(cmp);
  if (floodAdd.length > 0) changes.floodAdd = floodAdd.sort(cmp);
  if (floodDel.length > 0) changes.floodDel = floodDel.sort(cmp);
  if (neighSet.length > 0) changes.neighSet = neighSet.sort((a, b) => cmp(a.ip, b.ip));
  if (neighDel.length > 0) changes.neighDel = neighDel.sort(cmp);
  return changes;
}

/** True when the change set would write nothing. */
export function isNoChange(c: TableChanges): boolean {
  return (
    (c.fdbSet?.length ?? 0) + (c.fdbDel?.length ?? 0) + (c.floodAdd?.length ?? 0) + (c.floodDel?.length ?? 0) +
      (c.neighSet?.length ?? 0) + (c.neighDel?.length ?? 0) ===
    0
  );
}

export function emptyTables(): Tables {
  return { fdb: new Map(), flood: new Set(), neigh: new Map() };
}

function canonicalTables(t: Tables, side: string): Tables {
  const out = emptyTables();
  for (const [mac, dst] of t.fdb) {
    out.fdb.set(canonicalMac(mac, `${side}.fdb[${mac}]`), canonicalVtep(dst, `${side}.fdb[${mac}]`));
  }
  for (const d of t.flood) out.flood.add(canonicalVtep(d, `${side}.flood[${d}]`));
  for (const [ip, mac] of t.neigh) {
    out.neigh.set(canonicalIp(ip, `${side}.neigh[${ip}]`), canonicalMac(mac, `${side}.neigh[${ip}]`));
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
