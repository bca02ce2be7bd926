// A damaged LevelDB directory never opens quietly with data missing. Each case builds a real
// store, closes it cleanly (so LevelDB's files are final), damages one file in a set way, and
// opens again: the open fails with a typed error naming the file (or, for a cut log, the data
// dir and the marker), or — for a torn last record that was never acknowledged — opens with
// every acknowledged write present.

import { cp, mkdtemp, readdir, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { LevelStore } from '../../src/store/level-store.js';
import { MARKER_FILE } from '../../src/store/revision-marker.js';

const quiet = pino({ level: 'silent' });
const BATCHES = 230;
const KEYS_PER_BATCH = 10; // 2,300 NIC-sized values, as in the report
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const root = await mkdtemp(join(tmpdir(), 'vxfab-integrity-'));
t.teardown(() => rm(root, { recursive: true, force: true }));
let copies = 0;

function value(batch: number, j: number): Uint8Array {
  return encoder.encode(`nic ${batch}/${j} `.padEnd(120, 'x'));
}

async function writeBatches(dir: string, from: number, to: number): Promise<void> {
  const store = await LevelStore.open(dir, { logger: quiet });
  try {
    await Promise.all(Array.from({ length: to - from + 1 }, (_, i) => {
      const b = from + i;
      return store.batch(Array.from({ length: KEYS_PER_BATCH }, (_, j) => ({ type: 'put' as const, key: `i/${b}/${j}`, value: value(b, j) })));
    }));
  } finally {
    await store.close();
  }
}

/** Opens a store and checks that every batch 1..upTo is there, whole. */
async function checkAll(t: Test, dir: string, upTo: number): Promise<void> {
  const store = await LevelStore.open(dir, { logger: quiet });
  try {
    t.equal(store.revision, upTo, `revision ${upTo}`);
    let found = 0;
    for await (const [key, v] of store.scan('i/')) {
      const [, b, j] = key.split('/');
      if (decoder.decode(v) === decoder.decode(value(Number(b), Number(j)))) found++;
    }
    t.equal(found, upTo * KEYS_PER_BATCH, 'every acknowledged value is there, unchanged');
  } finally {
    await store.close();
  }
}

// Two pristine stores: "logged" has its data only in LevelDB's write-ahead log (LevelDB does not
// flush the memtable on close); "tabled" was reopened once, which turns the log into a table.
const logged = join(root, 'logged');
await writeBatches(logged, 1, BATCHES);
const tabled = join(root, 'tabled');
await cp(logged, tabled, { recursive: true });
await (await LevelStore.open(tabled, { logger: quiet })).close();

async function copyOf(pristine: string): Promise<string> {
  const dir = join(root, `case-${++copies}`);
  await cp(pristine, dir, { recursive: true });
  return dir;
}

async function fileOf(dir: string, re: RegExp): Promise<string> {
  const names = (await readdir(dir)).filter((n) => re.test(n));
  const sizes = await Promise.all(names.map(async (n) => ({ n, size: (await readFile(join(dir, n))).length })));
  const largest = sizes.sort((a, b) => b.size - a.size)[0];
  if (largest === undefined || largest.size === 0) throw new Error(`no non-empty ${re} in ${dir}`);
  return join(dir, largest.n);
}

async function flipByte(path: string, at: (size: number) => number): Promise<number> {
  const bytes = await readFile(path);
  const offset = at(bytes.length);
  bytes[offset] = bytes[offset]! ^ 0x20;
  await writeFile(path, bytes);
  return offset;
}

const fractions = [0.01, 0.3, 0.5, 0.77, 0.999];

t.test('store integrity - the pristine stores open with everything', async (t) => {
  await checkAll(t, await copyOf(logged), BATCHES);
  await checkAll(t, await copyOf(tabled), BATCHES);
});

t.test('store integrity - a flipped byte in the write-ahead log fails the open, naming the .log', async (t) => {
  for (const f of fractions) {
    const dir = await copyOf(logged);
    const log = await fileOf(dir, /^\d+\.log$/);
    const offset = await flipByte(log, (n) => Math.floor(n * f));
    await t.rejects(LevelStore.open(dir, { logger: quiet }), { code: 'INTERNAL', field: 'file', value: log }, `byte ${offset} of ${log}`);
  }
});

t.test('store integrity - a flipped byte anywhere in a table fails the open, naming the .ldb', async (t) => {
  for (const f of [...fractions, 1]) {
    const dir = await copyOf(tabled);
    const table = await fileOf(dir, /^\d+\.(ldb|sst)$/);
    // f = 1: the last byte, inside the footer's magic number.
    const offset = await flipByte(table, (n) => Math.min(n - 1, Math.floor(n * f)));
    await t.rejects(LevelStore.open(dir, { logger: quiet }), { code: 'INTERNAL', field: 'file', value: table }, `byte ${offset} of ${table}`);
  }
});

t.test('store integrity - a flipped byte in the MANIFEST fails the open, naming it', async (t) => {
  for (const f of [0.2, 0.5, 0.9]) {
    const dir = await copyOf(tabled);
    const manifest = await fileOf(dir, /^MANIFEST-\d+$/);
    const offset = await flipByte(manifest, (n) => Math.floor(n * f));
    await t.rejects(LevelStore.open(dir, { logger: quiet }), { code: 'INTERNAL', field: 'file', value: manifest }, `byte ${offset} of ${manifest}`);
  }
});

t.test('store integrity - a table or CURRENT that is gone fails the open, naming it', async (t) => {
  let dir = await copyOf(tabled);
  const table = await fileOf(dir, /^\d+\.(ldb|sst)$/);
  await unlink(table);
  await t.rejects(LevelStore.open(dir, { logger: quiet }), { code: 'INTERNAL', field: 'file', value: table });
  dir = await copyOf(tabled);
  // Without CURRENT, LevelDB would create a new, empty database beside the old files.
  await unlink(join(dir, 'CURRENT'));
  await t.rejects(LevelStore.open(dir, { logger: quiet }), { code: 'INTERNAL', field: 'file', value: join(dir, 'CURRENT') });
});

t.test('store integrity - a log cut in the middle fails the open: acknowledged writes are missing', async (t) => {
  for (const f of [0.25, 0.6]) {
    const dir = await copyOf(logged);
    const log = await fileOf(dir, /^\d+\.log$/);
    const size = (await readFile(log)).length;
    await truncate(log, Math.floor(size * f));
    const err = await LevelStore.open(dir, { logger: quiet }).then(() => undefined, (e: unknown) => e);
    t.match(err, { code: 'INTERNAL', field: 'dir', value: dir }, `log cut to ${f} of its size`);
    t.match((err as Error).message, log, 'the message names the cut log file');
    t.match((err as Error).message, MARKER_FILE, 'and the marker that shows writes were acknowledged');
  }
});

t.test('store integrity - every LevelDB file gone is missing data, not a new empty store', async (t) => {
  const dir = await copyOf(tabled);
  for (const name of await readdir(dir)) if (name !== MARKER_FILE) await rm(join(dir, name));
  await t.rejects(LevelStore.open(dir, { logger: quiet }), { code: 'INTERNAL', field: 'dir', value: dir });
});

t.test('store integrity - a torn last record drops only what was never acknowledged', async (t) => {
  // State a crash leaves mid-write: LevelDB's log holds revision N+1 partly, and the marker still
  // says N, because a write is acknowledged (and the marker moved) only after LevelDB's sync.
  const dir = await copyOf(tabled);
  const markerAtN = await readFile(join(dir, MARKER_FILE));
  await writeBatches(dir, BATCHES + 1, BATCHES + 1); // the write the crash interrupts
  const log = await fileOf(dir, /^\d+\.log$/);
  const size = (await readFile(log)).length;
  await truncate(log, size - 5);

  const acknowledged = await copyOf(dir); // here N+1 was acknowledged: dropping it is loss
  await t.rejects(LevelStore.open(acknowledged, { logger: quiet }), { code: 'INTERNAL', field: 'dir', value: acknowledged },
    'with the marker at N+1 the cut is an error');

  await writeFile(join(dir, MARKER_FILE), markerAtN);
  await checkAll(t, dir, BATCHES);
  const store = await LevelStore.open(dir, { logger: quiet });
  t.teardown(() => store.close());
  t.equal(await store.put('after', encoder.encode('x')), BATCHES + 1, 'writes go on from the last whole revision');
});
