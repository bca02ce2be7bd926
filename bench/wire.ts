// Wire benchmark: small unary calls between two Node processes over one TCP connection, against a
// raw echo of bare length-prefixed frames of the same sizes (same processes, same framing, no
// protobuf, no call bookkeeping). The ratio is what counts; absolute figures depend on the machine.
//
// Run: npm run build && node dist/bench/wire.js [seconds-per-case [rounds]]
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { encodeFrame } from '../src/wire/frame-encoder.js';
import { vxfab } from '../src/wire/gen/proto.js';
import { Lookup } from '../src/wire/gen/services.js';
import { RpcClient } from '../src/wire/transport/index.js';
import { BENCH_REPLY } from './wire-server.js';

const REQUEST = { vnid: 4242, mac: '02:00:5e:10:00:01' };

interface Server {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startServer(mode: 'raw' | 'rpc' | 'rpc-raw'): Promise<Server> {
  const script = fileURLToPath(new URL('./wire-server.js', import.meta.url));
  const child = spawn(process.execPath, [script, mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  return {
    port,
    child,
    stop: () => new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.stdin!.end();
      setTimeout(() => child.kill(), 2000).unref();
    }),
  };
}

/** Raw echo client: keeps `inflight` frames outstanding, one write per received chunk. */
async function runRaw(port: number, inflight: number, frame: Uint8Array, seconds: number): Promise<number> {
  const socket: Socket = connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const size = frame.length;
  let done = 0;
  let stopAt = 0;
  let buffered = 0;
  let counting = false;
  const finished = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      // Frames have a fixed size here, so counting bytes counts frames.
      buffered += chunk.length;
      const n = Math.floor(buffered / size);
      buffered -= n * size;
      if (counting) done += n;
      if (Date.now() >= stopAt && counting) {
        counting = false;
        resolve();
        return;
      }
      if (n > 0) socket.write(n === 1 ? frame : Buffer.concat(Array.from({ length: n }, () => frame)));
    });
  });
  const warmup = 300;
  stopAt = Date.now() + warmup + seconds * 1000;
  socket.write(Buffer.concat(Array.from({ length: inflight }, () => frame)));
  await new Promise((r) => setTimeout(r, warmup));
  counting = true;
  const t0 = Date.now();
  await finished;
  const rate = done / ((Date.now() - t0) / 1000);
  socket.destroy();
  return rate;
}

async function runRpc(port: number, inflight: number, seconds: number): Promise<number> {
  const client = new RpcClient({ address: `127.0.0.1:${port}`, role: vxfab.v1.Role.ROLE_BENCH, identity: 'bench',
    logger: pino({ level: 'silent' }) });
  await client.connect();
  let done = 0;
  let counting = false;
  let stop = false;
  const loop = async (): Promise<void> => {
    while (!stop) {
      await client.call(Lookup.Vl2, REQUEST);
      if (counting) done++;
    }
  };
  const loops = Array.from({ length: inflight }, loop);
  await new Promise((r) => setTimeout(r, 300));
  counting = true;
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const rate = done / ((Date.now() - t0) / 1000);
  stop = true;
  await Promise.all(loops);
  await client.close();
  return rate;
}

/**
 * Runs every case `rounds` times, interleaved, `seconds` each, and reports each case's best round:
 * on a shared 2-core machine a neighbour's burst lowers whichever case it lands on, and
 * interleaving plus best-of keeps that from deciding the ratio.
 */
export async function runWireBench(seconds = 1, rounds = 3): Promise<void> {
  // Raw frames the size of the real ones, so both sides move the same bytes.
  const reqFrame = encodeFrame({ kind: vxfab.v1.FrameKind.REQUEST, id: 123456, method: Lookup.Vl2.path,
    body: vxfab.v1.Vl2Request.encode(REQUEST).finish() });
  const resFrame = encodeFrame({ kind: vxfab.v1.FrameKind.REPLY, id: 123456,
    body: vxfab.v1.Vl2Reply.encode(BENCH_REPLY).finish() });
  // The echo returns what it gets, so use the larger of the two for both directions.
  const size = Math.max(reqFrame.length, resFrame.length);
  const rawFrame = Buffer.alloc(size, 0x61);
  rawFrame[0] = size - 1;

  const servers = { raw: await startServer('raw'), rpc: await startServer('rpc'), rpcRaw: await startServer('rpc-raw') };
  const cases = [1, 64].flatMap((n) => [
    { name: 'raw echo (baseline)', n, run: () => runRaw(servers.raw.port, n, rawFrame, seconds) },
    { name: 'RpcClient → handle()', n, run: () => runRpc(servers.rpc.port, n, seconds) },
    { name: 'RpcClient → handleRaw()', n, run: () => runRpc(servers.rpcRaw.port, n, seconds) },
  ]);
  const best = new Map<string, number>();
  try {
    for (let r = 0; r < rounds; r++) {
      for (const c of cases) {
        const key = `${c.name}/${c.n}`;
        best.set(key, Math.max(best.get(key) ?? 0, await c.run()));
      }
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
  const cpu = cpus();
  console.log(`wire bench: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, node ${process.version}, ` +
    `best of ${rounds} × ${seconds} s per case, frames ${reqFrame.length}/${resFrame.length} B (raw echo ${size} B each way)`);
  console.log('case                      in flight      calls/s   raw echo/s   ratio');
  for (const c of cases) {
    const rate = best.get(`${c.name}/${c.n}`)!;
    const base = best.get(`raw echo (baseline)/${c.n}`)!;
    console.log(`${c.name.padEnd(26)}${String(c.n).padStart(9)}${fmt(rate)}${fmt(base)}   ${(rate / base).toFixed(2)}`);
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(13);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  void runWireBench(Number(process.argv[2] ?? 1), Number(process.argv[3] ?? 3));
}
