// CLI end to end: every command against a real `vxfab serve`, in JSON (for scripts) and as
// tables (for people), and durability of what was created across a restart.
import t from 'tap';
import { startServe, runCli } from '../helpers/serve-process.js';

let serve = await startServe(t);
const cli = async (...args: string[]) => {
  const r = await runCli(args, { VXFAB_SERVER: serve.address });
  if (r.code !== 0) throw new Error(`vxfab ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
};
const json = async <T = Record<string, unknown>>(...args: string[]): Promise<T> => JSON.parse(await cli(...args, '-o', 'json')) as T;

interface Network { tenant: string; name: string; vnid: number; subnet4: string; gateway4: string; subnet6: string; gateway6: string; mtu: number }
interface Nic { id: string; tenant: string; network: string; vnid: number; node: string; mac: string; ips: string[]; revision: number }
interface Node { name: string; underlay: string; port: number }

await t.test('cli - tenants', async (t) => {
  t.match(await json('tenant', 'create', 'acme'), { name: 'acme' });
  t.match(await json('tenant', 'create', 'globex'), { name: 'globex' });
  t.match(await json('tenant', 'create', 'initech'), { name: 'initech' });
  t.same((await json<Array<{ name: string }>>('tenant', 'list')).map((x) => x.name), ['acme', 'globex', 'initech']);
  t.match(await json('tenant', 'get', 'globex'), { name: 'globex' });
  t.same(await json('tenant', 'delete', 'initech'), { deleted: 'initech' });
  const table = await cli('tenant', 'list');
  t.match(table, /^NAME\s+REVISION\n/, 'table header');
  t.match(table, /\nacme\s+\d+\n/);
  t.notMatch(table, /initech/);
});

await t.test('cli - networks', async (t) => {
  const web = await json<Network>('network', 'create', 'web', '--tenant', 'acme', '--subnet', '100.64.1.0/24');
  t.match(web, { tenant: 'acme', name: 'web', subnet4: '100.64.1.0/24', gateway4: '100.64.1.1', mtu: 1450, subnet6: '' });
  t.ok(web.vnid >= 1 && web.vnid <= 16777215, 'allocated VNID in range');
  // Same subnet in another tenant: tenants are isolated.
  const other = await json<Network>('network', 'create', 'web', '--tenant', 'globex', '--subnet', '100.64.1.0/24', '--vnid', '4242', '--mtu', '1400');
  t.match(other, { tenant: 'globex', vnid: 4242, mtu: 1400 });
  t.not(other.vnid, web.vnid);
  const dual = await json<Network>('network', 'create', 'dual', '--tenant', 'acme', '--subnet', '100.64.2.0/24',
    '--subnet6', 'fd00:64:2::/64', '--gateway', '100.64.2.254');
  t.match(dual, { subnet6: 'fd00:64:2::/64', gateway6: 'fd00:64:2::1', gateway4: '100.64.2.254' });
  t.match(await json('network', 'get', 'acme/dual'), { name: 'dual', vnid: dual.vnid });
  t.same((await json<Network[]>('network', 'list')).map((n) => `${n.tenant}/${n.name}`), ['acme/dual', 'acme/web', 'globex/web']);
  t.same((await json<Network[]>('network', 'list', '--tenant', 'globex')).map((n) => n.name), ['web']);
  await json('network', 'create', 'scratch', '--tenant', 'acme');
  t.same(await json('network', 'delete', 'acme/scratch'), { deleted: 'acme/scratch' });
  t.match(await cli('network', 'list'), /TENANT\s+NAME\s+VNID\s+SUBNET/);
});

await t.test('cli - nodes', async (t) => {
  t.match(await json<Node>('node', 'add', 'host-a', '--underlay', '198.18.0.1'), { name: 'host-a', underlay: '198.18.0.1', port: 4789 });
  t.match(await json<Node>('node', 'add', 'host-b', '--underlay', '198.18.0.2', '--port', '4790'), { port: 4790 });
  t.match(await json<Node>('node', 'add', 'host-v6', '--underlay', '2001:db8::10'), { underlay: '2001:db8::10' });
  t.same((await json<Node[]>('node', 'list')).map((n) => n.name), ['host-a', 'host-b', 'host-v6']);
  t.match(await json('node', 'get', 'host-b'), { underlay: '198.18.0.2' });
  t.same(await json('node', 'delete', 'host-v6'), { deleted: 'host-v6' });
  t.match(await cli('node', 'list'), /NAME\s+UNDERLAY\s+PORT\s+HEARTBEAT\nhost-a\s+198\.18\.0\.1\s+4789\s+never/);
});

let nics: Nic[] = [];
await t.test('cli - nics', async (t) => {
  const a = await json<Nic>('nic', 'create', '--network', 'acme/web', '--node', 'host-a');
  t.match(a, { tenant: 'acme', network: 'web', node: 'host-a', ips: ['100.64.1.2'] });
  t.match(a.mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  t.equal(parseInt(a.mac.slice(0, 2), 16) & 0b11, 0b10, 'locally administered unicast MAC');
  const b = await json<Nic>('nic', 'create', '--network', 'acme/web', '--node', 'host-b', '--mac', '02:AB:CD:00:00:01', '--ip', '100.64.1.50');
  t.match(b, { mac: '02:ab:cd:00:00:01', ips: ['100.64.1.50'] });
  const c = await json<Nic>('nic', 'create', '--network', 'acme/dual', '--node', 'host-b');
  t.same(c.ips, ['100.64.2.1', 'fd00:64:2::2'], 'one address per subnet; the explicit gateway .254 is skipped, the v6 gateway ::1 too');
  const d = await json<Nic>('nic', 'create', '--network', 'globex/web', '--node', 'host-a', '--ip', '100.64.1.2');
  t.same(d.ips, ['100.64.1.2'], 'the same address in another tenant');
  t.not(d.mac, a.mac, 'allocated MACs are unique across the fabric');
  nics = [a, b, c, d];
  t.equal((await json<Nic[]>('nic', 'list')).length, 4);
  t.same((await json<Nic[]>('nic', 'list', '--network', 'acme/web')).map((n) => n.id).sort(), [a.id, b.id].sort());
  t.same((await json<Nic[]>('nic', 'list', '--node', 'host-a')).map((n) => n.id).sort(), [a.id, d.id].sort());
  t.match(await json('nic', 'get', b.id), { id: b.id, node: 'host-b' });
  const moved = await json<Nic>('nic', 'move', a.id, '--node', 'host-b');
  t.equal(moved.node, 'host-b');
  t.ok(moved.revision > a.revision, 'a move is a new revision');
  t.same((await json<Nic[]>('nic', 'list', '--node', 'host-a')).map((n) => n.id), [d.id]);
  t.same(await json('nic', 'delete', d.id), { deleted: d.id });
  t.match(await cli('nic', 'list'), /ID\s+NETWORK\s+VNID\s+NODE\s+MAC\s+IPS/);
  t.match(await cli('nic', 'get', b.id), /MAC:\s+02:ab:cd:00:00:01/);
});

await t.test('cli - everything survives a restart', async (t) => {
  t.equal(await serve.stop(), 0, 'clean exit on SIGTERM');
  serve = await serve.restart();
  t.same((await json<Array<{ name: string }>>('tenant', 'list')).map((x) => x.name), ['acme', 'globex']);
  t.equal((await json<Nic[]>('nic', 'list')).length, 3);
  t.match(await json('nic', 'get', nics[0]!.id), { node: 'host-b' });
  // The allocators were rebuilt: the next address skips the ones in use.
  const e = await json<Nic>('nic', 'create', '--network', 'acme/web', '--node', 'host-a');
  t.same(e.ips, ['100.64.1.3']);
  t.not(e.mac, nics[0]!.mac);
  const again = await runCli(['network', 'create', 'x', '--tenant', 'acme', '--vnid', String(nics[0]!.vnid)], { VXFAB_SERVER: serve.address });
  t.equal(again.code, 3, 'a VNID in use before the restart is still taken');
});
