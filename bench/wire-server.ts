// The server half of bench/wire.ts and bench/wire-fuzz.ts, run as a child process so that client
// and server each have a core. Usage: node dist/bench/wire-server.js raw|rpc|rpc-raw|fuzz. Prints
// the port it listens on (one line), then serves until its stdin closes; a line "mem" on stdin
// gets a line of JSON with its memory (process.memoryUsage()).
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Lookup } from '../src/wire/gen/services.js';
import { vxfab } from '../src/wire/gen/proto.js';
import { RpcServer } from '../src/wire/transport/index.js';
import { fuzzTarget } from '../test/wire/fuzz-frames.js';

/** The fuzz target's largest frame: small, so that oversize lengths are common. */
export const FUZZ_MAX_FRAME = 256 * 1024;

/** The reply both RPC handlers give: a typical VL2 answer. */
export const BENCH_REPLY = { underlay: '198.18.3.17', port: 4789, node: 'node-0017' };

async function main(mode: string): Promise<void> {
  let close: () => Promise<void>;
  let port: number;
  if (mode === 'raw') {
    const server = createServer({ noDelay: true }, (socket) => {
      let pending: Buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        // Echo every complete length-prefixed frame, one write per received chunk.
        const buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        let pos = 0;
        for (;;) {
          let len = 0, shift = 1, p = pos, complete = false;
          while (p < buf.length) {
            const b = buf[p++]!;
            len += (b & 0x7f) * shift;
            shift *= 128;
            if (b < 0x80) { complete = true; break; }
          }
          if (!complete || p + len > buf.length) break;
          pos = p + len;
        }
        if (pos > 0) socket.write(buf.subarray(0, pos));
        pending = buf.subarray(pos);
      });
      socket.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  } else {
    const fuzz = mode === 'fuzz';
    const server = new RpcServer({ identity: 'bench', logger: pino({ level: 'silent' }), ...(fuzz ? { maxFrameBytes: FUZZ_MAX_FRAME } : {}) });
    if (fuzz) {
      fuzzTarget(server);
    } else if (mode === 'rpc-raw') {
      const cached = vxfab.v1.Vl2Reply.encode(BENCH_REPLY).finish();
      server.handleRaw(Lookup.Vl2.path, () => cached);
    } else {
      server.handle(Lookup.Vl2, () => BENCH_REPLY);
    }
    port = (await server.listen('127.0.0.1', 0)).port;
    close = () => server.close();
  }
  process.stdout.write(`${port}\n`);
  process.stdin.on('data', (d: Buffer) => {
    if (d.toString().includes('mem')) process.stdout.write(`${JSON.stringify(process.memoryUsage())}\n`);
  });
  process.stdin.on('end', () => void close().then(() => process.exit(0)));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  void main(process.argv[2] ?? 'rpc');
}
