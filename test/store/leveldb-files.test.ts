// The checker of LevelDB's own files (src/store/leveldb-files.ts) and its two codecs: known
// CRC-32C vectors, snappy by hand-made streams, and a sweep of flipped bytes over every live
// file of a small real store — each flip must stop the open with INTERNAL naming a file or the
// data dir, never open with something else.

import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { crc32c, maskCrc, unmaskCrc } from '../../src/store/crc32c.js';
import { SnappyError, snappyDecompress } from '../../src/store/snappy.js';
import { LevelStore } from '../../src/store/level-store.js';
import { verifyLevelFiles } from '../../src/store/leveldb-files.js';

const quiet = pino({ level: 'silent' });

t.test('leveldb files - CRC-32C matches the published check values, and masking round-trips', async (t) => {
  t.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283, 'the standard check value');
  t.equal(crc32c(new Uint8Array(32)), 0x8a9136aa, '32 zero bytes (RFC 3720 B.4)');
  t.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43, '32 0xff bytes (RFC 3720 B.4)');
  for (const c of [0, 1, 0xe3069283, 0xffffffff]) t.equal(unmaskCrc(maskCrc(c)), c);
});

t.test('leveldb files - snappy decodes literals and overlapping copies, and rejects bad streams', async (t) => {
  // "abcabcabca": length 10, literal "abc", then a 1-byte-offset copy of 7 at offset 3 (overlaps itself).
  const stream = Uint8Array.from([10, (3 - 1) << 2, 97, 98, 99, 0b001 | ((7 - 4) << 2), 3]);
  t.equal(new TextDecoder().decode(snappyDecompress(stream)), 'abcabcabca');
  t.throws(() => snappyDecompress(Uint8Array.from([10, (3 - 1) << 2, 97, 98, 99])), SnappyError, 'short output');
  t.throws(() => snappyDecompress(Uint8Array.from([4, 0b001, 5])), SnappyError, 'a copy from before the start');
  t.throws(() => snappyDecompress(Uint8Array.from([0x80])), SnappyError, 'a cut length');
});

t.test('leveldb files - an empty or missing directory has nothing to check', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vxfab-files-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.same(await verifyLevelFiles(dir), { files: 0, bytes: 0, tornTails: [] });
  t.same(await verifyLevelFiles(join(dir, 'nope')), { files: 0, bytes: 0, tornTails: [] });
});

t.test('leveldb files - every flipped byte in a real store stops the open', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'vxfab-files-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const pristine = join(root, 'pristine');
  let store = await LevelStore.open(pristine, { logger: quiet });
  for (let i = 0; i < 40; i++) await store.put(`k/${i}`, new TextEncoder().encode(`value ${i}`.repeat(8)));
  await store.close();
  store = await LevelStore.open(pristine, { logger: quiet }); // the log becomes a table
  for (let i = 40; i < 60; i++) await store.put(`k/${i}`, new TextEncoder().encode(`value ${i}`));
  await store.close();
  const report = await verifyLevelFiles(pristine);
  t.ok(report.files >= 4, `checked ${report.files} files (CURRENT, MANIFEST, a log, a table)`);

  const names = (await readdir(pristine)).filter((n) => /^(\d+\.(log|ldb|sst)|MANIFEST-\d+)$/.test(n));
  let cases = 0;
  const wrong: string[] = [];
  for (const name of names) {
    const size = (await readFile(join(pristine, name))).length;
    if (size === 0) continue;
    const stride = Math.max(1, Math.floor(size / 30));
    for (let at = 0; at < size; at += stride) {
      const dir = join(root, `c${cases++}`);
      await cp(pristine, dir, { recursive: true });
      const bytes = await readFile(join(dir, name));
      bytes[at] = bytes[at]! ^ 0x01;
      await writeFile(join(dir, name), bytes);
      const err = await LevelStore.open(dir, { logger: quiet }).then(async (s) => { await s.close(); return undefined; }, (e: unknown) => e);
      const e = err as { code?: string; field?: string; value?: string } | undefined;
      const named = e?.field === 'file' ? e.value === join(dir, name) : e?.field === 'dir' && e.value === dir;
      if (e?.code !== 'INTERNAL' || !named) wrong.push(`${name} byte ${at}: ${e ? `${e.code} ${e.field} ${e.value}` : 'opened'}`);
      await rm(dir, { recursive: true, force: true });
    }
  }
  t.ok(cases > 80, `${cases} flipped bytes`);
  t.same(wrong, [], 'each one is INTERNAL naming the file, or the data dir (a dropped acknowledged tail)');
});
