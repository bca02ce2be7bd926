// Store write throughput: synced batch commits per second for batch sizes 1, 64 and 1024 ops.
// Baseline, in the same run: raw classic-level batches with sync, one at a time: what one
// fsync per write costs on this disk. LevelStore adds the change-log entry and the counter to
// each write; with many writes in flight its group commit shares one fsync among them.
//
// Run: node dist/bench/store.js [seconds per cell, default 1]

import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Level } from 'level';
import { pino } from 'pino';
import { LevelStore } from '../src/store/level-store.js';
import type { StoreOp } from '../src/store/store.js';

const BATCH_SIZES = [1, 64, 1024];
const IN_FLIGHT = 32;
const VALUE = new Uint8Array(100).fill(7);

export interface StoreBenchRow {
  batchSize: number;
  /** Raw LevelDB synced batches, one at a time. */
  rawPerSec: number;
  /** LevelStore batches, one at a time. */
  storePerSec: number;
  /** LevelStore batches, IN_FLIGHT at a time. */
  storeConcurrentPerSec: number;
}

function ops(size: number, n: number): StoreOp[] {
  return Array.from({ length: size }, (_, i) => ({ type: 'put' as const, key: `bench/${n % 1000}/${i}`, value: VALUE }));
}

/** Runs `write(n)` with `inFlight` workers for `seconds`; returns completed writes per second. */
async function rate(seconds: number, inFlight: number, write: (n: number) => Promise<unknown>): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  let done = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) {
      await write(n++);
      done++;
    }
  }));
  return done / ((performance.now() - start) / 1000);
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'vxfab-bench-store-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runStoreBench(seconds = 1): Promise<StoreBenchRow[]> {
  const rows: StoreBenchRow[] = [];
  for (const batchSize of BATCH_SIZES) {
    const rawPerSec = await withDir(async (dir) => {
      const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
      await db.open();
      try {
        return await rate(seconds, 1, (n) => db.batch(ops(batchSize, n), { sync: true }));
      } finally {
        await db.close();
      }
    });
    const [storePerSec, storeConcurrentPerSec] = await withDir(async (dir) => {
      const store = await LevelStore.open(dir, { logger: pino({ level: 'silent' }) });
      try {
        return [await rate(seconds, 1, (n) => store.batch(ops(batchSize, n))),
          await rate(seconds, IN_FLIGHT, (n) => store.batch(ops(batchSize, n)))];
      } finally {
        await store.close();
      }
    });
    rows.push({ batchSize, rawPerSec, storePerSec: storePerSec!, storeConcurrentPerSec: storeConcurrentPerSec! });
  }
  const fmt = (x: number): string => Math.round(x).toString().padStart(10);
  const ratio = (x: number): string => x.toFixed(2).padStart(8);
  console.log(`store bench: synced batch commits/s, ${seconds}s per cell, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
  console.log(`${'ops/batch'.padStart(9)} ${'raw level'.padStart(10)} ${'store'.padStart(10)} ${'ratio'.padStart(8)} ${`store ×${IN_FLIGHT}`.padStart(10)} ${'ratio'.padStart(8)}`);
  for (const r of rows) {
    console.log(`${String(r.batchSize).padStart(9)} ${fmt(r.rawPerSec)} ${fmt(r.storePerSec)} ${ratio(r.storePerSec / r.rawPerSec)} ${fmt(r.storeConcurrentPerSec)} ${ratio(r.storeConcurrentPerSec / r.rawPerSec)}`);
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runStoreBench(Number(process.argv[2] ?? 1));
}
