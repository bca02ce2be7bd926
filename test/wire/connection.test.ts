import { createServer } from 'node:net';
import t from 'tap';
import { VxfabError } from '../../src/model/errors.js';
import { encodeFrame } from '../../src/wire/frame-encoder.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { Lookup } from '../../src/wire/gen/services.js';
import { backoffDelay, RpcServer } from '../../src/wire/transport/index.js';
import { SWEEP_MS } from '../../src/wire/transport/pending.js';
import { PROTOCOL_VERSION } from '../../src/wire/version.js';
import { client, HELLO, quiet, rawPeer, recordingLogger, sleep, startServer } from './harness.js';

const K = vxfab.v1.FrameKind;

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

const echo = (s: RpcServer): void => void s.handle(Lookup.Vl2, (req) => ({ node: req.mac }));

t.test('wire - hello with another protocol version is refused with a typed error', async (t) => {
  const { address, server, port } = await startServer(t, echo);
  const c = client(t, address, { protocolVersion: PROTOCOL_VERSION + 1, reconnect: false });
  await t.rejects(c.connect(), { code: 'UNSUPPORTED_VERSION', field: 'hello.protocol_version', value: String(PROTOCOL_VERSION + 1) });
  await t.rejects(c.call(Lookup.Vl2, {}), { code: 'UNSUPPORTED_VERSION' }, 'calls get the same answer');
  await until(() => server.connections === 0);
  // What the server sends, byte for byte: a HELLO carrying its own version and the error, then close.
  const peer = await rawPeer(t, port);
  peer.send({ kind: K.HELLO, hello: { protocolVersion: 99, role: vxfab.v1.Role.ROLE_CLI, identity: 'old' } });
  const answer = await peer.next();
  t.equal(answer.kind, K.HELLO);
  t.equal(answer.hello?.protocolVersion, PROTOCOL_VERSION);
  t.equal(answer.error?.code, vxfab.v1.ErrorCode.UNSUPPORTED_VERSION);
  t.match(answer.error?.message, /protocol version 99 is not supported/);
  await peer.closed;
  t.pass('server closed the connection');
});

t.test('wire - a request before hello gets PROTOCOL_ERROR and the connection is closed', async (t) => {
  const { port } = await startServer(t, echo);
  const peer = await rawPeer(t, port);
  peer.send({ kind: K.REQUEST, id: 7, method: Lookup.Vl2.path });
  const answer = await peer.next();
  t.equal(answer.kind, K.REPLY);
  t.equal(answer.id, 7);
  t.equal(answer.error?.code, vxfab.v1.ErrorCode.PROTOCOL_ERROR);
  t.match(answer.error?.message, /REQUEST 7 .* before HELLO/);
  await peer.closed;
  t.pass('closed');
});

for (const [name, bytes, logged] of [
  // Length 5, then five bytes that start a varint field tag and never end it.
  ['random bytes', Buffer.from([0x05, 0xff, 0xff, 0xff, 0xff, 0xff]), /does not decode as vxfab\.v1\.Frame/],
  ['an oversize length prefix', Buffer.from([0xff, 0xff, 0xff, 0x7f]), /frame of 268435455 bytes is over the limit of 1048576 bytes/],
  ['a length prefix over 5 bytes', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), /longer than 5 bytes/],
  ['a truncated frame then close', Buffer.from(encodeFrame({ kind: K.REQUEST, id: 1, method: Lookup.Vl2.path }).subarray(0, 9)), /truncated frame/],
] as const) {
  t.test(`wire - ${name} close only that connection`, async (t) => {
    const { logger, lines } = recordingLogger();
    const { address, port, server } = await startServer(t, echo, { logger });
    const good = client(t, address);
    t.equal((await good.call(Lookup.Vl2, { mac: 'before' })).node, 'before');
    const peer = await rawPeer(t, port);
    peer.send(HELLO);
    t.equal((await peer.next()).kind, K.HELLO);
    await until(() => server.connections === 2);
    peer.socket.write(bytes);
    if (name.startsWith('a truncated')) peer.socket.end();
    await peer.closed;
    t.equal((await good.call(Lookup.Vl2, { mac: 'after' })).node, 'after', 'the other client carries on');
    await until(() => server.connections === 1);
    t.equal(lines.length, 1, 'one log line');
    t.match(String(lines[0]?.['err'] ?? '') + String(lines[0]?.['msg'] ?? ''), logged);
  });
}

t.test('wire - garbage tells the peer why before closing', async (t) => {
  const { port } = await startServer(t, echo);
  const peer = await rawPeer(t, port);
  peer.send(HELLO);
  await peer.next();
  peer.socket.write(Buffer.from([0xff, 0xff, 0xff, 0x7f]));
  const why = await peer.next();
  t.equal(why.kind, K.REPLY);
  t.equal(why.id, 0, 'id 0: about the connection, not a request');
  t.equal(why.error?.code, vxfab.v1.ErrorCode.PROTOCOL_ERROR);
  await peer.closed;
});

t.test('wire - client timeout is DEADLINE_EXCEEDED and a late reply is dropped', async (t) => {
  const { address } = await startServer(t, (s) => s.handle(Lookup.Vl2, async (req) => {
    await sleep(Number(req.mac));
    return { node: req.mac };
  }));
  const c = client(t, address, { timeoutMs: 5000 });
  await c.connect();
  const t0 = Date.now();
  await t.rejects(c.call(Lookup.Vl2, { mac: '400' }, { timeoutMs: 100 }), { code: 'DEADLINE_EXCEEDED', message: /Lookup\/Vl2 timed out after 100 ms/ });
  const took = Date.now() - t0;
  t.ok(took >= 100 && took < 100 + SWEEP_MS + 150, `failed after ${took} ms`);
  await sleep(400);
  t.equal((await c.call(Lookup.Vl2, { mac: '1' })).node, '1', 'connection still fine');
  t.equal(c.inFlight, 0);
});

t.test('wire - client reconnects with backoff after the server restarts on the same port', async (t) => {
  const first = new RpcServer({ identity: 'first', logger: quiet });
  echo(first);
  const { port } = await first.listen('127.0.0.1', 0);
  t.teardown(() => first.close());
  const c = client(t, `127.0.0.1:${port}`, { reconnect: { minMs: 20, maxMs: 200 } });
  const events: string[] = [];
  c.on('connected', (p) => events.push(`up ${p.identity}`));
  c.on('disconnected', (e) => events.push(`down ${e.code}`));
  await c.connect();
  const hanging = new Promise<void>(() => undefined);
  first.handle(Lookup.Vl3, () => hanging.then(() => ({})));
  const inFlight = t.rejects(c.call(Lookup.Vl3, {}), { code: 'UNAVAILABLE', message: /lost/ },
    'a call in flight when the connection dies fails');
  await sleep(20);
  await first.close();
  await inFlight;
  t.notOk(c.connected);
  // Made while down: waits for the reconnect.
  const waiting = c.call(Lookup.Vl2, { mac: 'queued' });
  await sleep(150); // several failed redials
  const second = new RpcServer({ identity: 'second', logger: quiet });
  echo(second);
  await second.listen('127.0.0.1', port);
  t.teardown(() => second.close());
  t.equal((await waiting).node, 'queued', 'the waiting call went out on the new connection');
  t.same(events, ['up first', 'down UNAVAILABLE', 'up second']);
});

t.test('wire - backoff delays are full-jitter exponential within bounds', async (t) => {
  const opts = { minMs: 100, maxMs: 10_000 };
  t.equal(backoffDelay(1, opts, () => 0), 100);
  t.equal(backoffDelay(1, opts, () => 1), 200);
  t.equal(backoffDelay(3, opts, () => 1), 800);
  t.equal(backoffDelay(20, opts, () => 1), 10_000, 'capped');
  t.equal(backoffDelay(1000, opts, () => 1), 10_000, 'no overflow');
  const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(6, opts)));
  t.ok(spread.size > 25, 'delays are spread, not synchronised');
  for (const d of spread) t.ok(d >= 100 && d <= 6400);
});

t.test('wire - failFast calls fail at once when not connected', async (t) => {
  const port = await freePort();
  const c = client(t, `127.0.0.1:${port}`, { failFast: true, reconnect: { minMs: 50, maxMs: 100 } });
  const t0 = Date.now();
  await t.rejects(c.call(Lookup.Vl2, {}), { code: 'UNAVAILABLE', message: /not connected/ });
  t.ok(Date.now() - t0 < 50, 'did not wait');
});

t.test('wire - without reconnect a failed dial rejects connect() and waiting calls', async (t) => {
  const port = await freePort();
  const c = client(t, `127.0.0.1:${port}`, { reconnect: false });
  await t.rejects(c.connect(), { code: 'UNAVAILABLE', message: /ECONNREFUSED/ });
  await t.rejects(c.call(Lookup.Vl2, {}), { code: 'UNAVAILABLE' });
  // The next call dials again: now there is a server.
  const s = new RpcServer({ identity: 'late', logger: quiet });
  echo(s);
  await s.listen('127.0.0.1', port);
  t.teardown(() => s.close());
  t.equal((await c.call(Lookup.Vl2, { mac: 'x' })).node, 'x');
});

t.test('wire - connect() gives up after timeoutMs while the server stays down', async (t) => {
  const port = await freePort();
  const c = client(t, `127.0.0.1:${port}`, { timeoutMs: 150, reconnect: { minMs: 10, maxMs: 20 } });
  await t.rejects(c.connect(), { code: 'UNAVAILABLE', message: /could not connect .* within 150 ms: .*ECONNREFUSED/ });
  await t.rejects(c.call(Lookup.Vl2, {}), { code: 'DEADLINE_EXCEEDED', message: /still waiting for a connection/ });
});

t.test('wire - server close ends connections and resolves; streams see closed', async (t) => {
  let closedCalls = 0;
  const server = new RpcServer({ identity: 's', logger: quiet });
  server.handleStream(Lookup.Subscribe, (_req, ctx) => new Promise<void>((resolve) => ctx.onClose(() => {
    closedCalls++;
    resolve();
  })));
  const { port } = await server.listen('127.0.0.1', 0);
  t.teardown(() => server.close());
  const c = client(t, `127.0.0.1:${port}`, { reconnect: false });
  const sub = c.stream(Lookup.Subscribe, {}, () => undefined);
  const ended = t.rejects(sub.done, { code: 'UNAVAILABLE' });
  await until(() => server.connections === 1);
  await sleep(20);
  await server.close();
  t.equal(server.connections, 0);
  t.equal(closedCalls, 1);
  await ended;
});

t.test('wire - closed client refuses calls', async (t) => {
  const { address } = await startServer(t, echo);
  const c = client(t, address);
  await c.connect();
  await c.close();
  const e = await c.call(Lookup.Vl2, {}).then(() => undefined, (x: unknown) => x);
  t.ok(e instanceof VxfabError);
  t.match(e, { code: 'UNAVAILABLE', message: /closed/ });
});

t.test('wire - callback() is call() without a promise: one callback with the reply or the typed error', async (t) => {
  const { address } = await startServer(t, (s) => s.handle(Lookup.Vl2, (req) => {
    if (req.mac === 'bad') throw new VxfabError('NOT_FOUND', 'no such MAC', { field: 'mac', value: req.mac });
    return { node: req.mac };
  }));
  const c = client(t, address);
  await c.connect();
  const answers: Array<{ err?: Error; node?: string }> = [];
  const all = new Promise<void>((resolve) => {
    for (const mac of ['a', 'bad', 'c']) {
      c.callback(Lookup.Vl2, { mac }, (err, res) => {
        answers.push({ err, node: res?.node });
        if (answers.length === 3) resolve();
      });
    }
  });
  await all;
  t.same(answers.map((a) => a.node), ['a', undefined, 'c'], 'replies in order, none for the failed call');
  t.match(answers[1]!.err, { code: 'NOT_FOUND', field: 'mac', value: 'bad' });
  t.equal(answers[0]!.err, undefined);
  t.equal(c.inFlight, 0);
  await c.close();
  const refused = await new Promise<Error | undefined>((resolve) => c.callback(Lookup.Vl2, { mac: 'a' }, (err) => resolve(err)));
  t.match(refused, { code: 'UNAVAILABLE' }, 'a closed client answers through the callback too');
});
