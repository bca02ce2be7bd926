// Starts a real `vxfab serve` child process on an ephemeral loopback port with a fresh data
// directory, and runs `vxfab` CLI commands against it. Everything is stopped and removed in the
// test's teardown, also when the test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface ServeProcess {
  address: string;
  dataDir: string;
  child: ChildProcess;
  /** SIGTERM and wait for exit; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** Starts a new serve process on the same data directory (after stop). */
  restart(): Promise<ServeProcess>;
}

export async function startServe(t: Teardown, options: { dataDir?: string; listen?: string } = {}): Promise<ServeProcess> {
  const dataDir = options.dataDir ?? await mkdtemp(join(tmpdir(), 'vxfab-serve-'));
  if (!options.dataDir) t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', options.listen ?? '127.0.0.1:0', '--data', dataDir, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited: Promise<number | null> = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`vxfab serve did not start in 15 s: ${stderr}`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`vxfab serve exited with ${code}: ${stderr}`)); });
  });
  const proc: ServeProcess = {
    address, dataDir, child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async restart() {
      return startServe(t, { dataDir, listen: options.listen });
    },
  };
  return proc;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `vxfab ARGS` to completion (bounded by a timeout). */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`vxfab ${args.join(' ')} timed out`)); }, timeoutMs);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}
