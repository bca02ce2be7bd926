import { connect, createServer, type Socket } from 'node:net';
import t from 'tap';
import { encodeFrame } from '../../src/wire/frame-encoder.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { Controller, Lookup } from '../../src/wire/gen/services.js';
import { adoptWithSlabReads, SlabReads } from '../../src/wire/transport/slab-reads.js';
import { client, HELLO, rawPeer, sleep, startServer } from './harness.js';

/** Feeds `data` to `reads` the way Node's onread does: into the buffer it offers, then the callback. */
function deliver(reads: SlabReads, data: Buffer): void {
  const room = reads.options.buffer() as Buffer;
  const n = Math.min(room.length, data.length);
  data.copy(room, 0, 0, n);
  reads.options.callback(n, room);
}

t.test('slab reads - chunks are views of shared slabs and keep their bytes after later reads', async (t) => {
  const reads = new SlabReads();
  const chunks: Buffer[] = [];
  reads.sink = (c) => chunks.push(c);
  const sent: Buffer[] = [];
  for (let i = 0; i < 400; i++) {
    const data = Buffer.alloc(1 + (i * 37) % 900, i & 0xff);
    sent.push(data);
    deliver(reads, data);
  }
  t.equal(chunks.length, 400);
  t.same(chunks.map((c) => c.length), sent.map((s) => s.length), 'one chunk per read, of the bytes read');
  t.ok(chunks.every((c, i) => c.equals(sent[i]!)), 'every chunk still holds what was read into it');
  t.ok(chunks[1]!.buffer === chunks[0]!.buffer, 'consecutive small reads share one slab');
  t.equal(reads.reads, 400);
  t.ok(reads.slabs < 400 / 10, `400 reads used ${reads.slabs} slabs`);
  const sizes = new Set(chunks.map((c) => c.buffer.byteLength));
  t.same([...sizes].sort((a, b) => a - b), [4096, 8192, 16384, 32768, 65536], 'slabs double from 4 KiB to 64 KiB');
});

t.test('slab reads - each read is offered at least 2 KiB', async (t) => {
  const reads = new SlabReads();
  reads.sink = () => undefined;
  for (let i = 0; i < 200; i++) {
    const room = reads.options.buffer() as Buffer;
    t.ok(room.length >= 2048, `room ${room.length}`);
    reads.options.callback(Math.min(room.length, 1500), room);
  }
});

t.test('slab reads - an adopted accepted socket reads into slabs, talks both ways and releases the server', async (t) => {
  const got: Buffer[] = [];
  let adopted: Socket | undefined;
  let reads: SlabReads | undefined;
  const server = createServer({ pauseOnConnect: true }, (accepted) => {
    reads = new SlabReads();
    reads.sink = (c) => {
      got.push(c);
      adopted!.write(c); // echo
    };
    adopted = adoptWithSlabReads(accepted, reads);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => { if (server.listening) server.close(); });
  const port = (server.address() as { port: number }).port;
  const peer = connect({ port, host: '127.0.0.1' });
  t.teardown(() => peer.destroy());
  await new Promise<void>((r) => peer.once('connect', () => r()));
  let echoed = Buffer.alloc(0);
  peer.on('data', (d: Buffer) => { echoed = Buffer.concat([echoed, d]); });
  const message = Buffer.from('x'.repeat(100_000));
  for (let i = 0; i < 100_000; i += 1000) {
    peer.write(message.subarray(i, i + 1000));
    if (i % 20_000 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  const deadline = Date.now() + 5000;
  while (echoed.length < message.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(Buffer.concat(got).toString(), message.toString(), 'the adopted socket got every byte, in order');
  t.ok(echoed.equals(message), 'and wrote them back');
  t.equal(adopted!.remoteAddress, '127.0.0.1', 'the peer address is the connection\'s');
  t.ok(reads!.slabs < reads!.reads, `${reads!.reads} reads in ${reads!.slabs} slabs`);
  const closed = new Promise<void>((r) => adopted!.once('close', () => r()));
  peer.end();
  await closed;
  // The accepted socket's count on the server was released: close() completes.
  await new Promise<void>((r, j) => server.close((e) => (e ? j(e) : r())));
});

t.test('slab reads - an RpcServer connection answers pipelined calls from slab reads', async (t) => {
  const { address, server } = await startServer(t, (s) => s.handle(Lookup.Vl2, (req) => ({ node: req.mac, port: req.vnid })));
  const c = client(t, address);
  // Waves of 10 calls: many small reads, as a client's pipelined calls make them.
  let wrong = 0;
  for (let w = 0; w < 300; w++) {
    const answers = await Promise.all(Array.from({ length: 10 }, (_, k) =>
      c.call(Lookup.Vl2, { vnid: 1 + w * 10 + k, mac: `02:00:00:00:00:${k.toString(16).padStart(2, '0')}` })));
    wrong += answers.filter((a, k) => a.port !== 1 + w * 10 + k || a.node !== `02:00:00:00:00:${k.toString(16).padStart(2, '0')}`).length;
  }
  t.equal(wrong, 0, 'every answer is its own call\'s');
  // A unary handler gets its decoded request, whose views of the chunk it may keep: no chunk is
  // read over, but slabs still serve many reads each.
  const { reads, readSlabs } = server.bufferStats();
  t.ok(reads > 0 && readSlabs * 4 < reads, `server: ${reads} reads in ${readSlabs} slabs`);
});

t.test('slab reads - a recycling consumer reads into the same bytes until it keeps a chunk', async (t) => {
  const reads = new SlabReads();
  reads.recycles = true;
  const kept: { chunk: Buffer; bytes: Buffer }[] = [];
  const offsets = new Set<number>();
  let n = 0;
  reads.sink = (c) => {
    offsets.add(c.byteOffset);
    if (n++ % 50 === 0) {
      reads.keep();
      kept.push({ chunk: c, bytes: Buffer.from(c) });
    }
  };
  for (let i = 0; i < 1000; i++) deliver(reads, Buffer.alloc(1500, i & 0xff));
  t.ok(kept.every((k) => k.chunk.equals(k.bytes)), 'kept chunks still hold what was read into them');
  // Only the kept chunks take space: a read lands where the last kept chunk ends.
  t.ok(offsets.size <= kept.length + reads.slabs, `1000 reads landed at ${offsets.size} offsets`);
  t.ok(reads.slabs <= 5, `a thousand reads of 1500 B, twenty of them kept, used ${reads.slabs} slabs`);
  const plain = new SlabReads(); // not recycling: every chunk is kept
  plain.sink = () => undefined;
  for (let i = 0; i < 1000; i++) deliver(plain, Buffer.alloc(1500, 1));
  t.ok(plain.slabs > 20, `without recycling the same reads used ${plain.slabs} slabs`);
});

/** A raw-span VL2 handler that answers with the request's own fields, read from the chunk. */
function echoVl2(buf: Uint8Array, start: number, end: number): Uint8Array {
  const req = vxfab.v1.Vl2Request.decode(buf.subarray(start, end));
  return vxfab.v1.Vl2Reply.encode({ node: req.mac, port: req.vnid }).finish();
}

const macOf = (k: number): string => `02:00:00:00:${((k >> 8) & 0xff).toString(16).padStart(2, '0')}:${(k & 0xff).toString(16).padStart(2, '0')}`;

t.test('slab reads - VL2 calls answered in place: each end reads and writes from one slab', async (t) => {
  const { address, server } = await startServer(t, (s) => s.handleRawSpan(Lookup.Vl2.path, echoVl2));
  const c = client(t, address);
  t.equal(Lookup.Vl2.resBytes, false, 'Vl2Reply has no bytes fields: the client need not keep its chunks');
  let wrong = 0;
  for (let w = 0; w < 300; w++) {
    const answers = await Promise.all(Array.from({ length: 10 }, (_, k) => c.call(Lookup.Vl2, { vnid: 1 + w * 10 + k, mac: macOf(w * 10 + k) })));
    wrong += answers.filter((a, k) => a.port !== 1 + w * 10 + k || a.node !== macOf(w * 10 + k)).length;
  }
  t.equal(wrong, 0, 'every answer is its own call\'s');
  const stats = server.bufferStats();
  t.ok(stats.reads >= 300, `${stats.reads} reads`);
  t.equal(stats.readSlabs, 1, 'server: every read went into the first read slab');
  t.equal(stats.writeSlabs, 1, 'server: every reply was written from the first write slab');
  const mine = c.bufferStats();
  t.ok(mine.reads >= 300, `client: ${mine.reads} reads`);
  t.equal(mine.readSlabs, 1, 'client: every reply was read into the first read slab');
  t.equal(mine.writeSlabs, 1, 'client: every call was written from the first write slab');
});

t.test('slab reads - a span handler that answers later still reads its own request', async (t) => {
  const { address, server } = await startServer(t, (s) => s.handleRawSpan(Lookup.Vl2.path, (buf, start, end) =>
    new Promise<Uint8Array>((resolve) => setTimeout(() => resolve(echoVl2(buf, start, end)), 20))));
  const c = client(t, address);
  // Calls sent one at a time while earlier ones wait: each arrives in a read of its own, after
  // the reads of the calls still waiting.
  const calls: Promise<vxfab.v1.Vl2Reply>[] = [];
  for (let k = 0; k < 20; k++) {
    calls.push(c.call(Lookup.Vl2, { vnid: 100 + k, mac: macOf(k) }));
    await sleep(2);
  }
  const answers = await Promise.all(calls);
  t.same(answers.map((a) => [a.port, a.node]), answers.map((_, k) => [100 + k, macOf(k)]), 'every answer is its own call\'s');
  t.ok(server.bufferStats().reads >= 10, 'the calls came in separate reads');
});

t.test('slab reads - a frame split across reads is whole when its last part arrives', async (t) => {
  const { port } = await startServer(t, (s) => s.handleRawSpan(Lookup.Vl2.path, echoVl2));
  const peer = await rawPeer(t, port);
  peer.send(HELLO);
  t.equal((await peer.next()).kind, vxfab.v1.FrameKind.HELLO);
  for (let k = 0; k < 5; k++) {
    const frame = encodeFrame({ kind: vxfab.v1.FrameKind.REQUEST, id: 7 + k, method: Lookup.Vl2.path,
      body: vxfab.v1.Vl2Request.encode({ vnid: 42 + k, mac: macOf(k) }).finish() });
    const cut = 3 + k * 7;
    peer.socket.write(frame.subarray(0, cut));
    await sleep(15);
    peer.socket.write(frame.subarray(cut));
    const reply = await peer.next();
    t.equal(reply.id, 7 + k);
    t.same(vxfab.v1.Vl2Reply.decode(reply.body), vxfab.v1.Vl2Reply.create({ node: macOf(k), port: 42 + k }),
      `a request cut after ${cut} bytes`);
  }
});

t.test('slab reads - a client keeps the chunks that stream items with bytes fields are views of', async (t) => {
  t.equal(Controller.Watch.resBytes, true, 'ChangeBatch holds bytes (KeyChange.value)');
  const valueOf = (k: number): Buffer => Buffer.alloc(40 + (k % 7), k & 0xff);
  const { address } = await startServer(t, (s) => s.handleStream(Controller.Watch, async (_req, stream) => {
    for (let k = 0; k < 200; k++) {
      stream.send({ revision: k + 1, changes: [{ key: `i/nic-${k}`, value: valueOf(k) }] });
      if (k % 10 === 9) await sleep(1); // items arrive in many reads
    }
  }));
  const c = client(t, address);
  const got: vxfab.v1.ChangeBatch[] = [];
  await c.stream(Controller.Watch, { afterRevision: 0 }, (b) => { got.push(b); }).done;
  t.equal(got.length, 200);
  const bad = got.filter((b, k) => !Buffer.from(b.changes[0]!.value ?? []).equals(valueOf(k)));
  t.equal(bad.length, 0, 'every item\'s bytes are still its own after later reads');
  t.ok(c.bufferStats().reads >= 10, `${c.bufferStats().reads} reads`);
});
