// A stall of this process (CPU starvation, a long GC) must not count against a peer: Node runs
// due timers before it reads the sockets, so a call whose reply arrived during the stall would
// otherwise time out with the reply unread in its buffer.
import t from 'tap';
import { Lookup } from '../../src/wire/gen/services.js';
import { RunningClock, runningTimeout, STALL_TOLERANCE_MS } from '../../src/wire/transport/running-clock.js';
import { client, sleep, startServer } from './harness.js';

function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* the process is "starved": nothing else runs */ }
}

t.test('running clock - a late tick counts its period, an on-time tick what passed', async (t) => {
  let now = 1000;
  const clock = new RunningClock(100, () => now);
  now += 90;
  t.equal(clock.tick(), 90);
  now += 100 + STALL_TOLERANCE_MS;
  t.equal(clock.tick(), 100 + STALL_TOLERANCE_MS, 'late by exactly the tolerance still counts');
  now += 5000;
  t.equal(clock.tick(), 100, 'a 5 s stall counts as one period');
  now -= 50;
  t.equal(clock.tick(), 0, 'a clock that goes back counts nothing');
});

t.test('running clock - runningTimeout fires after its time, not sooner, and can be cancelled', async (t) => {
  const started = Date.now();
  await new Promise<void>((resolve) => runningTimeout(resolve, 120, 40));
  t.ok(Date.now() - started >= 120, 'fired after 120 ms');
  let fired = false;
  const cancel = runningTimeout(() => { fired = true; }, 50, 10);
  cancel();
  await sleep(100);
  t.notOk(fired, 'cancelled');
  // A stall longer than the whole timeout counts as one step, not as the timeout.
  fired = false;
  runningTimeout(() => { fired = true; }, 300, 50);
  busy(600);
  await sleep(120);
  t.notOk(fired, 'a 600 ms stall did not use up a 300 ms running timeout');
  await sleep(400);
  t.ok(fired, 'it fired once the process had run for its time');
});

t.test('running clock - a call whose reply came during a stall of the caller is answered, not timed out', async (t) => {
  const { address } = await startServer(t, (s) => s.handle(Lookup.Vl3, () => ({ mac: '02:00:00:00:00:01', underlay: '198.18.0.1', port: 4789, node: 'h1' })));
  const c = client(t, address, { timeoutMs: 200 });
  await c.connect();
  const answer = c.call(Lookup.Vl3, { vnid: 1, ip: '100.64.0.1' });
  await new Promise((r) => setImmediate(r)); // the request is written
  await new Promise((r) => setImmediate(r));
  busy(700); // longer than the call's timeout; the server's reply can only be read after it
  const r = await answer;
  t.equal(r.node, 'h1');
  // A real timeout still fires when the process runs and the peer does not answer.
  const { address: slow } = await startServer(t, (s) => s.handle(Lookup.Vl3, () => new Promise(() => undefined)));
  const c2 = client(t, slow, { timeoutMs: 150 });
  await t.rejects(c2.call(Lookup.Vl3, { vnid: 1, ip: '100.64.0.1' }), { code: 'DEADLINE_EXCEEDED' });
});
