import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { LevelStore } from '../../src/store/level-store.js';
import type { Store } from '../../src/store/store.js';
import { storeSuite, type SuiteOpenOptions } from './suite.js';

const tempDirs: string[] = [];
const opened = new Map<Store, { dir: string; opts: SuiteOpenOptions }>();

t.teardown(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vxfab-store-'));
  tempDirs.push(dir);
  return dir;
}

async function openIn(dir: string, opts: SuiteOpenOptions): Promise<LevelStore> {
  const store = await LevelStore.open(dir, opts);
  opened.set(store, { dir, opts });
  return store;
}

storeSuite(t, {
  name: 'level',
  durable: true,
  open: async (opts = {}) => openIn(await tempDir(), opts),
  reopen: async (old) => {
    const { dir, opts } = opened.get(old)!;
    await old.close();
    return openIn(dir, opts);
  },
});

t.test('level store - a second open of the same directory is UNAVAILABLE', async (t) => {
  const dir = await tempDir();
  const first = await LevelStore.open(dir, { logger: pino({ level: 'silent' }) });
  t.teardown(() => first.close());
  const err = await LevelStore.open(dir).then(() => undefined, (e: unknown) => e);
  t.match(err, { code: 'UNAVAILABLE', field: 'dir', value: dir });
  t.match((err as Error).message, 'is in use by another vxfab serve', 'the message says why, not LEVEL_LOCKED');
  t.equal(await first.put('a', new Uint8Array([1])), 1, 'the first store is unharmed');
});

t.test('level store - a bad logRetention is INVALID_ARGUMENT', async (t) => {
  const dir = await tempDir();
  await t.rejects(LevelStore.open(dir, { logRetention: 0 }), { code: 'INVALID_ARGUMENT', field: 'logRetention' });
});
