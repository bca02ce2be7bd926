// The simulator's fabric runs under the same trust as a real one (src/sim/sim-pki.ts): mutual TLS
// with certificates from the run's CA, and vxfab serve's authorization policy on the controller and
// on every lookup server. An agent in a simulation can do only what a real agent may.
import t from 'tap';
import { pino } from 'pino';
import { ControlPlane } from '../../src/sim/control-plane.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { Controller, Lookup } from '../../src/wire/gen/services.js';
import { RpcClient } from '../../src/wire/transport/client.js';
import { collect } from '../../src/wire/transport/collect.js';

const quiet = pino({ level: 'silent' });

t.test('sim policy - the simulated controller and lookup servers authorize as vxfab serve does', async (t) => {
  const cp = new ControlPlane(quiet, 10_000);
  t.teardown(() => cp.close());
  await cp.start(['lookup-1', 'lookup-2']);
  const op = cp.operator;
  await op.call(Controller.CreateTenant, { name: 'red' });
  const net = await op.call(Controller.CreateNetwork, { tenant: 'red', name: 'web', subnet4: '100.64.0.0/24' });
  const other = await op.call(Controller.CreateNetwork, { tenant: 'red', name: 'db', subnet4: '100.64.1.0/24' });
  await op.call(Controller.AddNode, { name: 'h1', underlay: '198.18.0.1', port: 4789 });
  await op.call(Controller.AddNode, { name: 'h2', underlay: '198.18.0.2', port: 4789 });
  await op.call(Controller.CreateNic, { tenant: 'red', network: 'web', node: 'h1', mac: '', ips: [] });
  await op.call(Controller.CreateNic, { tenant: 'red', network: 'db', node: 'h2', mac: '', ips: [] });

  const as = async (address: string, node: string): Promise<RpcClient> => {
    const c = new RpcClient({ address, role: vxfab.v1.Role.ROLE_AGENT, identity: node, logger: quiet, reconnect: false,
      timeoutMs: 5000, tls: await cp.pki.client({ kind: 'node', node }) });
    t.teardown(() => c.close());
    return c;
  };
  const h1 = await as(cp.address, 'h1');
  await h1.call(Controller.Heartbeat, { name: 'h1' });
  t.equal((await collect(h1, Controller.ListNics, { tenant: '', network: '', node: 'h1' })).flatMap((p) => p.nics).length, 1,
    'an agent lists its own NICs');
  await t.rejects(h1.call(Controller.CreateTenant, { name: 'blue' }), { code: 'PERMISSION_DENIED' }, 'an agent writes nothing');
  await t.rejects(h1.call(Controller.Heartbeat, { name: 'h2' }), { code: 'PERMISSION_DENIED' }, 'nor beats for another node');
  for (const lookup of cp.lookups) {
    await new Promise((r) => setTimeout(r, 200)); // the replica follows the feed
    const l1 = await as(lookup.address, 'h1');
    await l1.call(Lookup.Flood, { vnid: net.vnid });
    await t.rejects(l1.call(Lookup.Flood, { vnid: other.vnid }), { code: 'PERMISSION_DENIED' },
      `${lookup.name}: an agent asks only about networks it carries`);
  }
  // No certificate of the run's CA: refused before any handler.
  const anon = new RpcClient({ address: cp.address, role: vxfab.v1.Role.ROLE_CLI, identity: 'x', logger: quiet, reconnect: false,
    timeoutMs: 5000, tls: { caPem: cp.pki.caPem } });
  t.teardown(() => anon.close());
  await t.rejects(anon.call(Controller.GetTenant, { name: 'red' }), { code: 'PERMISSION_DENIED' });
});
