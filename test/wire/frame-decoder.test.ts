import fc from 'fast-check';
import t, { type Test } from 'tap';
import { VxfabError } from '../../src/model/errors.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder } from '../../src/wire/frame-decoder.js';
import { encodeFrame, encodeFrames, type FrameInit } from '../../src/wire/frame-encoder.js';
import { vxfab } from '../../src/wire/gen/proto.js';

const K = vxfab.v1.FrameKind;

const sample: FrameInit[] = [
  { kind: K.HELLO, hello: { protocolVersion: 1, role: vxfab.v1.Role.ROLE_AGENT, identity: 'node-1' } },
  { kind: K.REQUEST, id: 1, method: 'vxfab.v1.Lookup/Vl2', body: vxfab.v1.Vl2Request.encode({ vnid: 7, mac: '02:00:00:00:00:01' }).finish() },
  { kind: K.REPLY, id: 1, error: { code: vxfab.v1.ErrorCode.NOT_FOUND, message: 'mac "02:00:00:00:00:01": not found', field: 'mac', value: '02:00:00:00:00:01' } },
  { kind: K.STREAM_ITEM, id: 300, body: new Uint8Array(300).fill(9) }, // a 2-byte length prefix
  { kind: K.STREAM_END, id: 300 },
  { kind: K.CANCEL, id: 0xffffffff },
];

/** What matters of a frame, comparable with t.same. */
function view(f: vxfab.v1.Frame): object {
  return {
    kind: f.kind, id: f.id, method: f.method, body: Buffer.from(f.body).toString('hex'),
    error: f.error ? { code: f.error.code, message: f.error.message, field: f.error.field, value: f.error.value } : null,
    hello: f.hello ? { protocolVersion: f.hello.protocolVersion, role: f.hello.role, identity: f.hello.identity } : null,
  };
}
const expected = sample.map((f) => view(vxfab.v1.Frame.decode(vxfab.v1.Frame.encode(f).finish())));

function protocolError(t: Test, fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
    t.fail('expected a PROTOCOL_ERROR');
  } catch (e) {
    t.ok(e instanceof VxfabError, 'a VxfabError');
    t.equal((e as VxfabError).code, 'PROTOCOL_ERROR');
    t.match((e as VxfabError).message, pattern);
  }
}

t.test('wire - decoder reads merged frames from one chunk', async (t) => {
  const d = new FrameDecoder();
  const frames = d.push(encodeFrames(sample));
  t.same(frames.map(view), expected);
  t.equal(d.buffered, 0);
  t.doesNotThrow(() => d.end());
});

t.test('wire - decoder reads frames fed one byte at a time', async (t) => {
  const d = new FrameDecoder();
  const bytes = encodeFrames(sample);
  const got: vxfab.v1.Frame[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const out = d.push(bytes.subarray(i, i + 1));
    got.push(...out);
    if (i < bytes.length - 1) t.ok(d.buffered > 0 || out.length > 0, `byte ${i} is held or completes a frame`);
  }
  t.same(got.map(view), expected);
  t.equal(d.buffered, 0);
});

t.test('wire - decoder reads frames split at every position', async (t) => {
  const bytes = encodeFrames(sample);
  for (let cut = 1; cut < bytes.length; cut++) {
    const d = new FrameDecoder();
    const got = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
    t.same(got.map(view), expected, `cut at ${cut}`);
  }
});

t.test('wire - decoded body is a view of the chunk, not a copy', async (t) => {
  const bytes = Buffer.from(encodeFrame(sample[3]!));
  const [frame] = new FrameDecoder().push(bytes);
  t.equal(frame!.body.buffer, bytes.buffer, 'same backing memory');
});

t.test('wire - decoder refuses an oversize length before buffering it', async (t) => {
  const d = new FrameDecoder({ maxFrameBytes: 100 });
  // Only the prefix (101) arrives: the decoder must not wait for the body to complain.
  protocolError(t, () => d.push(Uint8Array.of(101)), /frame of 101 bytes is over the limit of 100 bytes/);
  const big = new FrameDecoder();
  const prefix = Uint8Array.of(0x81, 0x80, 0x40); // 1 + 0x40 << 14 = 1048577
  protocolError(t, () => big.push(prefix), new RegExp(`frame of 1048577 bytes is over the limit of ${DEFAULT_MAX_FRAME_BYTES} bytes`));
  // Exactly at the limit is fine.
  const atLimit = new FrameDecoder({ maxFrameBytes: encodeFrame(sample[3]!).length - 2 });
  t.equal(atLimit.push(encodeFrame(sample[3]!)).length, 1);
});

t.test('wire - decoder refuses a length prefix longer than 5 bytes', async (t) => {
  const d = new FrameDecoder();
  protocolError(t, () => d.push(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01)), /longer than 5 bytes/);
  const split = new FrameDecoder();
  t.same(split.push(Uint8Array.of(0x80, 0x80, 0x80)), [], 'an incomplete prefix waits');
  protocolError(t, () => split.push(Uint8Array.of(0x80, 0x80)), /longer than 5 bytes/);
});

t.test('wire - decoder refuses bytes that are not a Frame', async (t) => {
  // Length 3, then field 4 (bytes) claiming 100 bytes that are not there.
  protocolError(t, () => new FrameDecoder().push(Uint8Array.of(3, 0x22, 100, 1)), /frame of 3 bytes does not decode as vxfab\.v1\.Frame/);
  // Wire type 7 does not exist.
  protocolError(t, () => new FrameDecoder().push(Uint8Array.of(1, 0x0f)), /does not decode/);
});

t.test('wire - decoder end() reports a truncated frame', async (t) => {
  const bytes = encodeFrame(sample[1]!);
  const d = new FrameDecoder();
  t.same(d.push(bytes.subarray(0, bytes.length - 3)), []);
  protocolError(t, () => d.end(), new RegExp(`stream ended after ${bytes.length - 3} bytes of a frame of ${bytes.length} bytes`));
  const p = new FrameDecoder();
  p.push(Uint8Array.of(0x80));
  protocolError(t, () => p.end(), /of a frame length prefix/);
});

t.test('wire - decoder rejects a bad limit', async (t) => {
  t.throws(() => new FrameDecoder({ maxFrameBytes: 0 }), { code: 'INVALID_ARGUMENT', field: 'maxFrameBytes' });
});

const arbFrame: fc.Arbitrary<FrameInit> = fc.record({
  kind: fc.integer({ min: 0, max: 6 }),
  id: fc.nat(),
  method: fc.string({ maxLength: 40 }),
  body: fc.uint8Array({ maxLength: 600 }),
  error: fc.option(fc.record({ code: fc.integer({ min: 0, max: 14 }), message: fc.string(), field: fc.string(), value: fc.string() }), { nil: undefined }),
});

t.test('wire - decoder property: any chunking of valid frames gives back the frames', async (t) => {
  fc.assert(fc.property(fc.array(arbFrame, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, cuts) => {
    const bytes = encodeFrames(frames);
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const d = new FrameDecoder();
    const got: vxfab.v1.Frame[] = [];
    let from = 0;
    for (const p of [...points, bytes.length]) {
      got.push(...d.push(bytes.subarray(from, p)));
      from = p;
    }
    d.end();
    const want = frames.map((f) => view(vxfab.v1.Frame.decode(vxfab.v1.Frame.encode(f).finish())));
    return JSON.stringify(got.map(view)) === JSON.stringify(want);
  }), { numRuns: 300 });
  t.pass('300 random chunkings decoded');
});

t.test('wire - decoder property: random bytes never crash it with anything but PROTOCOL_ERROR', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
    const d = new FrameDecoder({ maxFrameBytes: 1000 });
    try {
      d.push(bytes);
      d.end();
    } catch (e) {
      return e instanceof VxfabError && e.code === 'PROTOCOL_ERROR';
    }
    return true;
  }), { numRuns: 500 });
  t.pass('500 random inputs');
});

t.test('frame decoder - halt() stops a visit after the frame; resume() visits the rest, in order, across chunks', async (t) => {
  const frames = Array.from({ length: 6 }, (_, i) => encodeFrame({ kind: K.REQUEST, id: i + 1, method: 'vxfab.v1.Lookup/Vl2' }));
  const all = Buffer.concat(frames);
  const cut = all.length - 3; // the last frame is split across two chunks
  const d = new FrameDecoder();
  const ids: number[] = [];
  let haltAt = 2;
  const visitor = {
    lite: (f: { id: number }) => {
      ids.push(f.id);
      if (f.id === haltAt) d.halt();
    },
    frame: (f: vxfab.v1.Frame) => void ids.push(f.id),
  };
  d.visit(all.subarray(0, cut), visitor);
  t.same(ids, [1, 2], 'stopped after the frame that halted');
  t.equal(d.buffered, cut - frames[0]!.length - frames[1]!.length, 'the rest is kept');
  haltAt = 4;
  d.resume(visitor);
  t.same(ids, [1, 2, 3, 4], 'resumed, halted again');
  d.resume(visitor);
  t.same(ids, [1, 2, 3, 4, 5], 'up to the incomplete frame');
  d.resume(visitor);
  t.same(ids, [1, 2, 3, 4, 5], 'an incomplete frame alone is not visited');
  d.visit(all.subarray(cut), visitor);
  t.same(ids, [1, 2, 3, 4, 5, 6], 'completed by the next chunk');
  t.equal(d.buffered, 0);
  // A halt undone within its own frame lets the visit go on.
  const e = new FrameDecoder();
  const seen: number[] = [];
  e.visit(all, { lite: (f) => { seen.push(f.id); e.halt(); e.unhalt(); }, frame: () => undefined });
  t.same(seen, [1, 2, 3, 4, 5, 6]);
});
