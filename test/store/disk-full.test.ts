// A disk-full episode loses nothing that was acknowledged. On a small tmpfs this test mounts:
// writes go on until the filesystem is full and they fail (ENOSPC); writes while the store is not
// known good are refused (UNAVAILABLE); space comes back; once the store has reopened LevelDB
// and checked it, 200 more writes are acknowledged; a clean restart has every acknowledged write.
// Before the fix, LevelDB went on appending after the torn record of the failed write and its
// next recovery dropped everything written after it, quietly.

import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { LevelStore } from '../../src/store/level-store.js';
import type { StoreOp } from '../../src/store/store.js';
import { isVxfabError } from '../../src/model/errors.js';

const TMPFS_SIZE = '4m';
const AFTER = 200;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const quiet = pino({ level: process.env.VXFAB_TEST_LOG ?? 'silent' });

function ops(n: number): StoreOp[] {
  // NIC-sized values, a few keys a batch.
  return [0, 1, 2].map((j) => ({ type: 'put' as const, key: `i/${n}/${j}`, value: encoder.encode(`${n}/${j} `.padEnd(300, 'v')) }));
}

/** Fills the filesystem with one file until write() fails; returns its path. */
async function fill(mount: string): Promise<string> {
  const path = join(mount, 'filler');
  const handle = await open(path, 'w');
  const chunk = new Uint8Array(64 * 1024).fill(1);
  try {
    for (let i = 0; i < 10_000; i++) {
      try {
        await handle.write(chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        // Page-sized writes take whatever is left below a chunk.
        for (let j = 0; j < 64; j++) await handle.write(chunk.subarray(0, 1024)).catch(() => undefined);
        return path;
      }
    }
    throw new Error('the tmpfs never filled');
  } finally {
    await handle.close();
  }
}

const root = process.getuid?.() === 0;

t.test('store disk full - no acknowledged write is lost, and writes wait until the store is known good', { skip: root ? false : 'needs root to mount a tmpfs' }, async (t) => {
  const mount = await mkdtemp(join(tmpdir(), 'vxfab-diskfull-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE}`, 'tmpfs', mount]);
  let store: LevelStore | undefined;
  t.teardown(async () => {
    await store?.close().catch(() => undefined);
    try {
      execFileSync('umount', ['-l', mount]);
    } finally {
      await rm(mount, { recursive: true, force: true });
    }
  });
  const dir = join(mount, 'data');
  store = await LevelStore.open(dir, { logger: quiet });
  const acked: number[] = [];
  let next = 1;
  for (; next <= 50; next++) acked.push(await store.batch(ops(next)));

  const filler = await fill(mount);
  // Write until a write fails; several in flight, as a busy controller does.
  let failure: unknown;
  for (let round = 0; round < 1000 && failure === undefined; round++) {
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => store!.batch(ops(next++))));
    for (const r of results) {
      if (r.status === 'fulfilled') acked.push(r.value);
      else failure ??= r.reason;
    }
  }
  t.ok(isVxfabError(failure), 'a write failed once the disk was full');
  t.match(String((failure as Error).message), /No space left|ENOSPC/i, `the failure says why: ${String((failure as Error).message).slice(0, 160)}`);
  const lastBefore = store.revision;
  t.equal(lastBefore, Math.max(...acked), 'the revision is the last acknowledged write');
  await t.rejects(store.batch(ops(next++)), { code: 'UNAVAILABLE', field: 'dir', value: dir }, 'a write while not known good is refused');
  await t.rejects(store.put('x', encoder.encode('x')), { code: 'UNAVAILABLE' }, 'and so is the next');

  await rm(filler);
  // The store reopens LevelDB on a write at most once a second: retry, bounded.
  let resumed: number | undefined;
  for (let i = 0; i < 100 && resumed === undefined; i++) {
    try {
      resumed = await store.batch(ops(next));
    } catch (err) {
      if (!isVxfabError(err, 'UNAVAILABLE')) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  t.equal(resumed, lastBefore + 1, 'once space is back, writes resume at the next revision: the failed write left nothing');
  acked.push(resumed!);
  next++;
  for (let i = 0; i < AFTER; i++) acked.push(await store.batch(ops(next++)));
  const ackedRevision = store.revision;
  await store.close();

  store = await LevelStore.open(dir, { logger: quiet });
  t.equal(store.revision, ackedRevision, 'the restart keeps the revision');
  // Revision r holds batch n for the n it was written with; check the values by key.
  const present = new Set<string>();
  for await (const [key, value] of store.scan('i/')) {
    const n = key.split('/')[1]!;
    if (decoder.decode(value).startsWith(`${n}/`)) present.add(key);
  }
  t.equal(present.size, acked.length * 3, `all ${acked.length} acknowledged batches are present (${AFTER} of them after the episode)`);
  const log = await store.changes(0);
  t.same(log.changes.map((c) => c.revision), Array.from({ length: ackedRevision }, (_, i) => i + 1), 'the change log is whole');
});
