// Malformed and mutated frames for fuzzing an RpcServer over TCP (test/wire/fuzz.test.ts, and the
// `wire-fuzz` benchmark), from a seeded PRNG so that a failure can be replayed from its seed.
//
// Each connection says hello, sends a run of frames and ends; a frame that breaks the framing
// (so the server closes) ends its run. What the server answers is decoded and tallied by error
// code: a reply that does not decode, or a connection that does not close, is a server bug.
import { connect } from 'node:net';
import { FrameDecoder } from '../../src/wire/frame-decoder.js';
import { encodeFrame } from '../../src/wire/frame-encoder.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { Lookup } from '../../src/wire/gen/services.js';
import type { RpcServer } from '../../src/wire/transport/index.js';
import { PROTOCOL_VERSION } from '../../src/wire/version.js';

const K = vxfab.v1.FrameKind;

/** The methods a fuzzed server offers: unary (decoded and raw) and a stream. */
export function fuzzTarget(s: RpcServer): void {
  s.handle(Lookup.Vl2, (req) => ({ node: `${req.vnid}/${req.mac}` }));
  s.handleRaw(Lookup.Vl3.path, (body) => vxfab.v1.Vl3Reply.encode({ mac: `${body.length}` }).finish());
  s.handleStream(Lookup.Bulk, (req, ctx) => {
    ctx.send({ revision: req.vnid, endpoints: [] });
  });
}

/** mulberry32: small, fast, good enough to pick cases. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export const FUZZ_KINDS = ['valid', 'garbage-tail', 'bad-varint', 'huge-length', 'unknown-method', 'wrong-body',
  'bad-utf8', 'deep-unknown', 'mutated', 'wrong-kind'] as const;
export type FuzzKind = (typeof FUZZ_KINDS)[number];

export interface FuzzFrame {
  kind: FuzzKind;
  bytes: Buffer;
  /** May break the framing: the run ends after it. */
  breaks: boolean;
}

function varint(v: number): Buffer {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A length-prefixed Frame of these raw Frame bytes. */
function delimited(frame: Buffer): Buffer {
  return Buffer.concat([varint(frame.length), frame]);
}

/** Nested groups of an unknown field, `depth` deep: protobuf decoders skip them recursively. */
function deepGroups(field: number, depth: number): Buffer {
  const start = (field << 3) | 3;
  const end = (field << 3) | 4;
  const b = Buffer.alloc(depth * 2 * varint(start).length);
  const s = varint(start);
  const e = varint(end);
  let p = 0;
  for (let i = 0; i < depth; i++) p += s.copy(b, p);
  for (let i = 0; i < depth; i++) p += e.copy(b, p);
  return b.subarray(0, p);
}

export class FrameFuzzer {
  private readonly rand: () => number;
  private id = 0;

  constructor(seed: number, private readonly maxFrameBytes: number, private readonly kinds: readonly FuzzKind[] = FUZZ_KINDS) {
    this.rand = prng(seed);
  }

  /** A number in [0, n), from the fuzzer's seed. */
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  private bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  private nextId(): number {
    this.id = (this.id % 0xfffffffe) + 1;
    return this.id;
  }

  /** A good VL2 request, as a well-behaved client sends it. */
  valid(): Buffer {
    return encodeFrame({ kind: K.REQUEST, id: this.nextId(), method: Lookup.Vl2.path,
      body: vxfab.v1.Vl2Request.encode({ vnid: 1 + this.int(1000), mac: `02:00:00:00:00:${(this.int(256)).toString(16).padStart(2, '0')}` }).finish() }) as Buffer;
  }

  /** A frame that keeps the connection (call errors at worst). */
  nextKeeping(): FuzzFrame {
    for (;;) {
      const f = this.next();
      if (!f.breaks) return f;
    }
  }

  next(): FuzzFrame {
    const kind = this.kinds[this.int(this.kinds.length)]!;
    switch (kind) {
      case 'valid':
        return { kind, bytes: this.valid(), breaks: false };
      case 'garbage-tail':
        return { kind, bytes: Buffer.concat([this.valid(), this.bytes(1 + this.int(64))]), breaks: true };
      case 'bad-varint': {
        // A prefix over 5 bytes, or a frame whose field varint never ends inside it.
        if (this.rand() < 0.5) return { kind, bytes: Buffer.concat([Buffer.alloc(6 + this.int(4), 0xff), Buffer.from([1])]), breaks: true };
        const n = 1 + this.int(12);
        return { kind, bytes: delimited(Buffer.concat([Buffer.from([0x10]), Buffer.alloc(n, 0xff)])), breaks: true };
      }
      case 'huge-length': {
        const len = this.maxFrameBytes + 1 + this.int(0xffffffff - this.maxFrameBytes - 1);
        return { kind, bytes: Buffer.concat([varint(len), this.bytes(this.int(32))]), breaks: true };
      }
      case 'unknown-method': {
        const method = `vxfab.v1.${this.bytes(1 + this.int(24)).toString('base64')}/X`;
        return { kind, bytes: encodeFrame({ kind: K.REQUEST, id: this.nextId(), method, body: this.bytes(this.int(32)) }) as Buffer, breaks: false };
      }
      case 'wrong-body': {
        // Random bytes, another message, or a Vl2Request with a field of the wrong wire type.
        const r = this.int(3);
        const body = r === 0 ? this.bytes(1 + this.int(64))
          : r === 1 ? Buffer.from(vxfab.v1.BulkPage.encode({ revision: 5, endpoints: [{ mac: 'x', ips: ['100.64.0.1'] }] }).finish())
          : Buffer.from([0x0a, 0x03, 0x01, 0x02, 0x03, 0x12, 0x01]);
        const method = this.rand() < 0.8 ? Lookup.Vl2.path : Lookup.Bulk.path;
        return { kind, bytes: encodeFrame({ kind: K.REQUEST, id: this.nextId(), method, body }) as Buffer, breaks: false };
      }
      case 'bad-utf8': {
        const bad = Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0xff]);
        const cut = bad.subarray(this.int(bad.length));
        if (this.rand() < 0.5) {
          // In the method: the generated decoder may refuse the frame.
          const m = Buffer.concat([Buffer.from('vxfab.v1.Lookup/'), cut]);
          return { kind, bytes: delimited(Buffer.concat([Buffer.from([0x08, K.REQUEST, 0x10, 1, 0x1a]), varint(m.length), m])), breaks: true };
        }
        // In a string field of the body (Vl2Request.mac).
        const body = Buffer.concat([Buffer.from([0x12]), varint(cut.length), cut]);
        return { kind, bytes: encodeFrame({ kind: K.REQUEST, id: this.nextId(), method: Lookup.Vl2.path, body }) as Buffer, breaks: false };
      }
      case 'deep-unknown': {
        const depth = 1 + this.int(this.rand() < 0.05 ? 50_000 : 200);
        if (this.rand() < 0.5) {
          // In the Frame itself: a decode failure (too deep) breaks the connection.
          const g = deepGroups(15, Math.min(depth, Math.floor(this.maxFrameBytes / 4)));
          return { kind, bytes: delimited(Buffer.concat([Buffer.from([0x08, K.REQUEST, 0x10, 1]), g])), breaks: true };
        }
        const body = Buffer.concat([deepGroups(9, Math.min(depth, Math.floor(this.maxFrameBytes / 4))), Buffer.from([0x08, 7])]);
        return { kind, bytes: encodeFrame({ kind: K.REQUEST, id: this.nextId(), method: Lookup.Vl2.path, body }) as Buffer, breaks: false };
      }
      case 'mutated': {
        const b = Buffer.from(this.valid());
        for (let n = 1 + this.int(3); n > 0; n--) b[this.int(b.length)] = this.int(256);
        return { kind, bytes: b, breaks: true };
      }
      case 'wrong-kind': {
        const k = [K.REPLY, K.STREAM_ITEM, K.STREAM_END, K.HELLO, K.CANCEL, 99][this.int(6)]!;
        return { kind, bytes: encodeFrame({ kind: k, id: this.nextId() }) as Buffer, breaks: k !== K.CANCEL };
      }
    }
  }
}

export interface FuzzResult {
  frames: number;
  connections: number;
  /** Error frames received, by vxfab.v1.ErrorCode name; OK counts good replies. */
  codes: Record<string, number>;
  /** Server output that did not decode as frames: a server bug. */
  badReplies: number;
  /** Connections the server neither closed nor answered within the time allowed: a server bug. */
  hung: number;
  ms: number;
}

/**
 * Sends `frames` frames from `fuzzer` to the server at `port` over `parallel` connections at a
 * time, each connection a hello and a run of up to `run` frames.
 */
export async function runFuzz(port: number, fuzzer: FrameFuzzer, frames: number, parallel = 4, run = 32): Promise<FuzzResult> {
  const res: FuzzResult = { frames: 0, connections: 0, codes: {}, badReplies: 0, hung: 0, ms: 0 };
  const hello = encodeFrame({ kind: K.HELLO, hello: { protocolVersion: PROTOCOL_VERSION, role: vxfab.v1.Role.ROLE_BENCH, identity: 'fuzz' } });
  const t0 = performance.now();
  const one = (): Promise<void> => new Promise((resolve) => {
    const parts: Uint8Array[] = [hello];
    const n = 1 + fuzzer.int(run);
    // Frames that keep the connection, then one of any kind (which may break it).
    for (let i = 0; i < n && res.frames < frames; i++) {
      const f = i < n - 1 ? fuzzer.nextKeeping() : fuzzer.next();
      parts.push(f.bytes);
      res.frames++;
    }
    res.connections++;
    const socket = connect({ host: '127.0.0.1', port });
    const decoder = new FrameDecoder({ maxFrameBytes: 16 << 20 });
    const got: vxfab.v1.Frame[] = [];
    let broken = false;
    socket.on('data', (d: Buffer) => {
      if (broken) return;
      try {
        decoder.pushInto(d, got);
      } catch {
        broken = true;
        res.badReplies++;
      }
    });
    socket.on('error', () => undefined);
    const timer = setTimeout(() => {
      res.hung++;
      socket.destroy();
    }, 10_000);
    socket.once('close', () => {
      clearTimeout(timer);
      for (const f of got) {
        const code = f.error ? (vxfab.v1.ErrorCode[f.error.code ?? 0] ?? String(f.error.code)) : 'OK';
        res.codes[code] = (res.codes[code] ?? 0) + 1;
      }
      resolve();
    });
    socket.once('connect', () => socket.end(Buffer.concat(parts)));
  });
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (res.frames < frames) await one();
  }));
  res.ms = performance.now() - t0;
  return res;
}
