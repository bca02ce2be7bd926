// `vxfab lookup …` end to end: the queries against a real `vxfab serve` and a real
// `vxfab lookup serve` replica child, their JSON, and the exit codes (NOT_FOUND is 4).
import t from 'tap';
import { runCli, startServe } from '../helpers/serve-process.js';
import { startReplicaProcess, until } from './harness.js';

const serve = await startServe(t);
const run = (server: string, ...args: string[]) => runCli(['--server', server, ...args]);
const json = async <T>(server: string, ...args: string[]): Promise<T> => {
  const r = await run(server, ...args, '-o', 'json');
  if (r.code !== 0) throw new Error(`vxfab ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};

interface Nic { id: string; mac: string; ips: string[] }

await json(serve.address, 'tenant', 'create', 'acme');
await json(serve.address, 'network', 'create', 'web', '--tenant', 'acme', '--vnid', '100', '--subnet', '100.64.1.0/24', '--subnet6', 'fd00:64:1::/64');
await json(serve.address, 'node', 'add', 'h1', '--underlay', '198.18.0.1');
await json(serve.address, 'node', 'add', 'h2', '--underlay', '198.18.0.2', '--port', '4790');
const a = await json<Nic>(serve.address, 'nic', 'create', '--network', 'acme/web', '--node', 'h1', '--mac', '02:00:00:00:00:0a');
const b = await json<Nic>(serve.address, 'nic', 'create', '--network', 'acme/web', '--node', 'h2', '--mac', '02:00:00:00:00:0b');
const replica = await startReplicaProcess(t, serve.address);

for (const [name, address] of [['serve', serve.address], ['replica', replica.address]] as const) {
  await t.test(`lookup cli - queries against ${name}`, async (t) => {
    await until('the replica to follow', async () => (await json<{ revision: number }>(address, 'lookup', 'status')).revision ===
      (await json<{ revision: number }>(serve.address, 'lookup', 'status')).revision);
    t.same(await json(address, 'lookup', 'vl2', '--vnid', '100', '--mac', '02:00:00:00:00:0A'),
      { vnid: 100, mac: '02:00:00:00:00:0a', underlay: '198.18.0.1', port: 4789, node: 'h1' });
    t.same(await json(address, 'lookup', 'vl3', '--vnid', '100', '--ip', b.ips[1]!),
      { vnid: 100, ip: b.ips[1], mac: b.mac, underlay: '198.18.0.2', port: 4790, node: 'h2' });
    const flood = await json<{ vnid: number; revision: number; members: unknown[] }>(address, 'lookup', 'flood', '--vnid', '100');
    t.same(flood.members, [{ underlay: '198.18.0.1', port: 4789, node: 'h1' }, { underlay: '198.18.0.2', port: 4790, node: 'h2' }]);
    const bulk = await json<{ vnid: number; revision: number; endpoints: { nicId: string; mac: string; ips: string[] }[] }>(
      address, 'lookup', 'bulk', '--vnid', '100', '--page-size', '1');
    t.same(bulk.endpoints.map((e) => e.nicId), [a.id, b.id], 'sorted by MAC');
    t.same(bulk.endpoints[0]!.ips, a.ips);
    t.equal(bulk.revision, flood.revision);
    const status = await json<{ source: string; mappings: number }>(address, 'lookup', 'status');
    t.match(status, { mappings: 2, source: name === 'serve' ? 'local' : `replica of ${serve.address}` });
    const missing = await run(address, 'lookup', 'vl2', '--vnid', '100', '--mac', '02:00:00:00:00:ff');
    t.equal(missing.code, 4, 'NOT_FOUND exits 4');
    t.match(missing.stderr, /NOT_FOUND: no endpoint with mac 02:00:00:00:00:ff on vnid 100/);
    // The rest is the CLI's own behaviour, the same whichever server answers: checked once.
    if (name === 'replica') return;
    const missingJson = await run(address, 'lookup', 'vl3', '--vnid', '100', '--ip', '100.64.1.99', '-o', 'json');
    t.equal(missingJson.code, 4);
    t.match(JSON.parse(missingJson.stderr), { error: { code: 'NOT_FOUND', field: 'ip', value: '100.64.1.99' } });
    const bad = await run(address, 'lookup', 'vl2', '--vnid', '0', '--mac', '02:00:00:00:00:0a');
    t.equal(bad.code, 3, 'a refused query exits 3');
    t.match(bad.stderr, /INVALID_ARGUMENT: vnid "0"/);
    const usage = await run(address, 'lookup', 'flood', '--vnid', 'x');
    t.equal(usage.code, 2, 'a vnid that is not a number is a usage error');
    t.match(await run(address, 'lookup', 'bulk', '--vnid', '100').then((r) => r.stdout), /^MAC\s+IPS\s+NODE\s+UNDERLAY\s+PORT\s+NIC\n02:00:00:00:00:0a/);
  });
}

await t.test('lookup cli - the replica follows changes and stops cleanly on SIGTERM', async (t) => {
  await json(serve.address, 'nic', 'move', a.id, '--node', 'h2');
  await until('the move on the replica', async () => (await json<{ node: string }>(replica.address, 'lookup', 'vl2', '--vnid', '100', '--mac', a.mac)).node === 'h2');
  t.pass('moved');
  t.equal(await replica.stop(), 0, 'clean exit');
});
