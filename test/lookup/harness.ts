// An in-process fabric for lookup service tests: memory store, controller, in-process lookup and
// one RpcServer on an ephemeral loopback port (the `vxfab serve` composition without LevelDB),
// plus clients. Everything is closed in the test's teardown.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { pino } from 'pino';
import { Controller } from '../../src/controller/controller.js';
import { registerController } from '../../src/controller/service.js';
import { LookupClient } from '../../src/lookup/client.js';
import { startLocalLookup, type LocalLookup } from '../../src/lookup/local-feed.js';
import { LookupReplica } from '../../src/lookup/replica.js';
import { registerLookup } from '../../src/lookup/service.js';
import { CLI, credentialsFor, tlsFor } from '../helpers/serve-process.js';
import type { SubscriptionHubOptions } from '../../src/lookup/subscriptions.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { RpcClient } from '../../src/wire/transport/client.js';
import { RpcServer } from '../../src/wire/transport/server.js';

export const quiet = pino({ level: 'silent' });

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface Fabric {
  store: MemoryStore;
  controller: Controller;
  lookup: LocalLookup;
  server: RpcServer;
  address: string;
  port: number;
  /** Closes the RpcServer only (the store and controller live on), as a crashed listener would. */
  stopListening(): Promise<void>;
  /** Listens again on the same port. */
  listenAgain(): Promise<void>;
}

export async function startFabric(t: Teardown, options: { hub?: Omit<SubscriptionHubOptions, 'revision' | 'log'>; logRetention?: number } = {}): Promise<Fabric> {
  const store = new MemoryStore({ logRetention: options.logRetention ?? 100_000 });
  const controller = await Controller.open(store);
  const lookup = await startLocalLookup(store, { hub: options.hub });
  const make = (): RpcServer => {
    const s = new RpcServer({ identity: 'test-fabric', logger: quiet });
    registerController(s, controller);
    registerLookup(s, lookup);
    return s;
  };
  const fabric: Fabric = {
    store, controller, lookup, server: make(), address: '', port: 0,
    async stopListening() {
      await fabric.server.close();
    },
    async listenAgain() {
      fabric.server = make();
      await fabric.server.listen('127.0.0.1', fabric.port);
    },
  };
  const bound = await fabric.server.listen('127.0.0.1', 0);
  fabric.port = bound.port;
  fabric.address = `127.0.0.1:${bound.port}`;
  t.teardown(async () => {
    await fabric.server.close();
    lookup.close();
    await controller.idle();
    await store.close();
  });
  return fabric;
}

export async function client(t: Teardown, address: string, reconnect = false): Promise<RpcClient> {
  const c = new RpcClient({ address, role: vxfab.v1.Role.ROLE_BENCH, identity: 'test', logger: quiet, timeoutMs: 10_000,
    reconnect: reconnect ? { minMs: 20, maxMs: 200 } : false, ...tlsFor(address) });
  t.teardown(() => c.close());
  await c.connect();
  return c;
}

export async function lookupClient(t: Teardown, address: string): Promise<LookupClient> {
  return new LookupClient(await client(t, address));
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Polls `check` until it returns true (bounded). */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface ReplicaHandle {
  replica: LookupReplica;
  server: RpcServer;
  address: string;
  close(): Promise<void>;
}

/** An in-process replica of `controller`, serving on its own loopback port. */
export async function startReplica(t: Teardown, controller: string, hub?: Omit<SubscriptionHubOptions, 'revision' | 'log'>): Promise<ReplicaHandle> {
  const replica = new LookupReplica({ controller, reconnect: { minMs: 20, maxMs: 200 }, hub, logger: quiet, ...tlsFor(controller) });
  const server = new RpcServer({ identity: 'test-replica', logger: quiet });
  registerLookup(server, replica);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await server.close();
    await replica.close();
  };
  t.teardown(close);
  await replica.start();
  const bound = await server.listen('127.0.0.1', 0);
  return { replica, server, address: `127.0.0.1:${bound.port}`, close };
}

/** Starts `vxfab lookup serve` as a child process; resolves with its address once it listens.
 *  It serves plain TCP (--insecure, loopback) and follows a secure serve with its admin
 *  credentials: replicas get certificates of their own only by enrollment. */
export async function startReplicaProcess(t: Teardown, controller: string, env: Record<string, string> = {}): Promise<{ address: string; child: ChildProcess; stop(): Promise<number | null> }> {
  const creds = credentialsFor(controller);
  const child = spawn(process.execPath, [CLI, 'lookup', 'serve', '--controller', controller, '--listen', '127.0.0.1:0', '--log-level', 'warn', '--insecure'], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(creds === undefined ? {} : { VXFAB_CREDENTIALS: creds }), ...env },
  });
  const exited: Promise<number | null> = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`vxfab lookup serve did not start in 15 s: ${stderr}`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`vxfab lookup serve exited with ${code}: ${stderr}`)); });
  });
  return {
    address, child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
