// Starts a real `vxfab serve` child process on an ephemeral loopback port with a fresh data
// directory, and runs `vxfab` CLI commands against it. Everything is stopped and removed in the
// test's teardown, also when the test fails.
//
// serve is secure by default: it writes DATA/admin.credentials, and runCli passes that file
// (VXFAB_CREDENTIALS) to every command aimed at a serve started here, unless the command names
// credentials itself. `tls` is the same for RpcClients made in the test. `insecure: true` starts
// a plain-TCP serve (loopback only) for tests of agents that have no certificate.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCredentials } from '../../src/security/credentials.js';
import type { ClientTlsOptions } from '../../src/wire/transport/tls.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface ServeProcess {
  address: string;
  dataDir: string;
  child: ChildProcess;
  /** DATA/admin.credentials (undefined when insecure). */
  credentials: string | undefined;
  /** Client TLS options with the admin credentials, for RpcClients ({} when insecure: spread it). */
  tls: { tls?: ClientTlsOptions };
  /** SIGTERM and wait for exit; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** Starts a new serve process on the same data directory (after stop). */
  restart(): Promise<ServeProcess>;
}

/** Serve addresses started here, and the admin credentials file of each. */
const adminCredentials = new Map<string, string>();
const adminTls = new Map<string, ClientTlsOptions>();

/** The admin credentials file of a serve started here at `address`, if it is secure. */
export function credentialsFor(address: string): string | undefined {
  return adminCredentials.get(address);
}

/** RpcClient options to reach a serve started here as its administrator ({} for an insecure one). */
export function tlsFor(address: string): { tls?: ClientTlsOptions } {
  const tls = adminTls.get(address);
  return tls === undefined ? {} : { tls };
}

export interface StartServeOptions {
  dataDir?: string;
  listen?: string;
  insecure?: boolean;
  /** More serve arguments (--ca-cert …). */
  args?: string[];
}

export async function startServe(t: Teardown, options: StartServeOptions = {}): Promise<ServeProcess> {
  const dataDir = options.dataDir ?? await mkdtemp(join(tmpdir(), 'vxfab-serve-'));
  if (!options.dataDir) t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', options.listen ?? '127.0.0.1:0', '--data', dataDir, '--log-level', 'warn',
    ...(options.insecure ? ['--insecure'] : []), ...(options.args ?? [])], {
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
  const credentials = options.insecure ? undefined : join(dataDir, 'admin.credentials');
  let tls: ServeProcess['tls'] = {};
  if (credentials !== undefined) {
    adminCredentials.set(address, credentials);
    const c = await readCredentials(credentials);
    tls = { tls: { credentials: c, caPem: c.caPem } };
    adminTls.set(address, tls.tls!);
  }
  const proc: ServeProcess = {
    address, dataDir, child, credentials, tls,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async restart() {
      return startServe(t, { ...options, dataDir });
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
  const at = args.indexOf('--server');
  const server = at >= 0 ? args[at + 1] : env.VXFAB_SERVER ?? process.env.VXFAB_SERVER;
  const creds = server === undefined ? undefined : adminCredentials.get(server);
  const named = args.includes('--credentials') || env.VXFAB_CREDENTIALS !== undefined;
  const withCreds = creds !== undefined && !named ? { VXFAB_CREDENTIALS: creds } : {};
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...withCreds, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`vxfab ${args.join(' ')} timed out`)); }, timeoutMs);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}
