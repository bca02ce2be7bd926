import t from 'tap';
import fc from 'fast-check';
import type { Tables, TableChanges } from '../../src/dataplane/dataplane.js';
import { diffTables, emptyTables, isNoChange } from '../../src/dataplane/diff.js';

/** Applies changes to a copy, with the DataPlane's semantics (replace, append, idempotent delete). */
function applyTo(t: Tables, c: TableChanges): Tables {
  const out: Tables = { fdb: new Map(t.fdb), flood: new Set(t.flood), neigh: new Map(t.neigh) };
  for (const e of c.fdbSet ?? []) out.fdb.set(e.mac, e.dst);
  for (const d of c.floodAdd ?? []) out.flood.add(d);
  for (const e of c.neighSet ?? []) out.neigh.set(e.ip, e.mac);
  for (const ip of c.neighDel ?? []) out.neigh.delete(ip);
  for (const m of c.fdbDel ?? []) out.fdb.delete(m);
  for (const d of c.floodDel ?? []) out.flood.delete(d);
  return out;
}

const mac = fc.integer({ min: 1, max: 12 }).map((n) => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`);
const vtep = fc.integer({ min: 1, max: 5 }).map((n) => `198.18.0.${n}`);
const ip = fc.oneof(
  fc.integer({ min: 1, max: 12 }).map((n) => `100.64.0.${n}`),
  fc.integer({ min: 1, max: 6 }).map((n) => `fd00::${n.toString(16)}`),
);
const tables: fc.Arbitrary<Tables> = fc.record({
  fdb: fc.array(fc.tuple(mac, vtep), { maxLength: 10 }).map((a) => new Map(a)),
  flood: fc.array(vtep, { maxLength: 5 }).map((a) => new Set(a)),
  neigh: fc.array(fc.tuple(ip, mac), { maxLength: 10 }).map((a) => new Map(a)),
});

const sorted = (t: Tables): unknown => ({ fdb: [...t.fdb].sort(), flood: [...t.flood].sort(), neigh: [...t.neigh].sort() });

t.test('dataplane diff - applying the diff to actual gives desired, touching no equal entry', async (t) => {
  fc.assert(
    fc.property(tables, tables, (want, have) => {
      const c = diffTables(want, have);
      t.same(sorted(applyTo(have, c)), sorted(want));
      for (const e of c.fdbSet ?? []) if (have.fdb.get(e.mac) === e.dst) return false;
      for (const e of c.neighSet ?? []) if (have.neigh.get(e.ip) === e.mac) return false;
      for (const d of c.floodAdd ?? []) if (have.flood.has(d)) return false;
      for (const m of c.fdbDel ?? []) if (want.fdb.has(m)) return false;
      for (const i of c.neighDel ?? []) if (want.neigh.has(i)) return false;
      return isNoChange(diffTables(want, applyTo(have, c)));
    }),
    { numRuns: 300 },
  );
});

t.test('dataplane diff - canonicalizes keys so equal entries in other spellings are not rewritten', async (t) => {
  const want: Tables = {
    fdb: new Map([['02:00:00:00:00:AB', '198.18.0.2']]),
    flood: new Set(['198.18.0.2']),
    neigh: new Map([['FD00:0::1', '02:00:00:00:00:AB']]),
  };
  const have: Tables = {
    fdb: new Map([['02:00:00:00:00:ab', '198.18.0.2']]),
    flood: new Set(['198.18.0.2']),
    neigh: new Map([['fd00::1', '02:00:00:00:00:ab']]),
  };
  t.same(diffTables(want, have), {});
  t.same(diffTables(emptyTables(), have), { fdbDel: ['02:00:00:00:00:ab'], floodDel: ['198.18.0.2'], neighDel: ['fd00::1'] });
});

t.test('dataplane diff - a bad desired entry is INVALID_ARGUMENT naming it', async (t) => {
  const want = emptyTables();
  want.fdb.set('not-a-mac', '198.18.0.2');
  t.throws(() => diffTables(want, emptyTables()), { code: 'INVALID_ARGUMENT', field: 'desired.fdb[not-a-mac]' });
});
