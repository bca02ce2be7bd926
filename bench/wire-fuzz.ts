// Fuzz benchmark: a long campaign of malformed and mutated frames (test/wire/fuzz-frames.ts)
// against an RpcServer in a child process, and as baseline the same count of valid frames sent
// the same way (a hello, runs of up to 64 frames per connection, 8 connections at a time). It
// prints frames/s of each and their ratio, the server's crashes (must be 0), what it answered, and
// its RSS before, between and after: what a campaign leaves behind.
//
// Run: npm run build && npm run bench -- wire-fuzz [frames]   (default 1,000,000 of each)
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { FrameFuzzer, runFuzz, type FuzzResult } from '../test/wire/fuzz-frames.js';
import { FUZZ_MAX_FRAME } from './wire-server.js';

interface Child {
  port: number;
  child: ChildProcess;
  /** The child's memoryUsage(), asked over stdin. */
  mem(): Promise<NodeJS.MemoryUsage>;
  exited: boolean;
}

async function startChild(): Promise<Child> {
  const script = fileURLToPath(new URL('./wire-server.js', import.meta.url));
  const child = spawn(process.execPath, [script, 'fuzz'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    wake?.();
  });
  const c: Child = { port: 0, child, exited: false, mem: async () => {
    child.stdin!.write('mem\n');
    return JSON.parse(await nextLine()) as NodeJS.MemoryUsage;
  } };
  child.once('exit', () => { c.exited = true; wake?.(); });
  async function nextLine(): Promise<string> {
    while (lines.length === 0) {
      if (c.exited) throw new Error('fuzz server exited');
      await new Promise<void>((r) => { wake = r; });
    }
    return lines.shift()!;
  }
  c.port = Number(await nextLine());
  return c;
}

const mib = (b: number): string => (b / 1048576).toFixed(1);

export async function runWireFuzzBench(frames = Number(process.argv[3] ?? process.argv[2] ?? 1_000_000)): Promise<void> {
  const n = Number.isFinite(frames) && frames > 0 ? Math.floor(frames) : 1_000_000;
  const server = await startChild();
  try {
    const start = await server.mem();
    const base = await runFuzz(server.port, new FrameFuzzer(1, FUZZ_MAX_FRAME, ['valid']), n, 8, 64);
    const mid = await server.mem();
    const fuzz = await runFuzz(server.port, new FrameFuzzer(20261204, FUZZ_MAX_FRAME), n, 8, 64);
    const end = await server.mem();
    const crashes = server.exited ? 1 : 0;
    const rate = (r: FuzzResult): number => r.frames / (r.ms / 1000);
    const row = (name: string, r: FuzzResult, before: NodeJS.MemoryUsage, after: NodeJS.MemoryUsage): string =>
      `${name.padEnd(22)} ${String(r.frames).padStart(9)} ${String(r.connections).padStart(7)} ${rate(r).toFixed(0).padStart(10)}` +
      ` ${mib(before.rss).padStart(8)} ${mib(after.rss).padStart(8)} ${mib(after.heapUsed).padStart(8)}   hung ${r.hung}, bad replies ${r.badReplies}`;
    process.stdout.write(`wire-fuzz: ${n} frames each, ${cpus()[0]?.model ?? '?'} x${cpus().length}, node ${process.version}\n`);
    process.stdout.write(`${'case'.padEnd(22)} ${'frames'.padStart(9)} ${'conns'.padStart(7)} ${'frames/s'.padStart(10)} ${'RSS0 MiB'.padStart(8)} ${'RSS1 MiB'.padStart(8)} ${'heap MiB'.padStart(8)}\n`);
    process.stdout.write(`${row('valid (baseline)', base, start, mid)}\n`);
    process.stdout.write(`${row('malformed/mutated', fuzz, mid, end)}\n`);
    process.stdout.write(`ratio malformed/valid frames/s: ${(rate(fuzz) / rate(base)).toFixed(2)}; server crashes: ${crashes}\n`);
    process.stdout.write(`answers to the malformed run by code: ${JSON.stringify(fuzz.codes)}\n`);
  } finally {
    await new Promise<void>((resolve) => {
      if (server.exited) return resolve();
      server.child.once('exit', () => resolve());
      server.child.stdin!.end();
      setTimeout(() => server.child.kill(), 3000).unref();
    });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runWireFuzzBench(Number(process.argv[2] ?? 1_000_000));
}
