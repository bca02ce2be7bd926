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

t.test('wire - the worked example in docs/protocol.md is what the encoder writes', async (t) => {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  t.equal(hex(encodeFrame({ kind: K.HELLO, hello: { protocolVersion: 1, role: vxfab.v1.Role.ROLE_AGENT, identity: 'node-1' } })),
    '100801320c080110021a066e6f64652d31');
  t.equal(hex(encodeFrame({ kind: K.REQUEST, id: 1, method: 'vxfab.v1.Lookup/Vl2',
    body: vxfab.v1.Vl2Request.encode({ vnid: 7, mac: '02:00:00:00:00:01' }).finish() })),
    '30080210011a1376786661622e76312e4c6f6f6b75702f566c32221508071211' + '30323a30303a30303a30303a30303a3031');
  t.equal(hex(encodeFrame({ kind: K.REPLY, id: 1,
    body: vxfab.v1.Vl2Reply.encode({ underlay: '198.18.0.2', port: 4789, node: 'node-2' }).finish() })),
    '1d08031001221' + '70a0a3139382e31382e302e3210b5251a066e6f64652d32');
});
