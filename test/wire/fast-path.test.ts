import fc from 'fast-check';
import type { Socket } from 'node:net';
import protobuf from 'protobufjs/minimal.js';
import t from 'tap';
import { FrameDecoder, newLiteFrame, readLiteFrame, type LiteFrame } from '../../src/wire/frame-decoder.js';
import { encodeFrame, encodeFrames, type FrameInit } from '../../src/wire/frame-encoder.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { Lookup } from '../../src/wire/gen/services.js';
import { FrameWriter } from '../../src/wire/transport/frame-writer.js';

const K = vxfab.v1.FrameKind;

/** One protobuf field, raw: the fast path must agree with the generated decoder on any mix. */
const arbField = fc.oneof(
  fc.record({ no: fc.constantFrom(1, 2), varint: fc.oneof(fc.nat(300), fc.nat(), fc.constant(0xffffffff), fc.constant(2 ** 31),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })) }),
  fc.record({ no: fc.constantFrom(3, 4), bytes: fc.oneof(fc.uint8Array({ maxLength: 40 }),
    fc.string({ maxLength: 20 }).map((s) => Buffer.from(s, 'utf8'))) }),
  // Fields the fast path leaves to the generated decoder: error, hello, unknown numbers, and the
  // known numbers with the wrong wire type.
  fc.record({ no: fc.constantFrom(5, 6, 7, 99), bytes: fc.uint8Array({ maxLength: 8 }) }),
  fc.record({ no: fc.constantFrom(1, 3, 4, 9), fixed32: fc.nat() }),
);
type Field = { no: number; varint?: number | bigint; bytes?: Uint8Array; fixed32?: number };

function encodeFields(fields: Field[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const f of fields) {
    if (f.varint !== undefined) {
      w.uint32(f.no << 3);
      if (typeof f.varint === 'bigint') w.uint64(protobuf.util.LongBits.from(f.varint.toString()).toLong(true) as never);
      else w.uint64(f.varint);
    } else if (f.bytes !== undefined) w.uint32((f.no << 3) | 2).bytes(f.bytes);
    else w.uint32((f.no << 3) | 5).fixed32(f.fixed32!);
  }
  return w.finish();
}

/** What the generated decoder makes of the bytes, or 'error'. */
function generated(bytes: Uint8Array): { kind: number; id: number; method: string; body: string } | 'error' {
  try {
    const f = vxfab.v1.Frame.decode(bytes);
    return { kind: f.kind, id: f.id, method: f.method, body: Buffer.from(f.body).toString('hex') };
  } catch {
    return 'error';
  }
}

function lite(bytes: Uint8Array, out: LiteFrame): { kind: number; id: number; method: string; body: string } | 'fallback' {
  // Inside a larger buffer, to check that offsets are honoured.
  const buf = Buffer.concat([Buffer.from([0xff, 0xff, 0xff]), bytes, Buffer.from([0x0a])]);
  if (!readLiteFrame(buf, 3, 3 + bytes.length, out)) return 'fallback';
  let method: string;
  try {
    method = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(out.methodStart, out.methodEnd));
  } catch {
    method = '<not utf-8>';
  }
  return { kind: out.kind, id: out.id, method, body: buf.subarray(out.bodyStart, out.bodyEnd).toString('hex') };
}

t.test('wire - fast path property: readLiteFrame agrees with the generated Frame decoder', async (t) => {
  const out = newLiteFrame();
  let fast = 0;
  fc.assert(fc.property(fc.array(arbField, { maxLength: 8 }), (fields) => {
    const bytes = encodeFields(fields as Field[]);
    const want = generated(bytes);
    const got = lite(bytes, out);
    if (got === 'fallback') return true; // the generated decoder answers: agreement by construction
    fast++;
    return JSON.stringify(got) === JSON.stringify(want);
  }), { numRuns: 2000 });
  t.ok(fast > 200, `the fast path took ${fast} of 2000 frames`);
});

t.test('wire - fast path property: random bytes are read as the generated decoder reads them', async (t) => {
  const out = newLiteFrame();
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
    const got = lite(bytes, out);
    if (got === 'fallback') return true;
    const want = generated(bytes);
    return JSON.stringify(got) === JSON.stringify(want);
  }), { numRuns: 2000 });
  t.pass('2000 random frames');
});

t.test('wire - fast path takes the usual frames and leaves errors and hellos to the generated decoder', async (t) => {
  const out = newLiteFrame();
  const req = encodeFrame({ kind: K.REQUEST, id: 300, method: Lookup.Vl2.path, body: Uint8Array.of(8, 1) });
  t.ok(readLiteFrame(req, 1, req.length, out), 'a request');
  t.same([out.kind, out.id, Buffer.from(req.subarray(out.methodStart, out.methodEnd)).toString()], [K.REQUEST, 300, Lookup.Vl2.path]);
  for (const f of [{ kind: K.REPLY, id: 1, error: { code: 2 } }, { kind: K.HELLO, hello: { protocolVersion: 1 } }] as FrameInit[]) {
    const bytes = encodeFrame(f);
    t.notOk(readLiteFrame(bytes, 1, bytes.length, out), `${K[f.kind!]} with ${f.error ? 'error' : 'hello'} falls back`);
  }
});

t.test('wire - decoder visit gives the same frames as push, common ones in place', async (t) => {
  const frames: FrameInit[] = [
    { kind: K.HELLO, hello: { protocolVersion: 1, identity: 'x' } },
    { kind: K.REQUEST, id: 1, method: Lookup.Vl2.path, body: Uint8Array.of(1, 2, 3) },
    { kind: K.REPLY, id: 2, error: { code: 2, message: 'no' } },
    { kind: K.STREAM_ITEM, id: 3, body: new Uint8Array(300).fill(7) },
    { kind: K.STREAM_END, id: 3 },
  ];
  const bytes = encodeFrames(frames);
  const want = new FrameDecoder().push(bytes).map((f) => [f.kind, f.id, f.method, Buffer.from(f.body).toString('hex'), !!f.error, !!f.hello]);
  const got: unknown[] = [];
  let inPlace = 0;
  new FrameDecoder().visit(bytes, {
    lite: (f) => {
      inPlace++;
      got.push([f.kind, f.id, f.buf.subarray(f.methodStart, f.methodEnd).toString(), f.buf.subarray(f.bodyStart, f.bodyEnd).toString('hex'), false, false]);
    },
    frame: (f) => got.push([f.kind, f.id, f.method, Buffer.from(f.body).toString('hex'), !!f.error, !!f.hello]),
  });
  t.same(got, want);
  t.equal(inPlace, 3, 'request, item and end read in place');
});

/** A FrameWriter over a fake socket that keeps what it is given. */
function recordingWriter(): { w: FrameWriter; bytes: () => Buffer; writes: () => number } {
  const chunks: Buffer[] = [];
  const socket = { destroyed: false, writable: true, write: (b: Buffer) => { chunks.push(Buffer.from(b)); return true; } };
  const w = new FrameWriter(socket as unknown as Socket);
  return { w, bytes: () => Buffer.concat(chunks), writes: () => chunks.length };
}

t.test('wire - FrameWriter writes the generated encoder\'s bytes, across slabs', async (t) => {
  const { w, bytes } = recordingWriter();
  const want: FrameInit[] = [];
  w.cork();
  for (let i = 0; i < 3000; i++) {
    const body = vxfab.v1.Vl2Request.encode({ vnid: i, mac: `02:00:00:00:${i % 100}` }).finish();
    if (i % 3 === 0) {
      w.writeMessage(K.REQUEST, i * 977, Lookup.Vl2.path, vxfab.v1.Vl2Request, { vnid: i, mac: `02:00:00:00:${i % 100}` });
      want.push({ kind: K.REQUEST, id: i * 977, method: Lookup.Vl2.path, body });
    } else if (i % 3 === 1) {
      w.writeBody(K.STREAM_ITEM, 0xffffffff - i, '', body);
      want.push({ kind: K.STREAM_ITEM, id: 0xffffffff - i, body });
    } else {
      w.write({ kind: K.REPLY, id: i, error: { code: 2, message: `e${i}` } });
      want.push({ kind: K.REPLY, id: i, error: { code: 2, message: `e${i}` } });
    }
    if (i === 1000) w.writeBody(K.STREAM_ITEM, 5, '', new Uint8Array(40_000).fill(3)); // bigger than a slab
    if (i === 1000) want.push({ kind: K.STREAM_ITEM, id: 5, body: new Uint8Array(40_000).fill(3) });
  }
  w.writeBody(K.STREAM_END, 0, '', new Uint8Array(0));
  want.push({ kind: K.STREAM_END });
  w.uncork();
  t.ok(bytes().equals(Buffer.from(encodeFrames(want))), 'byte for byte what encodeFrames writes');
});

t.test('wire - FrameWriter: a message that does not encode leaves the batch as it was', async (t) => {
  const { w, bytes } = recordingWriter();
  w.cork();
  w.writeMessage(K.REQUEST, 1, Lookup.Vl2.path, vxfab.v1.Vl2Request, { vnid: 1 });
  t.throws(() => w.writeMessage(K.REQUEST, 2, Lookup.Vl2.path, vxfab.v1.Vl2Request, { vnid: 10n as unknown as number }));
  w.writeMessage(K.REQUEST, 3, Lookup.Vl2.path, vxfab.v1.Vl2Request, { vnid: 3 });
  w.uncork();
  const frames = new FrameDecoder().push(bytes());
  t.same(frames.map((f) => [f.id, vxfab.v1.Vl2Request.decode(f.body).vnid]), [[1, 1], [3, 3]]);
});
