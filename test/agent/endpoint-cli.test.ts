// `vxfab endpoint attach|detach` refusals, against a real `vxfab serve`: unknown NIC, a NIC placed
// on another node, a missing namespace, no way to know this host's node. Host veth names.
import t from 'tap';
import { hostVethName } from '../../src/agent/endpoint.js';
import { runCli, startServe } from '../helpers/serve-process.js';

t.test('agent endpoint - host veth names derive from the NIC id and fit IFNAMSIZ', async (t) => {
  const a = hostVethName('nic-0001');
  t.equal(a, hostVethName('nic-0001'), 'stable');
  t.not(a, hostVethName('nic-0002'), 'distinct per NIC');
  t.ok(a.length <= 15 && /^vxe[0-9a-f]{12}$/.test(a), `15 characters at most: ${a}`);
});

t.test('agent endpoint - attach refuses clearly', async (t) => {
  const serve = await startServe(t);
  const cli = (args: string[]) => runCli(['--server', serve.address, ...args]);
  t.equal((await cli(['tenant', 'create', 't1'])).code, 0);
  t.equal((await cli(['network', 'create', 'n1', '--tenant', 't1', '--subnet', '100.64.1.0/24'])).code, 0);
  t.equal((await cli(['node', 'add', 'h1', '--underlay', '198.18.0.1'])).code, 0);
  t.equal((await cli(['node', 'add', 'h2', '--underlay', '198.18.0.2'])).code, 0);
  const nic = JSON.parse((await cli(['-o', 'json', 'nic', 'create', '--network', 't1/n1', '--node', 'h2'])).stdout) as { id: string };

  const unknown = await cli(['endpoint', 'attach', '--nic', 'no-such-nic', '--netns', 'x', '--node', 'h1']);
  t.equal(unknown.code, 4, 'unknown NIC: exit 4');
  t.match(unknown.stderr, /NOT_FOUND/);

  const elsewhere = await cli(['endpoint', 'attach', '--nic', nic.id, '--netns', 'x', '--node', 'h1']);
  t.equal(elsewhere.code, 3, 'NIC on another node: refused');
  t.match(elsewhere.stderr, /placed on node "h2", not on this host \("h1"\)/);

  const noNs = await cli(['endpoint', 'attach', '--nic', nic.id, '--netns', 'vxt-no-such-namespace', '--node', 'h2', '--state-dir', '/nonexistent-vxfab']);
  t.equal(noNs.code, 4, 'missing namespace: exit 4');
  t.match(noNs.stderr, /network namespace "vxt-no-such-namespace" does not exist/);

  const noNode = await cli(['endpoint', 'attach', '--nic', nic.id, '--netns', 'x', '--state-dir', '/nonexistent-vxfab']);
  t.equal(noNode.code, 2, 'no --node and no agent state: usage error');
  t.match(noNode.stderr, /--node/);

  const detach = await cli(['-o', 'json', 'endpoint', 'detach', '--nic', nic.id]);
  t.equal(detach.code, 0, 'detach of a NIC not plugged here is fine (idempotent)');
  t.match(JSON.parse(detach.stdout), { action: 'absent' });
});
