// Resource exhaustion: what an unfriendly client can take from an RpcServer, each with small
// limits (options) so that the test is quick. In every case a well-behaved client (from another
// loopback address, so another peer) must go on being served.
import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { encodeFrame } from '../../src/wire/frame-encoder.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { Lookup } from '../../src/wire/gen/services.js';
import { RpcServer } from '../../src/wire/transport/index.js';
import { capBelowFdLimit, peerKey } from '../../src/wire/transport/limits.js';
import { client, HELLO, rawPeer, recordingLogger, sleep, startServer } from './harness.js';

const K = vxfab.v1.FrameKind;
/** The good client's address: another peer than the attackers' 127.0.0.1. */
const OTHER_PEER = '127.0.0.2';
/** A Vl3 reply of 512 bytes, answered from bytes. */
const REPLY = vxfab.v1.Vl3Reply.encode({ node: 'n'.repeat(509) }).finish();

async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await sleep(5);
  }
}

function setup(s: RpcServer): void {
  s.handle(Lookup.Vl2, (req) => ({ node: req.mac }));
  s.handleRaw(Lookup.Vl3.path, () => REPLY);
  s.handleStream(Lookup.Subscribe, (_req, ctx) => new Promise<void>((resolve) => ctx.onClose(resolve)));
}

/** Keeps a good client calling in the background; the test asserts its answers stayed right. */
function goodTraffic(t: Test, address: string): { stop(): Promise<number> } {
  const c = client(t, address, { localAddress: OTHER_PEER, timeoutMs: 5000 });
  let running = true;
  let ok = 0;
  const loop = (async () => {
    while (running) {
      const mac = `m-${ok}`;
      const r = await c.call(Lookup.Vl2, { mac });
      if (r.node !== mac) throw new Error(`wrong answer ${r.node} for ${mac}`);
      ok++;
      await sleep(2);
    }
  })();
  const failed = loop.then(() => undefined, (e: unknown) => e);
  t.teardown(() => { running = false; });
  return {
    stop: async () => {
      running = false;
      const e = await failed;
      if (e !== undefined) throw e;
      return ok;
    },
  };
}

/** Connects; `watch` sees the socket first (a refused one may close before connect resolves). */
function dial(port: number, watch: (s: Socket) => void = () => undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    watch(s);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

t.test('limits - a client that pipelines and never reads stops being read, is closed after the stall timeout, and others are served', async (t) => {
  const { logger, lines } = recordingLogger();
  const maxOutputBytes = 256 * 1024;
  const { server, address, port } = await startServer(t, setup, { logger, maxOutputBytes, stallTimeoutMs: 1500 });
  const good = goodTraffic(t, address);
  const rssBefore = process.memoryUsage().rss;
  const bad = await dial(port);
  t.teardown(() => void bad.destroy());
  bad.pause(); // and never reads: Node reads up to its small buffer, then the kernel's fills
  bad.on('error', () => undefined);
  const badClosed = new Promise<void>((resolve) => bad.once('close', () => resolve()));
  bad.write(encodeFrame(HELLO));
  // 1,000 requests of 28 bytes ask for 540 KB of replies: the server's output passes its bound
  // within a chunk or two. Keep writing until our own side has 8 MiB the server did not take.
  const batch = Buffer.concat(Array.from({ length: 1000 }, (_, i) => encodeFrame({ kind: K.REQUEST, id: i + 1, method: Lookup.Vl3.path })));
  const writeUntil = Date.now() + 4000;
  while (bad.writableLength < 8 << 20 && Date.now() < writeUntil && !bad.destroyed) {
    bad.write(batch);
    await sleep(1);
  }
  t.ok(bad.writableLength >= 8 << 20, `the server stopped reading: ${bad.writableLength} bytes wait on the client`);
  t.equal(server.outputStats().paused, 1, 'one connection paused');
  const readsAt = server.bufferStats().reads;
  await sleep(200);
  // The good client's reads go on; the paused connection's do not (only a handful in 200 ms).
  t.ok(server.bufferStats().reads - readsAt < 400, 'the paused connection is not read');
  const { peakUnsent } = server.outputStats();
  // A flush passes the bound by at most one batch of replies before reads stop.
  t.ok(peakUnsent <= maxOutputBytes + 64 * 1024, `output queued at most ${peakUnsent} bytes (bound ${maxOutputBytes})`);
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  t.comment(`RSS growth while pipelined at: ${(rssGrowth / 1048576).toFixed(1)} MiB (client's own 8 MiB buffer included)`);
  t.ok(rssGrowth < 128 << 20, 'memory stays bounded');
  await badClosed;
  t.pass('closed after the stall timeout');
  await until(() => lines.some((l) => l['msg'] === 'closing connection: replies not read'), 2000, 'stall log line');
  const served = await good.stop();
  t.ok(served > 20, `the good client was served throughout (${served} calls)`);
});

t.test('limits - a pipelining client that reads gets every answer through a small output bound', async (t) => {
  const { server, address } = await startServer(t, setup, { maxOutputBytes: 16 * 1024 });
  const c = client(t, address);
  await c.connect();
  const n = 5000;
  const answers = await Promise.all(Array.from({ length: n }, (_, i) => c.call(Lookup.Vl2, { mac: `x${i}` })));
  t.ok(answers.every((a, i) => a.node === `x${i}`), `${n} answers, each right`);
  const vl3 = await Promise.all(Array.from({ length: 2000 }, () => c.call(Lookup.Vl3, {})));
  t.equal(vl3.length, 2000);
  t.equal(server.outputStats().paused, 0, 'reading again once drained');
});

t.test('limits - calls in flight are capped per connection; reading resumes as they finish', async (t) => {
  let running = 0;
  let peak = 0;
  const { server, address } = await startServer(t, (s) => s.handle(Lookup.Vl2, async (req) => {
    running++;
    peak = Math.max(peak, running);
    await sleep(1);
    running--;
    return { node: req.mac };
  }), { maxCallsInFlight: 16 });
  const c = client(t, address);
  await c.connect();
  const answers = await Promise.all(Array.from({ length: 2000 }, (_, i) => c.call(Lookup.Vl2, { mac: `y${i}` })));
  t.ok(answers.every((a, i) => a.node === `y${i}`), 'every call answered, right');
  t.ok(peak <= 16, `at most 16 handlers ran at once (${peak}): the decoder stops mid-chunk`);
  t.equal(server.outputStats().paused, 0);
});

t.test('limits - thousands of silent connections: caps refuse the excess with one log line, the hello timeout closes the rest, others are served', async (t) => {
  const { logger, lines } = recordingLogger();
  const perPeer = 300;
  const { server, address, port } = await startServer(t, setup,
    { logger, maxConnectionsPerPeer: perPeer, maxConnections: 1000, helloTimeoutMs: 2000 });
  const good = goodTraffic(t, address);
  const sockets: Socket[] = [];
  t.teardown(() => { for (const s of sockets) s.destroy(); });
  let closed = 0;
  let told = 0;
  let timedOut = 0;
  let peak = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, server.connections); }, 2);
  t.teardown(() => clearInterval(sampler));
  for (let i = 0; i < 2000; i += 200) {
    await Promise.all(Array.from({ length: 200 }, () => dial(port, (s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      let got = '';
      s.on('data', (d: Buffer) => { got += d.toString('latin1'); });
      s.once('close', () => {
        closed++;
        if (got.includes('connections from your address')) told++;
        else if (got.includes('no HELLO within')) timedOut++;
      });
    })));
  }
  // Each was either held (until the hello timeout, which says so) or refused at once: told why,
  // or reset once 256 refusals linger. The machine's load decides how many generations of held
  // ones time out while the dialing goes on, so the split is not exact.
  await until(() => closed === 2000, 10_000, 'every connection closed');
  clearInterval(sampler);
  t.ok(peak <= perPeer + 1, `never more than the cap open (${peak})`);
  t.ok(timedOut >= perPeer, `${timedOut} held until the hello timeout`);
  t.ok(2000 - timedOut >= 1000, `${2000 - timedOut} refused at once`);
  t.ok(told >= 200, `refused peers are told why (${told}; past 256 lingering ones, the rest are reset)`);
  const capLines = lines.filter((l) => String(l['msg']).startsWith('refusing connections: per-peer connection cap reached'));
  t.equal(capLines.length, 1, `over a thousand refusals, one log line (then one count per window): ${JSON.stringify(capLines)}`);
  t.match(capLines[0], { peer: '127.0.0.1', cap: 'maxConnectionsPerPeer', limit: perPeer });
  await until(() => server.connections === 1, 3000, 'only the good client left');
  const served = await good.stop();
  t.ok(served > 20, `the good client was served throughout (${served} calls)`);
});

t.test('limits - the total cap refuses with UNAVAILABLE, which a client reports', async (t) => {
  const { logger, lines } = recordingLogger();
  const { port, address } = await startServer(t, setup, { logger, maxConnections: 3 });
  const held = await Promise.all([1, 2, 3].map(() => rawPeer(t, port)));
  for (const p of held) p.send(HELLO);
  for (const p of held) t.equal((await p.next()).kind, K.HELLO);
  const c = client(t, address, { reconnect: false });
  await t.rejects(c.connect(), { code: 'UNAVAILABLE', message: /maximum of 3 connections/ });
  t.equal(lines.filter((l) => l['msg'] === 'refusing connections: total connection cap reached').length, 1);
  held[0]!.socket.destroy();
  await sleep(50);
  t.equal((await c.call(Lookup.Vl2, { mac: 'in' })).node, 'in', 'a freed place is taken');
});

t.test('limits - a slowloris trickling a frame byte by byte is closed after the frame timeout', async (t) => {
  const { logger, lines } = recordingLogger();
  const { address, port, server } = await startServer(t, setup, { logger, frameTimeoutMs: 400 });
  const good = goodTraffic(t, address);
  const peer = await rawPeer(t, port);
  peer.send(HELLO);
  t.equal((await peer.next()).kind, K.HELLO);
  const frame = encodeFrame({ kind: K.REQUEST, id: 1, method: Lookup.Vl2.path, body: Buffer.alloc(200) });
  let closed = false;
  void peer.closed.then(() => { closed = true; });
  const t0 = Date.now();
  for (let i = 0; i < frame.length && !closed; i++) {
    peer.socket.write(frame.subarray(i, i + 1));
    await sleep(10);
  }
  t.ok(closed, `closed before the frame was done (${Date.now() - t0} ms)`);
  const why = await peer.next();
  t.equal(why.id, 0);
  t.equal(why.error?.code, vxfab.v1.ErrorCode.PROTOCOL_ERROR);
  t.match(why.error?.message, /not completed within 400 ms/);
  t.ok(lines.some((l) => l['msg'] === 'closing connection: frame not completed in time'), 'logged');
  t.equal(server.connections >= 1, true);
  const served = await good.stop();
  t.ok(served > 20, `the good client was served throughout (${served} calls)`);
});

t.test('limits - a slow but steady sender of whole frames is not a slowloris', async (t) => {
  const { port } = await startServer(t, setup, { frameTimeoutMs: 300, idleTimeoutMs: 300 });
  const peer = await rawPeer(t, port);
  peer.send(HELLO);
  await peer.next();
  for (let i = 1; i <= 8; i++) {
    peer.send({ kind: K.REQUEST, id: i, method: Lookup.Vl2.path, body: vxfab.v1.Vl2Request.encode({ mac: `s${i}` }).finish() });
    const r = await peer.next();
    t.equal(r.id, i);
    await sleep(150);
  }
  t.pass('a frame every 150 ms kept the connection for 1.2 s past both 300 ms limits');
});

t.test('limits - an idle connection is closed with a reason; one with an open stream is not', async (t) => {
  const { address, port, server } = await startServer(t, setup, { idleTimeoutMs: 300 });
  const subscriber = client(t, address, { reconnect: false });
  const events: string[] = [];
  subscriber.on('disconnected', (e) => events.push(e.code));
  const sub = subscriber.stream(Lookup.Subscribe, {}, () => undefined);
  const idle = await rawPeer(t, port);
  idle.send(HELLO);
  await idle.next();
  const t0 = Date.now();
  await idle.closed;
  const took = Date.now() - t0;
  t.ok(took >= 250, `idle closed after ${took} ms`);
  const why = await idle.next().catch(() => undefined);
  // The reason came before the close (rawPeer queued it).
  t.ok(why === undefined || (why.id === 0 && why.error?.code === vxfab.v1.ErrorCode.UNAVAILABLE), 'told: UNAVAILABLE');
  await sleep(600);
  t.equal(server.connections, 1, 'the subscriber stays');
  t.same(events, []);
  sub.cancel();
  await sub.done;
  await until(() => server.connections === 0, 2000, 'idle once its stream ended');
  t.same(events, ['UNAVAILABLE']);
});

t.test('limits - helpers: peer keys, the fd-limit cap, option checks', async (t) => {
  t.throws(() => new RpcServer({ identity: 'x', maxOutputBytes: 0 }), { code: 'INVALID_ARGUMENT', field: 'maxOutputBytes', value: '0' });
  t.throws(() => new RpcServer({ identity: 'x', idleTimeoutMs: 1.5 }), { code: 'INVALID_ARGUMENT', field: 'idleTimeoutMs' });
  t.equal(new RpcServer({ identity: 'x', idleTimeoutMs: Infinity }).limits.idleTimeoutMs, Infinity, 'Infinity: no limit');
  t.equal(peerKey('::ffff:198.18.0.1'), '198.18.0.1', 'IPv4-mapped IPv6 is the IPv4 peer');
  t.equal(peerKey('::1'), '::1');
  t.equal(peerKey(undefined), '?');
  t.equal(capBelowFdLimit(10_000, 1024), 896, 'a 1024-fd process keeps 128 free');
  t.equal(capBelowFdLimit(10_000, 20_000), 10_000);
  t.equal(capBelowFdLimit(10_000, 10_000), 9_000, 'a tenth free');
  t.equal(capBelowFdLimit(10_000, undefined), 10_000);
});
