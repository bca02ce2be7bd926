// Malformed input over real TCP: a seeded stream of random and mutated frames (fuzz-frames.ts)
// against a real RpcServer while a well-behaved client checks its answers the whole time. The
// server must not crash, answer or close every fuzzing connection, keep its memory bounded, and
// keep answering the good client right. Set FUZZ_SEED to replay a run.
import t from 'tap';
import { Lookup } from '../../src/wire/gen/services.js';
import { FrameFuzzer, FUZZ_KINDS, fuzzTarget, runFuzz } from './fuzz-frames.js';
import { client, sleep, startServer } from './harness.js';

const FRAMES = 20_000;
const MAX_FRAME = 256 * 1024;

t.test('fuzz - random and mutated frames over TCP: no crash, every connection answered or closed, memory bounded, the good client served right', async (t) => {
  const seed = Number(process.env['FUZZ_SEED'] ?? 20261204);
  t.comment(`seed ${seed}`);
  const { server, address, port } = await startServer(t, fuzzTarget, { maxFrameBytes: MAX_FRAME });
  const good = client(t, address, { timeoutMs: 10_000 });
  await good.connect();
  let served = 0;
  let wrong = 0;
  let running = true;
  const goodLoop = (async () => {
    while (running) {
      const vnid = 1 + (served % 4000);
      const r = await good.call(Lookup.Vl2, { vnid, mac: 'aa' });
      if (r.node !== `${vnid}/aa`) wrong++;
      served++;
      await sleep(1);
    }
  })();
  const before = process.memoryUsage();
  const fuzzer = new FrameFuzzer(seed, MAX_FRAME);
  const res = await runFuzz(port, fuzzer, FRAMES, 8, 64);
  running = false;
  await goodLoop;
  const after = process.memoryUsage();
  t.comment(`${res.frames} frames on ${res.connections} connections in ${res.ms.toFixed(0)} ms; answers by code ${JSON.stringify(res.codes)}`);
  t.comment(`RSS ${(before.rss / 1048576).toFixed(0)} -> ${(after.rss / 1048576).toFixed(0)} MiB, heap ${(before.heapUsed / 1048576).toFixed(0)} -> ${(after.heapUsed / 1048576).toFixed(0)} MiB`);
  t.equal(res.frames, FRAMES);
  t.equal(res.hung, 0, 'every fuzzing connection was closed by the server or after its answers');
  t.equal(res.badReplies, 0, 'everything the server sent decodes as frames');
  for (const code of ['OK', 'PROTOCOL_ERROR', 'UNIMPLEMENTED', 'INVALID_ARGUMENT']) {
    t.ok((res.codes[code] ?? 0) > 0, `answers with ${code} seen (${res.codes[code] ?? 0})`);
  }
  t.ok(served > 10, `the good client was served throughout: ${served} calls`);
  t.equal(wrong, 0, 'and every answer was right');
  // A correctness bound, generous: what leaks per frame or per connection would show at 20k.
  t.ok(after.rss - before.rss < 256 << 20, 'RSS grew less than 256 MiB');
  await sleep(50);
  t.equal(server.connections, 1, 'only the good client is left');
  t.ok(FUZZ_KINDS.length >= 10);
});
