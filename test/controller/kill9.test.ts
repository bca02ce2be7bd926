// End to end durability: `vxfab serve` is killed with SIGKILL while pipelined creates stream in
// through the wire. After a restart on the same data directory every acknowledged NIC is there,
// and the rebuilt allocators hand out nothing twice.
import t from 'tap';
import { startServe } from '../helpers/serve-process.js';
import { RpcClient } from '../../src/wire/transport/client.js';
import { collect } from '../../src/wire/transport/collect.js';
import { Controller } from '../../src/wire/gen/services.js';
import { vxfab } from '../../src/wire/gen/proto.js';

const client = (address: string) => new RpcClient({ address, role: vxfab.v1.Role.ROLE_BENCH, identity: 'test-kill9', reconnect: false });

t.test('controller - acknowledged creates survive kill -9 of vxfab serve', async (t) => {
  let serve = await startServe(t);
  let c = client(serve.address);
  await c.connect();
  await c.call(Controller.CreateTenant, { name: 'acme' });
  await c.call(Controller.CreateNetwork, { tenant: 'acme', name: 'web', subnet4: '100.64.0.0/16' });
  await c.call(Controller.AddNode, { name: 'host-a', underlay: '198.18.0.1' });

  const acked = new Map<string, string>();
  let killed = false;
  const window = 64;
  await Promise.all(Array.from({ length: window }, async () => {
    while (!killed) {
      try {
        const nic = await c.call(Controller.CreateNic, { tenant: 'acme', network: 'web', node: 'host-a' });
        acked.set(nic.id, nic.ips[0]!);
        if (acked.size >= 600 && !killed) {
          killed = true;
          serve.child.kill('SIGKILL');
        }
      } catch {
        return; // the connection died with the process: in-flight creates are unacknowledged
      }
    }
  }));
  t.ok(acked.size >= 600, `${acked.size} creates acknowledged before the kill`);
  await c.close();
  await serve.stop();

  serve = await serve.restart();
  c = client(serve.address);
  await c.connect();
  t.teardown(() => c.close());
  const stored = new Map<string, string>();
  for (const page of await collect(c, Controller.ListNics, {})) for (const nic of page.nics) stored.set(nic.id ?? '', nic.ips?.[0] ?? '');
  const missing = [...acked.keys()].filter((id) => !stored.has(id));
  t.same(missing, [], 'every acknowledged NIC is stored');
  for (const [id, ip] of acked) if (stored.get(id) !== ip) t.fail(`${id} has ${stored.get(id)}, acknowledged with ${ip}`);
  // New creates after the restart must not reuse a stored address.
  const used = new Set(stored.values());
  for (let i = 0; i < 50; i++) {
    const nic = await c.call(Controller.CreateNic, { tenant: 'acme', network: 'web', node: 'host-a' });
    t.notOk(used.has(nic.ips[0]!), `new address ${nic.ips[0]} was free`);
    used.add(nic.ips[0]!);
  }
});
