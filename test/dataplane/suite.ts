// One behaviour suite for every DataPlane (linux, sim), abstract-level style: each implementation
// gives a factory that builds a fresh harness per test.

import type { Test } from 'tap';
import type { DataPlane, MissEvent, NetworkSpec, Tables } from '../../src/dataplane/dataplane.js';
import { diffTables, emptyTables, isNoChange } from '../../src/dataplane/diff.js';

export interface Harness {
  dp: DataPlane;
  /** An underlay address of this host, usable as spec.local. */
  local: string;
  underlayDev?: string;
  /** Starts recording table writes of a network; the returned stop() gives one text per write
   * (containing the MAC / IP / dst it touched). */
  watchWrites(vnid: number): Promise<() => Promise<string[]>>;
  /** Makes a packet ask the network's proxy for `ip` (linux: a bounded ping through the bridge). */
  lookupIp(vnid: number, ip: string): Promise<void>;
  cleanup(): Promise<void>;
}

export type HarnessFactory = () => Promise<Harness>;

const MAC1 = '02:00:00:00:00:01';
const MAC2 = '02:00:00:00:00:02';
const MAC3 = '02:00:00:00:00:03';
const H2 = '198.18.0.2';
const H3 = '198.18.0.3';
const H4 = '198.18.0.4';

function spec(h: Harness, vnid: number, over: Partial<NetworkSpec> = {}): NetworkSpec {
  const s: NetworkSpec = { vnid, mtu: 1450, local: h.local, port: 4789, learningMisses: false, ...over };
  if (h.underlayDev !== undefined && !('underlayDev' in over)) s.underlayDev = h.underlayDev;
  return s;
}

/** Tables as plain sorted arrays, for deep equality with readable diffs. */
function plain(t: Tables): { fdb: string[][]; flood: string[]; neigh: string[][] } {
  return {
    fdb: [...t.fdb].sort(),
    flood: [...t.flood].sort(),
    neigh: [...t.neigh].sort(),
  };
}

function tables(fdb: Array<[string, string]>, flood: string[], neigh: Array<[string, string]>): Tables {
  return { fdb: new Map(fdb), flood: new Set(flood), neigh: new Map(neigh) };
}

export function dataplaneSuite(t: Test, impl: string, factory: HarnessFactory): void {
  const test = (name: string, fn: (t: Test, h: Harness) => Promise<void>): void => {
    t.test(`dataplane ${impl} - ${name}`, async (t) => {
      const h = await factory();
      t.teardown(() => h.cleanup());
      await fn(t, h);
    });
  };

  test('ensureNetwork creates once and is idempotent', async (t, h) => {
    t.same(await h.dp.ensureNetwork(spec(h, 100)), { action: 'created', differences: [] });
    t.same(await h.dp.ensureNetwork(spec(h, 100)), { action: 'unchanged', differences: [] });
    await h.dp.ensureNetwork(spec(h, 0x00ab12));
    const nets = await h.dp.listNetworks();
    t.same(
      nets.map((n) => [n.vnid, n.vxlanDev, n.bridgeDev, n.mtu, n.local, n.port, n.learningMisses, n.proxy, n.learning, n.up]),
      [
        [100, 'vx-100', 'br-100', 1450, h.local, 4789, false, true, false, true],
        [0xab12, 'vx-43794', 'br-43794', 1450, h.local, 4789, false, true, false, true],
      ],
    );
  });

  test('ensureNetwork says what differs and fixes it', async (t, h) => {
    await h.dp.ensureNetwork(spec(h, 7));
    await h.dp.apply(7, { fdbSet: [{ mac: MAC1, dst: H2 }] });

    const mtu = await h.dp.ensureNetwork(spec(h, 7, { mtu: 1400 }));
    t.equal(mtu.action, 'updated');
    t.ok(mtu.differences.includes('mtu: have 1450, want 1400'), `mtu difference in ${JSON.stringify(mtu.differences)}`);
    t.equal((await h.dp.listNetworks())[0]?.mtu, 1400);
    t.equal((await h.dp.read(7)).fdb.get(MAC1), H2, 'an in-place fix keeps the entries');

    const misses = await h.dp.ensureNetwork(spec(h, 7, { mtu: 1400, learningMisses: true }));
    t.equal(misses.action, 'recreated');
    t.same(misses.differences, ['l2miss: have off, want on', 'l3miss: have off, want on']);
    t.equal((await h.dp.listNetworks())[0]?.learningMisses, true);
    t.same(plain(await h.dp.read(7)), plain(emptyTables()), 'a recreate drops the entries (caller reprograms)');

    const port = await h.dp.ensureNetwork(spec(h, 7, { mtu: 1400, learningMisses: true, port: 4790 }));
    t.equal(port.action, 'recreated');
    t.same(port.differences, ['port: have 4789, want 4790']);
    t.same(await h.dp.ensureNetwork(spec(h, 7, { mtu: 1400, learningMisses: true, port: 4790 })), { action: 'unchanged', differences: [] });
  });

  test('ensureNetwork rejects a bad spec with the field at fault', async (t, h) => {
    const bad: Array<[Partial<NetworkSpec>, string]> = [
      [{ vnid: 1 << 24 }, 'vnid'],
      [{ vnid: -1 }, 'vnid'],
      [{ mtu: 20 }, 'mtu'],
      [{ local: '198.18.0.300' }, 'local'],
      [{ local: '224.0.0.1' }, 'local'],
      [{ port: 0 }, 'port'],
      [{ underlayDev: 'a name too long!' }, 'underlayDev'],
    ];
    for (const [over, field] of bad) {
      await t.rejects(h.dp.ensureNetwork({ ...spec(h, 5), ...over }), { code: 'INVALID_ARGUMENT', field }, `${field} ${JSON.stringify(over)}`);
    }
    t.same(await h.dp.listNetworks(), [], 'nothing was created');
  });

  test('apply sets, replaces and deletes unicast FDB entries', async (t, h) => {
    await h.dp.ensureNetwork(spec(h, 10));
    await h.dp.apply(10, { fdbSet: [{ mac: MAC1, dst: H2 }, { mac: '02:00:00:00:00:0A', dst: H3 }] });
    t.same(plain(await h.dp.read(10)), plain(tables([[MAC1, H2], ['02:00:00:00:00:0a', H3]], [], [])), 'MACs are stored lowercase');
    await h.dp.apply(10, { fdbSet: [{ mac: MAC1, dst: H4 }] });
    await h.dp.apply(10, { fdbSet: [{ mac: MAC1, dst: H4 }] });
    t.equal((await h.dp.read(10)).fdb.get(MAC1), H4, 'replace moves the MAC, repeating is harmless');
    await h.dp.apply(10, { fdbDel: ['02:00:00:00:00:0a', MAC3] });
    await h.dp.apply(10, { fdbDel: ['02:00:00:00:00:0a'] });
    t.same(plain(await h.dp.read(10)), plain(tables([[MAC1, H4]], [], [])), 'deleting a missing MAC is not an error');
  });

  test('apply appends and removes flood entries for several hosts', async (t, h) => {
    await h.dp.ensureNetwork(spec(h, 11));
    await h.dp.apply(11, { floodAdd: [H2, H3] });
    await h.dp.apply(11, { floodAdd: [H4, H3] });
    t.same(plain(await h.dp.read(11)), plain(tables([], [H2, H3, H4], [])), 'appended, a repeat adds no duplicate');
    await h.dp.apply(11, { floodDel: [H3, '198.18.0.99'] });
    t.same(plain(await h.dp.read(11)), plain(tables([], [H2, H4], [])), 'one removed, others kept, a missing one is fine');
    await h.dp.apply(11, { floodDel: [H2, H4] });
    t.same(plain(await h.dp.read(11)), plain(emptyTables()));
  });

  test('apply sets and deletes IPv4 and IPv6 neighbour entries', async (t, h) => {
    await h.dp.ensureNetwork(spec(h, 12));
    await h.dp.apply(12, {
      fdbSet: [{ mac: MAC1, dst: H2 }, { mac: MAC2, dst: H3 }],
      neighSet: [
        { ip: '100.64.1.2', mac: MAC1 },
        { ip: 'FD00:0:0::0:2', mac: MAC1 },
        { ip: '100.64.1.3', mac: MAC2 },
      ],
    });
    t.same(
      plain(await h.dp.read(12)).neigh,
      [['100.64.1.2', MAC1], ['100.64.1.3', MAC2], ['fd00::2', MAC1]],
      'IPv6 stored in RFC 5952 form',
    );
    await h.dp.apply(12, { neighSet: [{ ip: 'fd00::2', mac: MAC2 }], neighDel: ['100.64.1.3', '100.64.1.77', 'fd00::77'] });
    await h.dp.apply(12, { neighDel: ['100.64.1.3'] });
    t.same(plain(await h.dp.read(12)).neigh, [['100.64.1.2', MAC1], ['fd00::2', MAC2]], 'replace and idempotent delete');
  });

  test('read returns exactly what was programmed', async (t, h) => {
    await h.dp.ensureNetwork(spec(h, 13));
    await h.dp.ensureNetwork(spec(h, 14));
    const want = tables(
      [[MAC1, H2], [MAC2, H3]],
      [H2, H3],
      [['100.64.1.2', MAC1], ['100.64.1.3', MAC2], ['fd00::3', MAC2]],
    );
    await h.dp.apply(13, diffTables(want, emptyTables()));
    await h.dp.apply(14, { fdbSet: [{ mac: MAC3, dst: H4 }] });
    t.same(plain(await h.dp.read(13)), plain(want), 'own entries only (not the bridge port address, not other networks)');
    t.same(plain(await h.dp.read(14)), plain(tables([[MAC3, H4]], [], [])));
  });

  test('apply rejects bad input before writing anything', async (t, h) => {
    await h.dp.ensureNetwork(spec(h, 15));
    await h.dp.apply(15, { fdbSet: [{ mac: MAC1, dst: H2 }] });
    const bad: Array<[Parameters<DataPlane['apply']>[1], string]> = [
      [{ fdbSet: [{ mac: MAC2, dst: H3 }, { mac: '02:00:00:00:00', dst: H3 }] }, 'fdbSet[1].mac'],
      [{ fdbSet: [{ mac: '01:00:5e:00:00:01', dst: H3 }] }, 'fdbSet[0].mac'],
      [{ fdbSet: [{ mac: MAC2, dst: 'host' }] }, 'fdbSet[0].dst'],
      [{ neighSet: [{ ip: '100.64.1.256', mac: MAC2 }] }, 'neighSet[0].ip'],
      [{ neighDel: ['fe80::1%eth0'] }, 'neighDel[0]'],
      [{ floodAdd: ['0.0.0.0'] }, 'floodAdd[0]'],
      [{ fdbSet: [{ mac: MAC2, dst: H3 }], fdbDel: [MAC2] }, 'fdbDel[0]'],
      [{ neighSet: [{ ip: '100.64.1.9', mac: MAC1 }, { ip: '100.64.1.9', mac: MAC2 }] }, 'neighSet[1]'],
    ];
    for (const [changes, field] of bad) {
      await t.rejects(h.dp.apply(15, changes), { code: 'INVALID_ARGUMENT', field }, field);
    }
    await t.rejects(h.dp.apply(15, { fdbSet: [{ mac: MAC2, dst: 'fd00::9' }] }), { code: 'INVALID_ARGUMENT' }, 'dst family differs from local');
    t.same(plain(await h.dp.read(15)), plain(tables([[MAC1, H2]], [], [])), 'tables unchanged');
    await t.rejects(h.dp.apply(999, { fdbSet: [{ mac: MAC1, dst: H2 }] }), { code: 'NOT_FOUND', field: 'vnid' });
    await t.rejects(h.dp.read(999), { code: 'NOT_FOUND', field: 'vnid' });
  });

  test('reconcile applies only the difference and leaves live entries alone', async (t, h) => {
    await h.dp.ensureNetwork(spec(h, 16));
    const start = tables(
      [[MAC1, H2], [MAC2, H3], [MAC3, H3]],
      [H2, H3],
      [['100.64.1.1', MAC1], ['100.64.1.2', MAC2], ['100.64.1.3', MAC3], ['fd00::1', MAC1]],
    );
    await h.dp.apply(16, diffTables(start, emptyTables()));
    // MAC1 / 100.64.1.1 / fd00::1 / H2 stay; MAC2 moves to H4; MAC3 and its IP go; H3 stops flooding; MAC4 arrives.
    const MAC4 = '02:00:00:00:00:04';
    const want = tables(
      [[MAC1, H2], [MAC2, H4], [MAC4, H4]],
      [H2, H4],
      [['100.64.1.1', MAC1], ['100.64.1.2', MAC2], ['100.64.1.4', MAC4], ['fd00::1', MAC1]],
    );
    const actual = await h.dp.read(16);
    const changes = diffTables(want, actual);
    t.same(changes, {
      fdbSet: [{ mac: MAC2, dst: H4 }, { mac: MAC4, dst: H4 }],
      fdbDel: [MAC3],
      floodAdd: [H4],
      floodDel: [H3],
      neighSet: [{ ip: '100.64.1.4', mac: MAC4 }],
      neighDel: ['100.64.1.3'],
    });
    const stop = await h.watchWrites(16);
    await h.dp.apply(16, changes);
    const writes = await stop();
    for (const live of [MAC1, H2, '100.64.1.1', '100.64.1.2', 'fd00::1']) {
      t.notOk(writes.some((w) => w.includes(live)), `live entry ${live} not touched`);
    }
    for (const changed of [MAC2, MAC3, MAC4, H3, H4, '100.64.1.3', '100.64.1.4']) {
      t.ok(writes.some((w) => w.includes(changed)), `changed entry ${changed} written`);
    }
    t.same(plain(await h.dp.read(16)), plain(want));
    t.ok(isNoChange(diffTables(want, await h.dp.read(16))), 'a second reconcile has nothing to do');
  });

  test('removeNetwork removes devices and entries and is idempotent', async (t, h) => {
    await h.dp.ensureNetwork(spec(h, 17));
    await h.dp.ensureNetwork(spec(h, 18));
    await h.dp.apply(17, { fdbSet: [{ mac: MAC1, dst: H2 }], floodAdd: [H2] });
    await h.dp.removeNetwork(17);
    await h.dp.removeNetwork(17);
    await h.dp.removeNetwork(19);
    t.same((await h.dp.listNetworks()).map((n) => n.vnid), [18]);
    await t.rejects(h.dp.read(17), { code: 'NOT_FOUND' });
    t.same((await h.dp.ensureNetwork(spec(h, 17))).action, 'created');
    t.same(plain(await h.dp.read(17)), plain(emptyTables()), 'a re-created network starts empty');
  });

  test('an l3 miss is reported when misses are on, and the installed entry answers', async (t, h) => {
    await h.dp.ensureNetwork(spec(h, 20, { learningMisses: true }));
    const misses: MissEvent[] = [];
    const off = h.dp.onMiss((m) => misses.push(m));
    t.teardown(off);
    const ip = '100.64.0.50';
    for (let i = 0; i < 5 && !misses.some((m) => m.ip === ip); i++) await h.lookupIp(20, ip);
    t.match(misses.find((m) => m.ip === ip), { vnid: 20, kind: 'l3', ip }, 'miss names network, kind and IP');
    await h.dp.apply(20, { neighSet: [{ ip, mac: MAC1 }] });
    t.equal((await h.dp.read(20)).neigh.get(ip), MAC1);
  });
}
