// The server half of bench/lookup.ts, run as a child process (node --expose-gc): the same
// composition as `vxfab serve` — controller, LevelDB store, in-process lookup service, one
// RpcServer — over a fresh LevelDB directory (removed at exit) preloaded with a synthetic fabric
// written as store batches (a million controller writes one by one would take minutes; what the
// controller and the lookup service read back is the same). LevelDB as in `vxfab serve`, not the
// memory store: that one holds every key and value on the JS heap, 430 MB more of it here, and a
// young-generation GC takes longer the bigger the old generation is (measured in a bare Node
// process: 0.3 ms with an empty heap, 1.4 ms beside a million small objects, 2.3 ms beside three).
//
// Usage: node --expose-gc dist/bench/lookup-server.js NICS NODES VNIDS
// stdout: "ready PORT MAPPINGS INDEX_BYTES LOAD_MS", then "commit REVISION EPOCH_MS" for every
// write committed after start (the fan-out measurement's start times). Exits when stdin closes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { Controller } from '../src/controller/controller.js';
import { registerController } from '../src/controller/service.js';
import { startLocalLookup } from '../src/lookup/local-feed.js';
import { registerLookup } from '../src/lookup/service.js';
import { nicKey, networkKey, nodeKey, tenantKey } from '../src/model/keys.js';
import { LevelStore } from '../src/store/level-store.js';
import type { StoreOp } from '../src/store/store.js';
import { vxfab } from '../src/wire/gen/proto.js';
import { RpcServer } from '../src/wire/transport/server.js';
import { FabricCa, issueCredentials } from '../src/security/pki.js';
import { writeCredentials } from '../src/security/credentials.js';
import { benchFabric } from './lookup-fabric.js';

const BATCH = 10_000;

function heapBytes(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function main(nics: number, nodes: number, vnids: number): Promise<void> {
  const fabric = benchFabric(nics, nodes, vnids);
  const dir = mkdtempSync(join(tmpdir(), 'vxfab-lookup-bench-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const store = await LevelStore.open(dir, { logRetention: 1000 });
  const t0 = Date.now();
  const ops: StoreOp[] = [{ type: 'put', key: tenantKey(fabric.tenant), value: vxfab.v1.Tenant.encode({ name: fabric.tenant, createdRevision: 1 }).finish() }];
  for (let k = 0; k < vnids; k++) {
    const n = fabric.network(k);
    ops.push({ type: 'put', key: networkKey(fabric.tenant, n.name), value: vxfab.v1.Network.encode({ ...n, tenant: fabric.tenant, mtu: 1450, createdRevision: 1 }).finish() });
  }
  for (let h = 0; h < nodes; h++) {
    const n = fabric.node(h);
    ops.push({ type: 'put', key: nodeKey(n.name), value: vxfab.v1.Node.encode({ ...n, createdRevision: 1 }).finish() });
  }
  await store.batch(ops);
  for (let i = 0; i < nics; i += BATCH) {
    const batch: StoreOp[] = [];
    for (let j = i; j < Math.min(nics, i + BATCH); j++) {
      const nic = fabric.nic(j);
      batch.push({ type: 'put', key: nicKey(nic.id), value: vxfab.v1.Nic.encode({ ...nic, tenant: fabric.tenant, revision: 2 }).finish() });
    }
    await store.batch(batch);
  }
  const stored = Date.now();
  const controller = await Controller.open(store);
  process.stderr.write(`bench server: store written in ${stored - t0} ms, controller opened in ${Date.now() - stored} ms\n`);
  // Registered before the lookup's listener, so the time is taken before the index applies the batch.
  store.onCommit((change) => {
    process.stdout.write(`commit ${change.revision} ${(performance.timeOrigin + performance.now()).toFixed(3)}\n`);
  });
  const before = heapBytes();
  const loadStart = Date.now();
  const lookup = await startLocalLookup(store);
  const loadMs = Date.now() - loadStart;
  const indexBytes = heapBytes() - before;
  const log = pino({ level: 'warn' });
  const server = new RpcServer({ identity: 'bench-lookup', logger: log });
  registerController(server, controller);
  registerLookup(server, lookup, { logger: log });
  const { port } = await server.listen('127.0.0.1', 0);
  // The same services over mutual TLS on a second port, for the TLS rows beside plaintext: a CA
  // made in memory, serve's kind of certificate, and an admin credentials file for the client.
  const ca = await FabricCa.create('bench CA');
  const tlsServer = new RpcServer({ identity: 'bench-lookup-tls', logger: log,
    tls: { credentials: await issueCredentials(ca, { kind: 'server', name: 'bench' }, { ttlMs: 24 * 3600_000, ips: ['127.0.0.1'] }) } });
  registerController(tlsServer, controller);
  registerLookup(tlsServer, lookup, { logger: log });
  const tlsPort = (await tlsServer.listen('127.0.0.1', 0)).port;
  const credsDir = mkdtempSync(join(tmpdir(), 'vxfab-bench-tls-'));
  const credsFile = join(credsDir, 'admin.credentials');
  await writeCredentials(credsFile, await issueCredentials(ca, { kind: 'admin', name: 'bench' }, { ttlMs: 24 * 3600_000 }));
  process.on('exit', () => rmSync(credsDir, { recursive: true, force: true }));
  process.stdout.write(`tls ${tlsPort} ${credsFile}\n`);
  process.stderr.write(`bench server: ${nics} NICs stored and loaded in ${Date.now() - t0} ms\n`);
  process.stdout.write(`ready ${port} ${lookup.index.mappings} ${indexBytes} ${loadMs}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void Promise.all([server.close(), tlsServer.close()]).then(() => process.exit(0)));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/.*\//, '/'))) {
  void main(Number(process.argv[2] ?? 1_000_000), Number(process.argv[3] ?? 1000), Number(process.argv[4] ?? 1000));
}
