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

  // Plain loops: an agent diffs a network on every event that touches it, and spread copies of
  // every entry were most of what a diff allocated.
  const fdbSet: Array<{ mac: string; dst: string }> = [];
  for (const [mac, dst] of want.fdb) if (have.fdb.get(mac) !== dst) fdbSet.push({ mac, dst });
  const fdbDel: string[] = [];
  for (const mac of have.fdb.keys()) if (!want.fdb.has(mac)) fdbDel.push(mac);
  const floodAdd: string[] = [];
  for (const d of want.flood) if (!have.flood.has(d)) floodAdd.push(d);
  const floodDel: string[] = [];
  for (const d of have.flood) if (!want.flood.has(d)) floodDel.push(d);
  const neighSet: Array<{ ip: string; mac: string }> = [];
  for (const [ip, mac] of want.neigh) if (have.neigh.get(ip) !== mac) neighSet.push({ ip, mac });
  const neighDel: string[] = [];
  for (const ip of have.neigh.keys()) if (!want.neigh.has(ip)) neighDel.push(ip);

  return sortedChanges({ fdbSet, fdbDel, floodAdd, floodDel, neighSet, neighDel });
}

/** A change set from its lists, sorted and without empty ones: the one form every diff returns
 *  (the full diff here and the agent's per-key delta), so equal changes compare equal. */
export function sortedChanges(lists: Required<TableChanges>): TableChanges {
  const changes: TableChanges = {};
  const { fdbSet, fdbDel, floodAdd, floodDel, neighSet, neighDel } = lists;
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
  // Field names are built only for a value that fails (canonicalX calls the function then).
  for (const [mac, dst] of t.fdb) {
    const field = () => `${side}.fdb[${mac}]`;
    out.fdb.set(canonicalMac(mac, field), canonicalVtep(dst, field));
  }
  for (const d of t.flood) out.flood.add(canonicalVtep(d, () => `${side}.flood[${d}]`));
  for (const [ip, mac] of t.neigh) {
    const field = () => `${side}.neigh[${ip}]`;
    out.neigh.set(canonicalIp(ip, field), canonicalMac(mac, field));
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
