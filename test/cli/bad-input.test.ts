// CLI end to end: a table of bad inputs against a real `vxfab serve`. Each must exit with the
// right code, say what was wrong (naming the field and the value) on stderr, and change nothing.
import t from 'tap';
import { startServe, runCli } from '../helpers/serve-process.js';
import { dumpFabric } from '../helpers/dump.js';

const EXIT = { USAGE: 2, REFUSED: 3, NOT_FOUND: 4, UNREACHABLE: 5 };

interface Case {
  name: string;
  args: string[];
  exit: number;
  /** Substrings that stderr must contain: the code, the field and the value at fault. */
  says: string[];
  /** When set, runs against this server instead of the test's one. */
  server?: string;
}

const serve = await startServe(t);
const env = { VXFAB_SERVER: serve.address };
const ok = async (args: string[]) => {
  const r = await runCli([...args, '-o', 'json'], env);
  if (r.code !== 0) throw new Error(`set-up command ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
};

// A small fabric to be refused against.
await ok(['tenant', 'create', 'acme']);
await ok(['tenant', 'create', 'globex']);
await ok(['network', 'create', 'web', '--tenant', 'acme', '--subnet', '100.64.1.0/24', '--vnid', '5001']);
await ok(['network', 'create', 'tiny', '--tenant', 'acme', '--subnet', '100.64.9.0/30']);
await ok(['node', 'add', 'host-a', '--underlay', '198.18.0.1']);
await ok(['node', 'add', 'host-b', '--underlay', '198.18.0.2']);
const nic = await ok(['nic', 'create', '--network', 'acme/web', '--node', 'host-a', '--mac', '02:aa:00:00:00:01', '--ip', '100.64.1.10']);
await ok(['nic', 'create', '--network', 'acme/tiny', '--node', 'host-a']);
const nicId = String(nic.id);

const cases: Case[] = [
  { name: 'tenant name with capitals', args: ['tenant', 'create', 'Bad_Name'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'name', 'Bad_Name'] },
  { name: 'tenant name too long', args: ['tenant', 'create', 'a'.repeat(64)], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'name', 'a'.repeat(64)] },
  { name: 'tenant name ends with a dash', args: ['tenant', 'create', 'acme-'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'acme-'] },
  { name: 'duplicate tenant', args: ['tenant', 'create', 'acme'], exit: EXIT.REFUSED, says: ['ALREADY_EXISTS', 'acme'] },
  { name: 'delete a tenant with networks', args: ['tenant', 'delete', 'acme'], exit: EXIT.REFUSED, says: ['CONFLICT', 'acme', 'network'] },
  { name: 'delete an unknown tenant', args: ['tenant', 'delete', 'ghost'], exit: EXIT.NOT_FOUND, says: ['NOT_FOUND', 'ghost'] },
  { name: 'network in an unknown tenant', args: ['network', 'create', 'db', '--tenant', 'ghost', '--subnet', '100.64.2.0/24'], exit: EXIT.NOT_FOUND, says: ['NOT_FOUND', 'tenant', 'ghost'] },
  { name: 'network subnet not a CIDR', args: ['network', 'create', 'db', '--tenant', 'acme', '--subnet', '100.64.2.0'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'subnet4', '100.64.2.0'] },
  { name: 'network subnet prefix 33', args: ['network', 'create', 'db', '--tenant', 'acme', '--subnet', '100.64.2.0/33'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'subnet4', '100.64.2.0/33'] },
  { name: 'network subnet garbage', args: ['network', 'create', 'db', '--tenant', 'acme', '--subnet', 'banana'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'subnet4', 'banana'] },
  { name: 'network subnet with host bits', args: ['network', 'create', 'db', '--tenant', 'acme', '--subnet', '100.64.2.7/24'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'subnet4', '100.64.2.7/24', 'host bits'] },
  { name: 'network IPv4 CIDR given as subnet6', args: ['network', 'create', 'db', '--tenant', 'acme', '--subnet6', '100.64.2.0/24'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'subnet6', '100.64.2.0/24'] },
  { name: 'network gateway outside the subnet', args: ['network', 'create', 'db', '--tenant', 'acme', '--subnet', '100.64.2.0/24', '--gateway', '100.64.3.1'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'gateway4', '100.64.3.1'] },
  { name: 'network gateway is the network address', args: ['network', 'create', 'db', '--tenant', 'acme', '--subnet', '100.64.2.0/24', '--gateway', '100.64.2.0'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'gateway4', '100.64.2.0'] },
  { name: 'network gateway without a subnet', args: ['network', 'create', 'db', '--tenant', 'acme', '--gateway', '100.64.2.1'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'gateway4', '100.64.2.1'] },
  { name: 'duplicate network name', args: ['network', 'create', 'web', '--tenant', 'acme', '--subnet', '100.64.2.0/24'], exit: EXIT.REFUSED, says: ['ALREADY_EXISTS', 'acme/web'] },
  { name: 'overlapping subnet in one tenant', args: ['network', 'create', 'db', '--tenant', 'acme', '--subnet', '100.64.1.128/25'], exit: EXIT.REFUSED, says: ['CONFLICT', 'subnet4', '100.64.1.128/25', '100.64.1.0/24'] },
  { name: 'VNID above 24 bits', args: ['network', 'create', 'db', '--tenant', 'acme', '--vnid', '16777216'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'vnid', '16777216'] },
  { name: 'VNID taken', args: ['network', 'create', 'db', '--tenant', 'globex', '--vnid', '5001'], exit: EXIT.REFUSED, says: ['ALREADY_EXISTS', 'vnid', '5001'] },
  { name: 'VNID zero', args: ['network', 'create', 'db', '--tenant', 'acme', '--vnid', '0'], exit: EXIT.USAGE, says: ['--vnid', '0'] },
  { name: 'VNID not a number', args: ['network', 'create', 'db', '--tenant', 'acme', '--vnid', 'abc'], exit: EXIT.USAGE, says: ['--vnid', 'abc'] },
  { name: 'MTU below 576', args: ['network', 'create', 'db', '--tenant', 'acme', '--mtu', '575'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'mtu', '575'] },
  { name: 'MTU above 9000', args: ['network', 'create', 'db', '--tenant', 'acme', '--mtu', '9001'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'mtu', '9001'] },
  { name: 'network name with an underscore', args: ['network', 'create', 'my_net', '--tenant', 'acme'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'name', 'my_net'] },
  { name: 'network reference without a tenant', args: ['network', 'get', 'web'], exit: EXIT.USAGE, says: ['network', 'web', 'TENANT/NETWORK'] },
  { name: 'delete a network with NICs', args: ['network', 'delete', 'acme/web'], exit: EXIT.REFUSED, says: ['CONFLICT', 'acme/web', nicId] },
  { name: 'get an unknown network', args: ['network', 'get', 'acme/ghost'], exit: EXIT.NOT_FOUND, says: ['NOT_FOUND', 'acme/ghost'] },
  { name: 'node name taken', args: ['node', 'add', 'host-a', '--underlay', '198.18.0.9'], exit: EXIT.REFUSED, says: ['ALREADY_EXISTS', 'host-a'] },
  { name: 'node underlay not an IP', args: ['node', 'add', 'host-c', '--underlay', '198.18.0.300'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'underlay', '198.18.0.300'] },
  { name: 'node underlay taken', args: ['node', 'add', 'host-c', '--underlay', '198.18.0.1'], exit: EXIT.REFUSED, says: ['CONFLICT', 'underlay', '198.18.0.1', 'host-a'] },
  { name: 'node port out of range', args: ['node', 'add', 'host-c', '--underlay', '198.18.0.3', '--port', '70000'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'port', '70000'] },
  { name: 'delete a node with NICs', args: ['node', 'delete', 'host-a'], exit: EXIT.REFUSED, says: ['CONFLICT', 'host-a', 'NIC'] },
  { name: 'multicast MAC', args: ['nic', 'create', '--network', 'acme/web', '--node', 'host-a', '--mac', '01:00:5e:00:00:01'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'mac', '01:00:5e:00:00:01', 'multicast'] },
  { name: 'all-zero MAC', args: ['nic', 'create', '--network', 'acme/web', '--node', 'host-a', '--mac', '00:00:00:00:00:00'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'mac', '00:00:00:00:00:00'] },
  { name: 'MAC garbage', args: ['nic', 'create', '--network', 'acme/web', '--node', 'host-a', '--mac', '02:zz:00:00:00:01'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'mac', '02:zz:00:00:00:01'] },
  { name: 'duplicate MAC in a network', args: ['nic', 'create', '--network', 'acme/web', '--node', 'host-b', '--mac', '02:AA:00:00:00:01'], exit: EXIT.REFUSED, says: ['ALREADY_EXISTS', 'mac', '02:aa:00:00:00:01'] },
  { name: 'IP outside the subnet', args: ['nic', 'create', '--network', 'acme/web', '--node', 'host-a', '--ip', '100.64.2.10'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'ips[0]', '100.64.2.10'] },
  { name: 'IP taken', args: ['nic', 'create', '--network', 'acme/web', '--node', 'host-b', '--ip', '100.64.1.10'], exit: EXIT.REFUSED, says: ['ALREADY_EXISTS', 'ips[0]', '100.64.1.10'] },
  { name: 'IP is the gateway', args: ['nic', 'create', '--network', 'acme/web', '--node', 'host-b', '--ip', '100.64.1.1'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', '100.64.1.1', 'gateway'] },
  { name: 'IP is the broadcast address', args: ['nic', 'create', '--network', 'acme/web', '--node', 'host-b', '--ip', '100.64.1.255'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', '100.64.1.255', 'broadcast'] },
  { name: 'IPv6 on an IPv4-only network', args: ['nic', 'create', '--network', 'acme/web', '--node', 'host-b', '--ip', 'fd00::5'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'ips[0]', 'fd00::5', 'IPv6'] },
  { name: 'the same IP twice', args: ['nic', 'create', '--network', 'acme/web', '--node', 'host-b', '--ip', '100.64.1.20', '--ip', '100.64.1.20'], exit: EXIT.REFUSED, says: ['INVALID_ARGUMENT', 'ips[1]', '100.64.1.20'] },
  { name: 'subnet exhausted', args: ['nic', 'create', '--network', 'acme/tiny', '--node', 'host-b'], exit: EXIT.REFUSED, says: ['RESOURCE_EXHAUSTED', '100.64.9.0/30'] },
  { name: 'NIC on an unknown node', args: ['nic', 'create', '--network', 'acme/web', '--node', 'ghost'], exit: EXIT.NOT_FOUND, says: ['NOT_FOUND', 'node', 'ghost'] },
  { name: 'NIC on an unknown network', args: ['nic', 'create', '--network', 'acme/ghost', '--node', 'host-a'], exit: EXIT.NOT_FOUND, says: ['NOT_FOUND', 'acme/ghost'] },
  { name: 'move a NIC to an unknown node', args: ['nic', 'move', nicId, '--node', 'ghost'], exit: EXIT.NOT_FOUND, says: ['NOT_FOUND', 'node', 'ghost'] },
  { name: 'get an unknown NIC', args: ['nic', 'get', 'nic-0000000000'], exit: EXIT.NOT_FOUND, says: ['NOT_FOUND', 'nic-0000000000'] },
  { name: 'missing required option', args: ['network', 'create', 'db'], exit: EXIT.USAGE, says: ['--tenant'] },
  { name: 'unknown command', args: ['frobnicate'], exit: EXIT.USAGE, says: ['frobnicate'] },
  { name: 'unknown output format', args: ['tenant', 'list', '-o', 'yaml'], exit: EXIT.USAGE, says: ['--output', 'yaml'] },
  { name: 'server address without a port', args: ['--server', 'localhost', 'tenant', 'list'], exit: EXIT.USAGE, says: ['--server', 'localhost'] },
  { name: 'unreachable server', args: ['tenant', 'list'], exit: EXIT.UNREACHABLE, says: ['UNAVAILABLE', '127.0.0.1:1'], server: '127.0.0.1:1' },
];

t.ok(cases.length >= 30, `${cases.length} bad inputs in the table`);

for (const c of cases) {
  await t.test(`cli - refuses ${c.name}`, async (t) => {
    const before = await dumpFabric(serve.address);
    const r = await runCli(c.args, { VXFAB_SERVER: c.server ?? serve.address });
    t.equal(r.code, c.exit, `exit code (stderr: ${r.stderr.trim()})`);
    for (const s of c.says) t.match(r.stderr, s, `stderr names ${s}`);
    t.equal(r.stdout, '', 'nothing on stdout');
    const after = await dumpFabric(serve.address);
    t.same(after, before, 'nothing changed');
  });
}

await t.test('cli - errors as JSON with -o json', async (t) => {
  const r = await runCli(['tenant', 'create', 'acme', '-o', 'json'], env);
  t.equal(r.code, EXIT.REFUSED);
  const body = JSON.parse(r.stderr) as { error: { code: string; field: string; value: string } };
  t.same(body.error, { ...body.error, code: 'ALREADY_EXISTS', field: 'name', value: 'acme' });
});
