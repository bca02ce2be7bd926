import t from 'tap';
import { VxfabError, invalid } from '../../src/model/errors.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { Controller, Lookup } from '../../src/wire/gen/services.js';
import type { PeerInfo } from '../../src/wire/rpc.js';
import { client, HELLO, rawPeer, recordingLogger, sleep, startServer } from './harness.js';

const K = vxfab.v1.FrameKind;

t.test('wire - unary call round trip, handler sees the peer', async (t) => {
  let seen: PeerInfo | undefined;
  const { address } = await startServer(t, (s) => {
    s.handle(Lookup.Vl2, (req, ctx) => {
      seen = ctx.peer;
      return { underlay: `198.18.0.${req.vnid}`, port: 4789, node: req.mac };
    });
    s.handle(Lookup.Vl3, async (req) => {
      await sleep(5);
      return new vxfab.v1.Vl3Reply({ mac: '02:00:00:00:00:09', underlay: '198.18.0.9', node: req.ip });
    });
  });
  const c = client(t, address, { identity: 'node-4', role: vxfab.v1.Role.ROLE_AGENT });
  await c.connect();
  t.equal(c.server?.identity, 'test-server');
  t.equal(c.server?.role, vxfab.v1.Role.ROLE_SERVER);
  const r = await c.call(Lookup.Vl2, { vnid: 7, mac: '02:00:00:00:00:01' });
  t.ok(r instanceof vxfab.v1.Vl2Reply);
  t.same({ underlay: r.underlay, port: r.port, node: r.node }, { underlay: '198.18.0.7', port: 4789, node: '02:00:00:00:00:01' });
  t.equal(seen?.identity, 'node-4');
  t.equal(seen?.role, vxfab.v1.Role.ROLE_AGENT);
  t.match(seen?.remote, /^127\.0\.0\.1:\d+$/);
  const r3 = await c.call(Lookup.Vl3, { vnid: 7, ip: '100.64.0.9' });
  t.equal(r3.node, '100.64.0.9', 'async handler answered');
  t.equal(c.inFlight, 0);
});

t.test('wire - several services share one server', async (t) => {
  const { address } = await startServer(t, (s) => {
    s.handle(Lookup.Vl2, () => ({ node: 'lookup' }));
    s.handle(Controller.GetTenant, (req) => ({ name: req.name }));
  });
  const c = client(t, address);
  t.equal((await c.call(Lookup.Vl2, {})).node, 'lookup');
  t.equal((await c.call(Controller.GetTenant, { name: 'acme' })).name, 'acme');
});

t.test('wire - typed errors from handlers reach the caller', async (t) => {
  const { logger, lines } = recordingLogger();
  const { address } = await startServer(t, (s) => {
    s.handle(Lookup.Vl2, (req) => {
      throw invalid('mac', req.mac, 'not a MAC address');
    });
    s.handle(Lookup.Vl3, async () => {
      throw new VxfabError('NOT_FOUND', 'ip "100.64.0.1" in vnid 7: not found', { field: 'ip', value: '100.64.0.1' });
    });
    s.handle(Lookup.Flood, () => {
      throw new TypeError('cannot read properties of undefined (secret internals)');
    });
  }, { logger });
  const c = client(t, address);
  await t.rejects(c.call(Lookup.Vl2, { mac: 'zz' }), { name: 'VxfabError', code: 'INVALID_ARGUMENT', field: 'mac', value: 'zz', message: 'mac "zz": not a MAC address' });
  await t.rejects(c.call(Lookup.Vl3, { ip: '100.64.0.1' }), { code: 'NOT_FOUND', field: 'ip', value: '100.64.0.1' });
  const e = await c.call(Lookup.Flood, {}).then(() => new VxfabError('INVALID_ARGUMENT', 'resolved'), (x: unknown) => x as VxfabError);
  t.equal(e.code, 'INTERNAL');
  t.equal(e.message, 'internal error in vxfab.v1.Lookup/Flood', 'internals are not sent to the client');
  t.equal(lines.length, 1, 'one log line');
  t.equal(lines[0]?.['method'], 'vxfab.v1.Lookup/Flood');
  t.equal(lines[0]?.['msg'], 'handler failed');
});

t.test('wire - unknown method is UNIMPLEMENTED and the connection stays usable', async (t) => {
  const { address, server } = await startServer(t, (s) => s.handle(Lookup.Vl2, () => ({ node: 'n1' })));
  const c = client(t, address);
  await t.rejects(c.call(Lookup.Flood, { vnid: 1 }), { code: 'UNIMPLEMENTED', field: 'method', value: 'vxfab.v1.Lookup/Flood' });
  await t.rejects(new Promise<void>((resolve, reject) => c.stream(Lookup.Subscribe, {}, () => undefined).done.then(resolve, reject)),
    { code: 'UNIMPLEMENTED' }, 'a stream to an unknown method fails the same way');
  t.equal((await c.call(Lookup.Vl2, {})).node, 'n1');
  t.equal(server.connections, 1);
  t.ok(c.connected);
});

t.test('wire - undecodable request body is INVALID_ARGUMENT naming the method', async (t) => {
  const { port } = await startServer(t, (s) => s.handle(Lookup.Vl2, (req) => ({ node: req.mac })));
  const peer = await rawPeer(t, port);
  peer.send(HELLO);
  t.equal((await peer.next()).kind, K.HELLO);
  // Field 2 (mac) says 5 bytes follow, but only one does.
  peer.send({ kind: K.REQUEST, id: 5, method: Lookup.Vl2.path, body: Uint8Array.of(0x12, 0x05, 0x61) });
  const bad = await peer.next();
  t.equal(bad.kind, K.REPLY);
  t.equal(bad.id, 5);
  t.equal(bad.error?.code, vxfab.v1.ErrorCode.INVALID_ARGUMENT);
  t.match(bad.error?.message, /request body of vxfab\.v1\.Lookup\/Vl2 does not decode/);
  peer.send({ kind: K.REQUEST, id: 6, method: Lookup.Vl2.path, body: vxfab.v1.Vl2Request.encode({ mac: 'ok' }).finish() });
  const good = await peer.next();
  t.equal(good.id, 6);
  t.equal(vxfab.v1.Vl2Reply.decode(good.body).node, 'ok', 'same connection still answers');
});

t.test('wire - raw handler answers with pre-encoded bodies', async (t) => {
  const cached = vxfab.v1.Vl2Reply.encode({ underlay: '198.18.1.1', port: 4789, node: 'cached' }).finish();
  let gotBody: Uint8Array | undefined;
  const { address } = await startServer(t, (s) => {
    s.handleRaw(Lookup.Vl2.path, (body) => {
      gotBody = body;
      return cached;
    });
    s.handleRaw(Lookup.Vl3.path, async () => {
      throw new VxfabError('NOT_FOUND', 'ip "x": not found', { field: 'ip', value: 'x' });
    });
  });
  const c = client(t, address);
  const r = await c.call(Lookup.Vl2, { vnid: 3, mac: '02:00:00:00:00:03' });
  t.equal(r.node, 'cached');
  const req = vxfab.v1.Vl2Request.decode(gotBody!);
  t.same({ vnid: req.vnid, mac: req.mac }, { vnid: 3, mac: '02:00:00:00:00:03' }, 'handler got the undecoded body');
  await t.rejects(c.call(Lookup.Vl3, {}), { code: 'NOT_FOUND' });
});

t.test('wire - pipelined calls complete out of order, matched by id', async (t) => {
  const { address } = await startServer(t, (s) => s.handle(Lookup.Vl2, async (req) => {
    await sleep((10 - req.vnid) * 15); // early requests are answered last
    return { node: `n${req.vnid}` };
  }));
  const c = client(t, address);
  await c.connect();
  const order: number[] = [];
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
    c.call(Lookup.Vl2, { vnid: i }).then((r) => {
      order.push(i);
      return r.node;
    })));
  t.same(results, Array.from({ length: 10 }, (_, i) => `n${i}`), 'every reply went to its own call');
  t.same(order, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0], 'replies came back in reverse');
});

t.test('wire - streaming call delivers items then ends; errors end it typed', async (t) => {
  const { address } = await startServer(t, (s) => {
    s.handleStream(Lookup.Bulk, async (req, ctx) => {
      for (let i = 0; i < req.pageSize; i++) {
        ctx.send({ revision: i, endpoints: [{ mac: `02:00:00:00:00:0${i}`, underlay: '198.18.0.1' }] });
        if (i % 2) await sleep(1);
      }
      if (req.vnid === 666) throw new VxfabError('RESYNC', 'subscriber fell behind', { field: 'vnid', value: '666' });
    });
  });
  const c = client(t, address);
  const items: number[] = [];
  const s = c.stream(Lookup.Bulk, { vnid: 1, pageSize: 5 }, (page) => {
    t.ok(page instanceof vxfab.v1.BulkPage);
    items.push(page.revision);
  });
  await s.done;
  t.same(items, [0, 1, 2, 3, 4]);
  const failing: number[] = [];
  await t.rejects(c.stream(Lookup.Bulk, { vnid: 666, pageSize: 3 }, (p) => failing.push(p.revision)).done,
    { code: 'RESYNC', field: 'vnid', value: '666' });
  t.same(failing, [0, 1, 2], 'items before the error were delivered');
  t.equal(c.inFlight, 0);
});

t.test('wire - stream cancel stops the handler and resolves done', async (t) => {
  let closedSeen = false;
  let listenerCalls = 0;
  let handlerEnded!: () => void;
  const ended = new Promise<void>((resolve) => { handlerEnded = resolve; });
  const { address } = await startServer(t, (s) => {
    s.handleStream(Lookup.Subscribe, async (_req, ctx) => {
      ctx.onClose(() => listenerCalls++);
      let rev = 0;
      while (!ctx.closed) {
        ctx.send({ revision: ++rev, kind: vxfab.v1.EventKind.SYNCED });
        await sleep(2);
      }
      closedSeen = ctx.closed;
      t.equal(ctx.send({ revision: 0 }), false, 'send after close is refused');
      handlerEnded();
    });
    s.handle(Lookup.Vl2, () => ({ node: 'still-here' }));
  });
  const c = client(t, address);
  let got = 0;
  const sub = c.stream(Lookup.Subscribe, { node: 'n1', vnids: [1] }, () => {
    if (++got === 3) sub.cancel();
  });
  await sub.done;
  await ended;
  t.ok(closedSeen, 'handler saw ctx.closed');
  t.equal(listenerCalls, 1, 'onClose listener called once');
  t.ok(got >= 3);
  t.equal((await c.call(Lookup.Vl2, {})).node, 'still-here', 'connection usable after cancel');
});

t.test('wire - a throwing stream consumer cancels the stream and fails done', async (t) => {
  let closed!: () => void;
  const wasClosed = new Promise<void>((resolve) => { closed = resolve; });
  const { address } = await startServer(t, (s) => s.handleStream(Lookup.Subscribe, async (_req, ctx) => {
    ctx.onClose(closed);
    while (!ctx.closed) {
      ctx.send({ revision: 1 });
      await sleep(2);
    }
  }));
  const c = client(t, address);
  await t.rejects(c.stream(Lookup.Subscribe, {}, () => {
    throw new Error('consumer broke');
  }).done, { message: 'consumer broke' });
  await wasClosed;
  t.pass('server saw the cancel');
});

t.test('wire - stream backpressure: send reports a full buffer and drained() waits', async (t) => {
  let sawFull = false;
  const pages = 64;
  const { address } = await startServer(t, (s) => s.handleStream(Lookup.Bulk, async (_req, ctx) => {
    const endpoints = Array.from({ length: 2000 }, (_, i) => ({ mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, underlay: '198.18.0.1', nicId: 'x'.repeat(40) }));
    for (let i = 0; i < pages; i++) {
      if (!ctx.send({ revision: i, endpoints })) {
        sawFull = true;
        await ctx.drained();
      }
    }
  }));
  const c = client(t, address);
  let n = 0;
  await c.stream(Lookup.Bulk, {}, (p) => {
    t.equal(p.revision, n++);
  }).done;
  t.equal(n, pages);
  t.ok(sawFull, 'the handler was told to wait at least once');
});

t.test('wire - a request that does not encode fails alone and leaves the batch intact', async (t) => {
  const { address } = await startServer(t, (s) => s.handle(Lookup.Vl2, (req) => ({ node: `${req.vnid}` })));
  const c = client(t, address);
  await c.connect();
  const before = c.call(Lookup.Vl2, { vnid: 1 });
  // A BigInt where a uint32 goes makes the generated encoder throw halfway through the frame.
  const bad = c.call(Lookup.Vl2, { vnid: 10n as unknown as number });
  const after = c.call(Lookup.Vl2, { vnid: 2 });
  await t.rejects(bad, { code: 'INVALID_ARGUMENT', message: /request for vxfab\.v1\.Lookup\/Vl2 does not encode/ });
  t.equal((await before).node, '1');
  t.equal((await after).node, '2', 'frames around the failed one went out whole');
});

t.test('wire - sendEncoded sends pre-encoded items, the same bytes to many streams', async (t) => {
  const event = vxfab.v1.LookupEvent.encode({ revision: 42, kind: vxfab.v1.EventKind.ENDPOINT_MOVED, vnid: 7, oldNode: 'node-1' }).finish();
  const streams = 20;
  const ctxs: { send(b: Uint8Array): boolean }[] = [];
  let opened!: () => void;
  const allOpen = new Promise<void>((resolve) => { opened = resolve; });
  const { address } = await startServer(t, (s) => s.handleStream(Lookup.Subscribe, (_req, ctx) => new Promise<void>((resolve) => {
    ctxs.push({ send: (b) => ctx.sendEncoded(b) });
    if (ctxs.length === streams) opened();
    ctx.onClose(resolve);
  })));
  const clients = Array.from({ length: streams }, () => client(t, address));
  const got: vxfab.v1.LookupEvent[][] = clients.map(() => []);
  const calls = clients.map((c, i) => c.stream(Lookup.Subscribe, { node: `n${i}`, vnids: [7] }, (ev) => { got[i]!.push(ev); }));
  await allOpen;
  for (const ctx of ctxs) t.equal(ctx.send(event), true, 'not over the high-water mark');
  for (let w = 0; got.some((g) => g.length === 0) && w < 200; w++) await sleep(5);
  for (const g of got) {
    t.equal(g.length, 1);
    t.ok(g[0] instanceof vxfab.v1.LookupEvent);
    t.same([g[0]!.revision, g[0]!.kind, g[0]!.vnid, g[0]!.oldNode], [42, vxfab.v1.EventKind.ENDPOINT_MOVED, 7, 'node-1']);
  }
  for (const c of calls) c.cancel();
  await Promise.all(calls.map((c) => c.done));
});

t.test('wire - raw span handler reads the body where it lies, on the fast and the general path', async (t) => {
  const cached = vxfab.v1.Vl2Reply.encode({ underlay: '198.18.1.1', port: 4789, node: 'span' }).finish();
  const seen: { vnid: number; mac: string }[] = [];
  const { address, port } = await startServer(t, (s) => {
    s.handleRawSpan(Lookup.Vl2.path, (buf, start, end) => {
      const req = vxfab.v1.Vl2Request.decode(buf.slice(start, end));
      seen.push({ vnid: req.vnid, mac: req.mac });
      if (req.vnid === 0) throw new VxfabError('INVALID_ARGUMENT', 'vnid 0', { field: 'vnid', value: '0' });
      return cached;
    });
  });
  const c = client(t, address);
  const replies = await Promise.all([1, 2, 3].map((vnid) => c.call(Lookup.Vl2, { vnid, mac: `02:00:00:00:00:0${vnid}` })));
  t.same(replies.map((r) => r.node), ['span', 'span', 'span']);
  await t.rejects(c.call(Lookup.Vl2, { vnid: 0 }), { code: 'INVALID_ARGUMENT', field: 'vnid' });
  // A REQUEST with an unknown field takes the generated decoder's path: same handler, same body.
  const peer = await rawPeer(t, port);
  peer.send(HELLO);
  const body = vxfab.v1.Vl2Request.encode({ vnid: 9, mac: '02:00:00:00:00:09' }).finish();
  const frame = vxfab.v1.Frame.encode({ kind: K.REQUEST, id: 5, method: Lookup.Vl2.path, body }).uint32((15 << 3) | 0).uint32(1).finish();
  peer.socket.write(Buffer.concat([Buffer.from([frame.length]), frame]));
  const hello = await peer.next();
  t.equal(hello.kind, K.HELLO);
  const reply = await peer.next();
  t.same([reply.kind, reply.id], [K.REPLY, 5]);
  t.equal(vxfab.v1.Vl2Reply.decode(reply.body).node, 'span');
  t.same(seen.map((s) => s.vnid), [1, 2, 3, 0, 9]);
});
