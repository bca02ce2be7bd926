import protobuf from 'protobufjs/minimal.js';
import t from 'tap';
import { FrameDecoder } from '../../src/wire/frame-decoder.js';
import { encodeFrame, encodeFrames, writeFrame, writeMessageFrame } from '../../src/wire/frame-encoder.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { Lookup } from '../../src/wire/gen/services.js';

const K = vxfab.v1.FrameKind;

t.test('wire - encodeFrame writes the delimited form encodeDelimited would', async (t) => {
  const frame = { kind: K.REQUEST, id: 9, method: Lookup.Vl2.path, body: Uint8Array.of(8, 7) };
  const bytes = encodeFrame(frame);
  const plain = vxfab.v1.Frame.encode(frame).finish();
  t.equal(bytes[0], plain.length, 'one-byte length prefix');
  t.same(Buffer.from(bytes.subarray(1)), Buffer.from(plain));
  t.same(Buffer.from(encodeFrames([frame, frame])), Buffer.concat([bytes, bytes]));
});

t.test('wire - writeMessageFrame decodes like a frame with a separately encoded body', async (t) => {
  const msg = { vnid: 4242, mac: '02:00:5e:10:00:01' };
  const w = protobuf.Writer.create();
  writeMessageFrame(w, K.REQUEST, 77, Lookup.Vl2.path, vxfab.v1.Vl2Request, msg);
  writeMessageFrame(w, K.REPLY, 78, '', vxfab.v1.Vl2Reply, {}); // empty message: empty body
  writeFrame(w, { kind: K.STREAM_END, id: 79 });
  const frames = new FrameDecoder().push(w.finish());
  t.equal(frames.length, 3);
  const [a, b, c] = frames;
  t.same({ kind: a!.kind, id: a!.id, method: a!.method }, { kind: K.REQUEST, id: 77, method: Lookup.Vl2.path });
  t.same(Buffer.from(a!.body), Buffer.from(vxfab.v1.Vl2Request.encode(msg).finish()));
  t.same({ kind: b!.kind, id: b!.id, method: b!.method, body: b!.body.length }, { kind: K.REPLY, id: 78, method: '', body: 0 });
  t.equal(c!.kind, K.STREAM_END);
  // A large body needs a multi-byte length inside and outside.
  const big = { revision: 1, endpoints: Array.from({ length: 100 }, (_, i) => ({ mac: `m${i}`, nicId: 'n'.repeat(20) })) };
  const wb = protobuf.Writer.create();
  writeMessageFrame(wb, K.STREAM_ITEM, 1, '', vxfab.v1.BulkPage, big);
  const [item] = new FrameDecoder().push(wb.finish());
  t.equal(vxfab.v1.BulkPage.decode(item!.body).endpoints.length, 100);
});
