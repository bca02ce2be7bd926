// The store contract as one suite (in the manner of abstract-level's shared tests): every
// backend runs it through its own factory, and capability flags pick the parts that apply.

import type { Test } from 'tap';
import { pino, type Logger } from 'pino';
import type { Change, Store, StoreOp } from '../../src/store/store.js';

export interface SuiteOpenOptions {
  logRetention?: number;
  logger?: Logger;
}

export interface StoreSuiteOptions {
  name: string;
  /** A fresh, empty store. The suite closes every store it opens. */
  open: (options?: SuiteOpenOptions) => Promise<Store>;
  /** Closes `old` and opens the same data again; only for backends that persist. */
  reopen?: (old: Store) => Promise<Store>;
  /** Acknowledged writes survive the process. */
  durable: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (s: string): Uint8Array => encoder.encode(s);
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : decoder.decode(b));
const quiet = pino({ level: 'silent' });

/** Ops with values as text, so assertions compare plain objects whatever buffer type came back. */
function plain(ops: StoreOp[]): { type: string; key: string; value?: string }[] {
  return ops.map((op) => (op.type === 'put' ? { type: op.type, key: op.key, value: text(op.value)! } : { type: op.type, key: op.key }));
}

async function collect(it: AsyncIterable<[string, Uint8Array]>): Promise<[string, string][]> {
  const rows: [string, string][] = [];
  for await (const [k, v] of it) rows.push([k, text(v)!]);
  return rows;
}

/** LevelDB's order: UTF-8 bytes. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function storeSuite(t: Test, opts: StoreSuiteOptions): void {
  const open = async (tt: Test, options: SuiteOpenOptions = {}): Promise<Store> => {
    const store = await opts.open({ logger: quiet, ...options });
    tt.teardown(() => store.close());
    return store;
  };
  const reopen = async (tt: Test, old: Store): Promise<Store> => {
    const store = await opts.reopen!(old);
    tt.teardown(() => store.close());
    return store;
  };
  const name = (what: string): string => `${opts.name} store - ${what}`;

  t.test(name('put, get and del, each a new revision'), async (t) => {
    const s = await open(t);
    t.equal(s.revision, 0, 'an empty store is at revision 0');
    t.equal(await s.get('a'), undefined);
    t.equal(await s.put('a', bytes('1')), 1);
    t.equal(text(await s.get('a')), '1');
    t.equal(await s.put('a', bytes('2')), 2, 'overwriting is a write');
    t.equal(text(await s.get('a')), '2');
    t.equal(await s.del('a'), 3);
    t.equal(await s.get('a'), undefined);
    t.equal(await s.del('a'), 4, 'deleting a missing key is still a write');
    t.equal(s.revision, 4);
    t.equal(await s.put('empty', new Uint8Array(0)), 5);
    t.same(await s.get('empty'), new Uint8Array(0), 'an empty value is a value, not a deletion');
  });

  t.test(name('a stored value is a copy of the caller\'s buffer'), async (t) => {
    const s = await open(t);
    const value = bytes('abc');
    const ops: StoreOp[] = [{ type: 'put', key: 'k', value }];
    const pending = s.batch(ops);
    value[0] = 0x7a;
    ops.length = 0;
    await pending;
    t.equal(text(await s.get('k')), 'abc');
    t.same(plain((await s.changes(0)).changes[0]!.ops), [{ type: 'put', key: 'k', value: 'abc' }]);
  });

  t.test(name('batch applies all its ops as one revision'), async (t) => {
    const s = await open(t);
    await s.put('c', bytes('old'));
    const rev = await s.batch([
      { type: 'put', key: 'a', value: bytes('A') },
      { type: 'put', key: 'b', value: bytes('B') },
      { type: 'del', key: 'c' },
      { type: 'put', key: 'b', value: bytes('B2') },
    ]);
    t.equal(rev, 2);
    t.equal(text(await s.get('a')), 'A');
    t.equal(text(await s.get('b')), 'B2', 'later ops in a batch win');
    t.equal(await s.get('c'), undefined);
  });

  t.test(name('a batch with one bad op applies nothing'), async (t) => {
    const s = await open(t);
    await s.put('x', bytes('1'));
    await t.rejects(s.batch([
      { type: 'put', key: 'a', value: bytes('A') },
      { type: 'put', key: '\u0000meta/revision', value: bytes('99') },
    ]), { code: 'INVALID_ARGUMENT', field: 'ops[1].key', value: '\u0000meta/revision' });
    await t.rejects(s.batch([{ type: 'del', key: 'x' }, { type: 'put', key: 'y', value: 'nope' as unknown as Uint8Array }]),
      { code: 'INVALID_ARGUMENT', field: 'ops[1].value' });
    await t.rejects(s.batch([{ type: 'move', key: 'x' } as unknown as StoreOp]), { code: 'INVALID_ARGUMENT', field: 'ops[0].type' });
    await t.rejects(s.batch('x' as unknown as StoreOp[]), { code: 'INVALID_ARGUMENT', field: 'ops' });
    t.equal(await s.get('a'), undefined);
    t.equal(text(await s.get('x')), '1');
    t.equal(s.revision, 1, 'rejected batches use no revision');
    t.equal(await s.put('z', bytes('z')), 2);
  });

  t.test(name('an empty batch is a write with no ops'), async (t) => {
    const s = await open(t);
    await s.put('a', bytes('1'));
    t.equal(await s.batch([]), 2);
    t.same((await s.changes(1)).changes.map((c) => ({ revision: c.revision, ops: c.ops.length })), [{ revision: 2, ops: 0 }]);
    t.equal(text(await s.get('a')), '1');
  });

  t.test(name('reserved and malformed keys are rejected, naming the key'), async (t) => {
    const s = await open(t);
    const reserved = '\u0000log/0000000000000001';
    const err = { code: 'INVALID_ARGUMENT', field: 'key', value: reserved };
    await t.rejects(s.put(reserved, bytes('x')), err);
    await t.rejects(s.del(reserved), err);
    await t.rejects(s.get(reserved), err);
    await t.rejects(s.put('\u0000', bytes('x')), { code: 'INVALID_ARGUMENT', field: 'key' });
    await t.rejects(s.put('', bytes('x')), { code: 'INVALID_ARGUMENT', field: 'key', value: '' });
    await t.rejects(s.put('bad\ud800', bytes('x')), { code: 'INVALID_ARGUMENT', field: 'key' });
    await t.rejects(s.put('k', 'text' as unknown as Uint8Array), { code: 'INVALID_ARGUMENT', field: 'value' });
    t.throws(() => s.scan('\u0000'), { code: 'INVALID_ARGUMENT', field: 'prefix' });
    t.throws(() => s.scan('', { limit: 0 }), { code: 'INVALID_ARGUMENT', field: 'limit' });
    await t.rejects(s.changes(-1), { code: 'INVALID_ARGUMENT', field: 'after' });
    await t.rejects(s.changes(0, 0), { code: 'INVALID_ARGUMENT', field: 'limit' });
    await t.rejects(s.compact(1.5), { code: 'INVALID_ARGUMENT', field: 'keepFrom' });
    const rejected = await s.put(reserved, bytes('x')).catch((e: Error) => e);
    t.match((rejected as Error).message, 'key', 'the message names the field');
    t.equal(s.revision, 0, 'nothing was written');
  });

  t.test(name('internal keys never show in a scan'), async (t) => {
    const s = await open(t);
    await s.put('a', bytes('1'));
    await s.batch([{ type: 'put', key: 'b', value: bytes('2') }, { type: 'del', key: 'a' }]);
    await s.put('\u0001low', bytes('3'));
    t.same(await collect(s.scan('')), [['\u0001low', '3'], ['b', '2']]);
    t.same(await collect(s.scan('', { after: '' })), [['\u0001low', '3'], ['b', '2']], 'after "" starts at the first user key');
    t.same(await collect(s.scan('', { after: '\u0000zzz' })), [['\u0001low', '3'], ['b', '2']]);
  });

  t.test(name('scan lists a prefix in UTF-8 byte order, with after and limit'), async (t) => {
    const s = await open(t);
    // U+FF5E sorts before U+1F600 in UTF-8 though not in UTF-16 code units.
    // Inserted in this (unsorted) order.
    const keys = ['n/b', 'n/a', 'n/', 'n/\u{1F600}', 'n/\uFF5E', 'n/é', 'n/a/x', 'n0', 'm/z', 'n', 'o'];
    for (const [i, k] of keys.entries()) await s.put(k, bytes(String(i)));
    const expected = keys.filter((k) => k.startsWith('n/')).sort(byteOrder);
    const all = (await collect(s.scan('n/'))).map(([k]) => k);
    t.same(all, expected);
    t.same((await collect(s.scan('n/', { limit: 2 }))).map(([k]) => k), expected.slice(0, 2));
    t.same((await collect(s.scan('n/', { after: 'n/a' }))).map(([k]) => k), expected.slice(expected.indexOf('n/a') + 1));
    t.same((await collect(s.scan('n/', { after: 'a' }))).map(([k]) => k), expected, 'after below the prefix starts at the prefix');
    t.same(await collect(s.scan('n/', { after: 'z' })), [], 'after beyond the prefix lists nothing');
    t.same(await collect(s.scan('q')), []);
    const paged: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await collect(s.scan('n/', { limit: 3, ...(after === undefined ? {} : { after }) }));
      if (page.length === 0) break;
      paged.push(...page.map(([k]) => k));
      after = page[page.length - 1]![0];
    }
    t.same(paged, expected, 'paging with after and limit visits every key once');
    t.same((await collect(s.scan(''))).map(([k]) => k), [...keys].sort(byteOrder));
  });

  t.test(name('a scan is not disturbed by writes made while it runs'), async (t) => {
    const s = await open(t);
    for (let i = 0; i < 20; i++) await s.put(`k/${String(i).padStart(2, '0')}`, bytes(String(i)));
    const seen: string[] = [];
    for await (const [k] of s.scan('k/')) {
      seen.push(k);
      if (seen.length === 5) await s.del('k/10');
    }
    t.ok(seen.length === 19 || seen.length === 20, `saw ${seen.length} keys, each once`);
    t.same(seen, [...new Set(seen)].sort(byteOrder));
  });

  t.test(name('changes lists every batch after a revision, in order'), async (t) => {
    const s = await open(t);
    const written: { revision: number; ops: StoreOp[] }[] = [];
    for (let i = 1; i <= 12; i++) {
      const ops: StoreOp[] = i % 4 === 0
        ? [{ type: 'del', key: `k${i - 1}` }]
        : [{ type: 'put', key: `k${i}`, value: bytes(`v${i}`) }, { type: 'put', key: `j${i}`, value: bytes(`w${i}`) }];
      written.push({ revision: await s.batch(ops), ops });
    }
    const expect = (from: number, to: number) => written.slice(from, to).map((c) => ({ revision: c.revision, ops: plain(c.ops) }));
    const got = (r: { changes: Change[] }) => r.changes.map((c) => ({ revision: c.revision, ops: plain(c.ops) }));

    const all = await s.changes(0);
    t.same(got(all), expect(0, 12));
    t.same({ compacted: all.compacted, oldest: all.oldest, current: all.current }, { compacted: false, oldest: 1, current: 12 });
    t.same(got(await s.changes(5)), expect(5, 12), 'after 5: revisions 6..12');
    t.same(got(await s.changes(5, 3)), expect(5, 8), 'limit 3: revisions 6..8');
    t.same(got(await s.changes(11, 100)), expect(11, 12));
    const none = await s.changes(12);
    t.same({ n: none.changes.length, compacted: none.compacted, current: none.current }, { n: 0, compacted: false, current: 12 });
    const ahead = await s.changes(50);
    t.same({ n: ahead.changes.length, compacted: ahead.compacted }, { n: 0, compacted: false }, 'after a future revision: nothing yet');
  });

  t.test(name('an empty store has an empty log'), async (t) => {
    const s = await open(t);
    const r = await s.changes(0);
    t.same(r, { changes: [], compacted: false, oldest: 0, current: 0 });
  });

  t.test(name('compaction drops old log entries and reports compacted'), async (t) => {
    const s = await open(t);
    for (let i = 1; i <= 10; i++) await s.put(`k${i}`, bytes(String(i)));
    await s.compact(4);
    const before = await s.changes(2);
    t.same({ n: before.changes.length, compacted: before.compacted, oldest: before.oldest, current: before.current },
      { n: 0, compacted: true, oldest: 4, current: 10 }, 'revision 3 is gone: resync');
    t.equal((await s.changes(0)).compacted, true);
    const edge = await s.changes(3);
    t.equal(edge.compacted, false, 'after 3 needs revision 4, which is kept');
    t.same(edge.changes.map((c) => c.revision), [4, 5, 6, 7, 8, 9, 10]);
    await s.compact(2);
    t.equal((await s.changes(3)).oldest, 4, 'compacting to an earlier point changes nothing');
    t.equal(text(await s.get('k1')), '1', 'compaction never touches data');

    await s.compact(1000);
    const empty = await s.changes(10);
    t.same(empty, { changes: [], compacted: false, oldest: 0, current: 10 }, 'compacting past the end empties the log');
    t.equal((await s.changes(9)).compacted, true);
    await s.put('k11', bytes('11'));
    const resumed = await s.changes(10);
    t.same({ revs: resumed.changes.map((c) => c.revision), compacted: resumed.compacted, oldest: resumed.oldest },
      { revs: [11], compacted: false, oldest: 11 }, 'a compaction does not swallow later writes');
  });

  t.test(name('the log keeps the last logRetention revisions by itself'), async (t) => {
    const s = await open(t, { logRetention: 10 });
    for (let i = 1; i <= 60; i++) await s.put(`k${i % 7}`, bytes(String(i)));
    // Background compaction may trail the writes; wait for it, bounded.
    for (let i = 0; i < 500 && !(await s.changes(0, 1)).compacted; i++) await new Promise((r) => setTimeout(r, 10));
    const r = await s.changes(0, 1);
    t.equal(r.compacted, true, 'old revisions were compacted');
    t.ok(r.oldest <= 51, `at least the last 10 revisions kept (oldest ${r.oldest})`);
    t.ok(r.oldest >= 40, `not much more than 10 + a tenth kept (oldest ${r.oldest})`);
    const recent = await s.changes(50);
    t.same({ revs: recent.changes.map((c) => c.revision), compacted: recent.compacted },
      { revs: [51, 52, 53, 54, 55, 56, 57, 58, 59, 60], compacted: false });
  });

  t.test(name('onCommit sees each write once, in revision order, before its promise resolves'), async (t) => {
    const s = await open(t);
    const seen: Change[] = [];
    const stop = s.onCommit((c) => seen.push(c));
    const count = 300;
    const writes = Array.from({ length: count }, (_, i) => {
      const ops: StoreOp[] = i % 5 === 0
        ? [{ type: 'del', key: `k${i - 1}` }]
        : Array.from({ length: 1 + (i % 3) }, (_, j) => ({ type: 'put' as const, key: `k${i}/${j}`, value: bytes(`${i}`) }));
      return s.batch(ops).then((rev) => {
        const change = seen.find((c) => c.revision === rev);
        return { i, rev, ops, heardFirst: change !== undefined, sameOps: change !== undefined && JSON.stringify(plain(change.ops)) === JSON.stringify(plain(ops)) };
      });
    });
    const results = await Promise.all(writes);
    t.same(seen.map((c) => c.revision), Array.from({ length: count }, (_, i) => i + 1), 'listener heard 1..300 in order');
    t.same(results.map((r) => r.rev), Array.from({ length: count }, (_, i) => i + 1), 'revisions follow call order');
    t.equal(results.filter((r) => r.heardFirst).length, count, 'listener ran before each promise resolved');
    t.equal(results.filter((r) => r.sameOps).length, count, 'listener got each batch\'s own ops');
    const logged = await s.changes(0);
    t.same(logged.changes.map((c) => c.revision), seen.map((c) => c.revision), 'the log agrees with the listener');
    stop();
    await s.put('after', bytes('x'));
    t.equal(seen.length, count, 'no calls after unsubscribe');
  });

  t.test(name('a listener that writes does not reorder what other listeners hear'), async (t) => {
    const s = await open(t);
    const first: number[] = [];
    const second: number[] = [];
    const echoes: Promise<number>[] = [];
    s.onCommit((c) => {
      first.push(c.revision);
      const op = c.ops[0]!;
      if (op.key.startsWith('in/')) echoes.push(s.put(`echo/${op.key}`, bytes('e')));
    });
    s.onCommit((c) => second.push(c.revision));
    await Promise.all([s.put('in/1', bytes('1')), s.put('in/2', bytes('2'))]);
    await Promise.all(echoes);
    t.same(first, [1, 2, 3, 4]);
    t.same(second, [1, 2, 3, 4], 'the second listener hears every revision in order too');
  });

  t.test(name('a throwing listener does not stop other listeners or the write'), async (t) => {
    const s = await open(t);
    const heard: number[] = [];
    s.onCommit(() => {
      throw new Error('listener bug');
    });
    s.onCommit((c) => heard.push(c.revision));
    t.equal(await s.put('a', bytes('1')), 1);
    t.equal(await s.put('b', bytes('2')), 2);
    t.same(heard, [1, 2]);
  });

  t.test(name('writes and reads after close are UNAVAILABLE'), async (t) => {
    const s = await open(t);
    await s.put('a', bytes('1'));
    const pending = s.put('b', bytes('2'));
    await s.close();
    t.equal(await pending, 2, 'a write accepted before close completes');
    await t.rejects(s.put('c', bytes('3')), { code: 'UNAVAILABLE' });
    await t.rejects(s.del('a'), { code: 'UNAVAILABLE' });
    await t.rejects(s.batch([{ type: 'del', key: 'a' }]), { code: 'UNAVAILABLE' });
    await t.rejects(s.get('a'), { code: 'UNAVAILABLE' });
    await t.rejects(s.changes(0), { code: 'UNAVAILABLE' });
    await t.rejects(s.compact(1), { code: 'UNAVAILABLE' });
    t.throws(() => s.scan(''), { code: 'UNAVAILABLE' });
    t.equal(s.revision, 2);
    await s.close(); // closing twice is harmless
  });

  t.test(name('reopening keeps data, revision, log and compaction point'), { skip: opts.reopen ? false : 'backend does not persist' }, async (t) => {
    t.ok(opts.durable, 'a backend that reopens says it is durable');
    let s = await open(t);
    for (let i = 1; i <= 8; i++) await s.batch([{ type: 'put', key: `k/${i}`, value: bytes(`v${i}`) }, { type: 'del', key: `k/${i - 1}` }]);
    await s.compact(3);
    const before = await s.changes(2);
    s = await reopen(t, s);
    t.equal(s.revision, 8);
    t.same(await collect(s.scan('k/')), [['k/8', 'v8']]);
    const after = await s.changes(2);
    t.same(after.changes.map((c) => ({ revision: c.revision, ops: plain(c.ops) })),
      before.changes.map((c) => ({ revision: c.revision, ops: plain(c.ops) })));
    t.equal(after.oldest, 3);
    t.equal((await s.changes(1)).compacted, true, 'compacted revisions stay compacted');
    t.equal(await s.put('k/9', bytes('v9')), 9, 'revisions continue where they stopped');

    await s.compact(100);
    s = await reopen(t, s);
    t.same(await s.changes(9), { changes: [], compacted: false, oldest: 0, current: 9 }, 'a fully compacted log reopens empty');
    t.equal((await s.changes(8)).compacted, true);
    t.equal(await s.put('k/10', bytes('v10')), 10);
    t.same((await s.changes(9)).changes.map((c) => c.revision), [10]);
  });
}
