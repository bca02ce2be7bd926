// Kernel table text: the batch lines that write entries, and the JSON that reads them back.
//
//   bridge fdb replace MAC dev vx-N dst IP self permanent        unicast entry (replace: never EEXIST)
//   bridge fdb append 00:00:00:00:00:00 dev vx-N dst IP self permanent   one per flood target
//   ip neigh replace IP lladdr MAC dev vx-N nud permanent         proxy ARP/ND answer
//
// Deleting a neighbour that is absent makes `ip` exit (see batch.ts), so a delete is written as
// "replace with state FAILED, then delete": always succeeds, and a FAILED entry is never used to
// answer ARP/ND (proxy answers need a connected state), so the moment between the two lines says
// nothing false (with l3miss on it may report one miss for that IP).

import type { Tables } from '../dataplane.js';
import { emptyTables } from '../diff.js';
import { canonicalIp, ZERO_MAC } from '../validate.js';
import type { NormalChanges } from '../validate.js';

/** A batch line and where it came from in the changes (field and value are built only for a line
 * that fails: a bulk apply has tens of thousands of lines). */
export interface Line {
  text: string;
  list: keyof NormalChanges;
  index: number;
  /** Kernel answers that mean the line's goal already holds. */
  okIf?: RegExp;
}

const ENOENT = /No such file or directory/;
const EEXIST = /File exists/;

/** The field ("fdbSet[3]") and value ("02:… 198.18.0.2") a line was made from. */
export function describeLine(c: NormalChanges, line: Line): { field: string; value: string } {
  const item: unknown = c[line.list][line.index];
  const value =
    typeof item === 'string' ? item : Object.values(item as Record<string, string>).join(' ');
  return { field: `${line.list}[${line.index}]`, value };
}

export function fdbSetLines(dev: string, c: NormalChanges): Line[] {
  const out: Line[] = [];
  c.fdbSet.forEach((e, index) => out.push({ text: `fdb replace ${e.mac} dev ${dev} dst ${e.dst} self permanent`, list: 'fdbSet', index }));
  c.floodAdd.forEach((d, index) =>
    out.push({ text: `fdb append ${ZERO_MAC} dev ${dev} dst ${d} self permanent`, list: 'floodAdd', index, okIf: EEXIST }),
  );
  return out;
}

export function neighLines(dev: string, c: NormalChanges): Line[] {
  const out: Line[] = [];
  c.neighSet.forEach((e, index) => out.push({ text: `neigh replace ${e.ip} lladdr ${e.mac} dev ${dev} nud permanent`, list: 'neighSet', index }));
  c.neighDel.forEach((ip, index) => {
    out.push({ text: `neigh replace ${ip} dev ${dev} nud failed`, list: 'neighDel', index });
    out.push({ text: `neigh del ${ip} dev ${dev}`, list: 'neighDel', index, okIf: ENOENT });
  });
  return out;
}

export function fdbDelLines(dev: string, c: NormalChanges): Line[] {
  const out: Line[] = [];
  c.fdbDel.forEach((mac, index) => out.push({ text: `fdb del ${mac} dev ${dev} self`, list: 'fdbDel', index, okIf: ENOENT }));
  c.floodDel.forEach((d, index) => out.push({ text: `fdb del ${ZERO_MAC} dev ${dev} dst ${d} self`, list: 'floodDel', index, okIf: ENOENT }));
  return out;
}

interface FdbJson {
  mac?: string;
  dst?: string;
  master?: string;
  flags?: string[];
  state?: string;
}

interface NeighJson {
  dst?: string;
  lladdr?: string;
  state?: string[];
}

/** Our entries from `bridge -j fdb show dev vx-N` and `ip -j neigh show dev vx-N nud permanent`:
 * permanent, on the device itself (`self`, with a dst); the bridge's own and learned ones are not. */
export function parseTables(fdbJson: string, neighJson: string): Tables {
  const t = emptyTables();
  for (const e of parseJsonArray<FdbJson>(fdbJson)) {
    if (e.mac === undefined || e.dst === undefined || e.master !== undefined) continue;
    if (!(e.flags ?? []).includes('self') || e.state !== 'permanent') continue;
    const mac = e.mac.toLowerCase();
    const dst = canonicalIp(e.dst, 'dst');
    if (mac === ZERO_MAC) t.flood.add(dst);
    else if (!t.fdb.has(mac)) t.fdb.set(mac, dst);
  }
  for (const e of parseJsonArray<NeighJson>(neighJson)) {
    if (e.dst === undefined || e.lladdr === undefined || !(e.state ?? []).includes('PERMANENT')) continue;
    t.neigh.set(canonicalIp(e.dst, 'ip'), e.lladdr.toLowerCase());
  }
  return t;
}

export function parseJsonArray<T>(text: string): T[] {
  const s = text.trim();
  if (s === '') return [];
  const v: unknown = JSON.parse(s);
  return Array.isArray(v) ? (v as T[]) : [];
}
