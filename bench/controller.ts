// Controller write throughput: durable NIC creates per second through the wire, against a real
// `vxfab serve` child process on its LevelDB store, pipelined (group-committed) and one at a
// time, at 100,000 NICs; and bytes on disk per NIC.
//
// Baseline, in the same run and on the same disk: raw LevelDB synchronous puts of a value the size
// of a stored NIC, one at a time: what one durable write costs here. Pipelining is what lets the
// controller beat it: many creates share one synchronous batch.
//
// Run: npm run bench -- controller [NICS]
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { startServe, type ServeProcess } from '../test/helpers/serve-process.js';
import { RpcClient } from '../src/wire/transport/client.js';
import { Controller } from '../src/wire/gen/services.js';
import { vxfab } from '../src/wire/gen/proto.js';

const NODES = 100;
const WINDOW = 256;
const ONE_AT_A_TIME = 2000;

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? await dirBytes(p) : (await stat(p)).size;
  }
  return total;
}

/** Runs `count` operations with `window` in flight; returns ops/s. */
async function pipelined(count: number, window: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: window }, async () => {
    while (next < count) await op(next++);
  }));
  return count / ((performance.now() - start) / 1000);
}

async function rawLevelSyncPuts(valueBytes: number, count: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'vxfab-bench-level-'));
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
  try {
    await db.open();
    const value = new Uint8Array(valueBytes).fill(7);
    return await pipelined(count, 1, (i) => db.put(`i/nic-${i}`, value, { sync: true }));
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runControllerBench(nics = Number(process.argv[3] ?? 100_000)): Promise<void> {
  const cleanups: Array<() => unknown> = [];
  const t = { teardown: (fn: () => unknown) => { cleanups.push(fn); } };
  let serve: ServeProcess | undefined;
  let client: RpcClient | undefined;
  try {
    serve = await startServe(t);
    client = new RpcClient({ address: serve.address, role: vxfab.v1.Role.ROLE_BENCH, identity: 'bench-controller', ...serve.tls });
    await client.connect();
    const c = client;
    await c.call(Controller.CreateTenant, { name: 'bench' });
    await c.call(Controller.CreateNetwork, { tenant: 'bench', name: 'net', subnet4: '100.64.0.0/10' });
    for (let i = 0; i < NODES; i++) await c.call(Controller.AddNode, { name: `host-${i}`, underlay: `198.18.${i >> 8}.${(i & 255) + 1}` });
    const create = (i: number) => c.call(Controller.CreateNic, { tenant: 'bench', network: 'net', node: `host-${i % NODES}` });

    // Pipelined to 100k NICs; the last tenth is the rate "at 100k".
    const first = Math.floor(nics * 0.9);
    const rateFirst = await pipelined(first, WINDOW, create);
    const rateAt = await pipelined(nics - first, WINDOW, (i) => create(first + i));
    const serial = await pipelined(ONE_AT_A_TIME, 1, (i) => create(nics + i));
    const sample = await c.call(Controller.GetNic, { id: (await c.call(Controller.CreateNic, { tenant: 'bench', network: 'net', node: 'host-0' })).id });
    const nicBytes = vxfab.v1.Nic.encode(sample).finish().length;
    const total = nics + ONE_AT_A_TIME + 1;
    await client.close();
    client = undefined;
    await serve.stop();
    const disk = await dirBytes(serve.dataDir);
    const raw = await rawLevelSyncPuts(nicBytes, ONE_AT_A_TIME);

    const cpu = cpus();
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12);
    console.log(`controller bench: ${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, node ${process.version}; ` +
      `vxfab serve child process, LevelDB, sync writes; ${NODES} nodes; NIC record ${nicBytes} B`);
    console.log('case                                                  creates/s   vs raw LevelDB');
    console.log(`raw LevelDB sync put, one at a time (baseline)     ${fmt(raw)}        1.00×`);
    console.log(`vxfab NIC create, one at a time, at ${nics.toLocaleString('en-US')} NICs   ${fmt(serial)}   ${(serial / raw).toFixed(2).padStart(9)}×`);
    console.log(`vxfab NIC create, ${WINDOW} in flight, first ${first.toLocaleString('en-US')}    ${fmt(rateFirst)}   ${(rateFirst / raw).toFixed(2).padStart(9)}×`);
    console.log(`vxfab NIC create, ${WINDOW} in flight, at ${nics.toLocaleString('en-US')} NICs   ${fmt(rateAt)}   ${(rateAt / raw).toFixed(2).padStart(9)}×`);
    console.log(`pipelined / one at a time: ${(rateAt / serial).toFixed(1)}×; floor 10,000 creates/s pipelined: ${rateAt >= 10_000 ? 'PASS' : 'FAIL'}`);
    console.log(`bytes on disk: ${disk.toLocaleString('en-US')} for ${total.toLocaleString('en-US')} NICs = ${Math.round(disk / total)} B/NIC ` +
      '(data, change log of every write, LevelDB overhead; before compaction)');
  } finally {
    await client?.close();
    await serve?.stop();
    for (const fn of cleanups.reverse()) await fn();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runControllerBench(Number(process.argv[2] ?? 100_000));
}
