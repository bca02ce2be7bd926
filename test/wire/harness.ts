// Helpers for the wire tests: servers and clients that the test's teardown always closes, and a
// raw socket that speaks frames by hand (to misbehave in ways RpcClient never would).
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import type { Test } from 'tap';
import { FrameDecoder } from '../../src/wire/frame-decoder.js';
import { encodeFrame, type FrameInit } from '../../src/wire/frame-encoder.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { RpcClient, RpcServer, type RpcClientOptions, type RpcServerOptions } from '../../src/wire/transport/index.js';
import { PROTOCOL_VERSION } from '../../src/wire/version.js';

export const quiet = pino({ level: 'silent' });

/** A logger whose lines the test can read back. */
export function recordingLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

export async function startServer(t: Test, setup: (s: RpcServer) => void, options: Partial<RpcServerOptions> = {},
  port = 0): Promise<{ server: RpcServer; address: string; port: number }> {
  const server = new RpcServer({ identity: 'test-server', logger: quiet, ...options });
  setup(server);
  const bound = await server.listen('127.0.0.1', port);
  t.teardown(() => server.close());
  return { server, address: `127.0.0.1:${bound.port}`, port: bound.port };
}

export function client(t: Test, address: string, options: Partial<RpcClientOptions> = {}): RpcClient {
  const c = new RpcClient({ address, role: vxfab.v1.Role.ROLE_BENCH, identity: 'test-client', logger: quiet, ...options });
  t.teardown(() => c.close());
  return c;
}

export const HELLO: FrameInit = {
  kind: vxfab.v1.FrameKind.HELLO,
  hello: { protocolVersion: PROTOCOL_VERSION, role: vxfab.v1.Role.ROLE_BENCH, identity: 'raw' },
};

/** A socket that writes whatever bytes the test gives it and decodes the frames it receives. */
export interface RawPeer {
  socket: Socket;
  send(...frames: FrameInit[]): void;
  /** The next frame received; rejects if the connection closes first. */
  next(): Promise<vxfab.v1.Frame>;
  /** Resolves when the server has closed the connection. */
  closed: Promise<void>;
}

export async function rawPeer(t: Test, port: number): Promise<RawPeer> {
  const socket = connect({ host: '127.0.0.1', port });
  t.teardown(() => void socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const decoder = new FrameDecoder();
  const frames: vxfab.v1.Frame[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  socket.on('data', (chunk: Buffer) => {
    decoder.pushInto(chunk, frames);
    wake?.();
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => {
    ended = true;
    wake?.();
    resolve();
  }));
  return {
    socket,
    send: (...fs) => void socket.write(Buffer.concat(fs.map((f) => encodeFrame(f)))),
    closed,
    async next() {
      while (frames.length === 0) {
        if (ended) throw new Error('connection closed before the next frame');
        await new Promise<void>((resolve) => { wake = resolve; });
      }
      return frames.shift()!;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
