import { connect, createServer, type Socket } from 'node:net';
import t from 'tap';
import { Lookup } from '../../src/wire/gen/services.js';
import { adoptWithSlabReads, SlabReads } from '../../src/wire/transport/slab-reads.js';
import { client, startServer } from './harness.js';

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
  const { reads, slabs } = server.readStats();
  t.ok(reads > 0 && slabs * 4 < reads, `server: ${reads} reads in ${slabs} slabs`);
});
