// The echo baseline server of bench/lookup.ts, run as a child process: returns every complete
// length-prefixed frame it receives, with the vxfab transport's write batching (frames of one
// received chunk go out together, in socket writes of about ECHO_FLUSH_BYTES, the FrameWriter's
// flush size). Prints its port, serves until stdin closes.
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The FrameWriter's flush threshold (src/wire/transport/frame-writer.ts). */
export const ECHO_FLUSH_BYTES = 1024;

async function main(): Promise<void> {
  const server = createServer({ noDelay: true }, (socket) => {
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let pos = 0;
      let from = 0;
      for (;;) {
        let len = 0;
        let shift = 1;
        let p = pos;
        let complete = false;
        while (p < buf.length) {
          const b = buf[p++]!;
          len += (b & 0x7f) * shift;
          shift *= 128;
          if (b < 0x80) { complete = true; break; }
        }
        if (!complete || p + len > buf.length) break;
        pos = p + len;
        if (pos - from >= ECHO_FLUSH_BYTES) {
          socket.write(buf.subarray(from, pos));
          from = pos;
        }
      }
      if (pos > from) socket.write(buf.subarray(from, pos));
      pending = buf.subarray(pos);
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${(server.address() as { port: number }).port}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => server.close(() => process.exit(0)));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) void main();
