// Kill -9 a process that is writing to a LevelStore, reopen, and check that every acknowledged
// write is there, no batch is half there, and the counter and change log agree. Several rounds
// on the same directory, so each round also recovers from the previous crash.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { pino } from 'pino';
import { LevelStore } from '../../src/store/level-store.js';
import { batchOps, KEYS } from './fixtures/batches.js';

const WRITER = fileURLToPath(new URL('./fixtures/writer.js', import.meta.url));
const ROUNDS = 3;
const MIN_ACKS = 300; // acknowledged writes per round before the kill (plus a random extra)
const ROUND_TIMEOUT_MS = 60_000;

const decoder = new TextDecoder();

interface Round {
  start: number;
  acks: number[];
}

/** Runs the writer until it has acknowledged `want` writes, then SIGKILLs it. */
function runAndKill(dir: string, want: number, children: Set<ChildProcess>): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const round: Round = { start: -1, acks: [] };
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer gave ${round.acks.length} acks in ${ROUND_TIMEOUT_MS} ms; stderr: ${stderr}`));
    }, ROUND_TIMEOUT_MS);
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [word, n] = line.split(' ');
      if (word === 'ready') round.start = Number(n);
      else if (word === 'ack' && !killed) {
        round.acks.push(Number(n));
        if (round.acks.length >= want) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (signal === 'SIGKILL' && killed) resolve(round);
      else reject(new Error(`writer exited early (code ${code}, signal ${signal}) after ${round.acks.length} acks; stderr: ${stderr}`));
    });
  });
}

t.test('store durability - acknowledged batches survive SIGKILL, whole and logged', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vxfab-durability-'));
  const children = new Set<ChildProcess>();
  t.teardown(async () => {
    for (const child of children) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  let previous = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const want = MIN_ACKS + Math.floor(Math.random() * 200);
    const { start, acks } = await runAndKill(dir, want, children);
    const store = await LevelStore.open(dir, { logger: pino({ level: 'silent' }) });
    try {
      const revision = store.revision;
      const maxAck = Math.max(...acks);
      t.equal(start, previous, `round ${round}: the writer reopened at the last recovered revision`);
      t.same(acks, acks.map((_, i) => start + 1 + i), `round ${round}: ${acks.length} acks, in revision order`);
      t.ok(revision >= maxAck, `round ${round}: revision ${revision} covers every ack (max ${maxAck})`);

      // Every batch up to the revision is whole, none after it is there at all.
      const values = new Map<string, string>();
      for await (const [key, value] of store.scan('b/')) values.set(key, decoder.decode(value));
      let whole = 0;
      for (let r = 1; r <= revision; r++) {
        let ok = true;
        for (let j = 0; j < KEYS; j++) ok &&= values.get(`b/${r}/${j}`) === String(r);
        if (ok) whole++;
      }
      t.equal(whole, revision, `round ${round}: all ${revision} batches have all ${KEYS} keys`);
      t.equal(values.size, revision * KEYS, `round ${round}: no keys from batches past revision ${revision}`);
      const shared = [];
      for (let j = 0; j < KEYS; j++) shared.push(decoder.decode((await store.get(`k/${j}`))!));
      t.same(shared, Array(KEYS).fill(String(revision)), `round ${round}: the shared keys all hold the last batch's value`);

      // The log holds exactly revisions 1..revision, each the batch that was written.
      const log = await store.changes(0);
      t.same({ compacted: log.compacted, oldest: log.oldest, current: log.current }, { compacted: false, oldest: 1, current: revision },
        `round ${round}: the log runs from 1 to the revision, nothing compacted`);
      const wrong = log.changes.filter((c, i) => c.revision !== i + 1
        || JSON.stringify(c.ops.map((op) => [op.key, op.type === 'put' ? decoder.decode(op.value) : null]))
          !== JSON.stringify(batchOps(c.revision).map((op) => [op.key, op.type === 'put' ? decoder.decode(op.value) : null])));
      t.equal(log.changes.length, revision, `round ${round}: one log entry per revision`);
      t.same(wrong.map((c) => c.revision), [], `round ${round}: every log entry is its batch`);
      previous = revision;
    } finally {
      await store.close();
    }
  }
});
