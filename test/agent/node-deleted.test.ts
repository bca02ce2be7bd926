// A node deleted from the controller while its agent runs: the agent learns it from its heartbeat,
// stops programming (no NIC polls, no lookup session, no kernel writes), says so in its status, and
// does not register the node again. It resumes once an operator adds the node back with the same
// underlay, and not when the name comes back with another one.
import t from 'tap';
import type { ControllerPort } from '../../src/agent/ports.js';
import { rpcControllerPort } from '../../src/agent/rpc-ports.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { RpcClient } from '../../src/wire/transport/client.js';
import { Fabric, eventually, until } from './fabric.js';

t.test('agent - a node deleted under its agent is not re-registered; programming stops until it is added back', async (t) => {
  const f = await Fabric.start(t);
  await f.basic();
  const a = await f.nic('h1', '02:00:00:00:01:01', '100.64.1.11');
  await f.nic('h2', '02:00:00:00:02:01', '100.64.1.21');
  const client = new RpcClient({ address: f.address, role: vxfab.v1.Role.ROLE_AGENT, identity: 'h1', timeoutMs: 5000 });
  t.teardown(() => client.close());
  const port = rpcControllerPort(client);
  const calls = { listNics: 0 };
  const counted: ControllerPort = { ...port, listNics: (n) => { calls.listNics++; return port.listNics(n); } };
  const { agent, dp } = await f.agent('h1', 'push', { controller: counted, heartbeatMs: 100, nicPollMs: 100 });
  await until(agent, (s) => s.lookup.live && s.networks.length === 1, 'live with its network');
  t.equal(dp.fdbLookup(5001, '02:00:00:00:02:01'), '198.18.0.2');

  // The operator empties the node (the controller refuses to delete one with NICs) and deletes it.
  await f.controller.moveNic(a.id, 'h3');
  await until(agent, (s) => s.networks.length === 0, 'the network went with its last NIC');
  await f.controller.deleteNode('h1');
  const s = await until(agent, (st) => st.controller.nodeDeleted, 'the agent noticed', 3000);
  t.equal(s.controller.registered, false);
  await until(agent, (st) => st.lookup.state === 'connecting' && !st.lookup.live, 'the lookup session is dropped');
  const polls = calls.listNics;
  await new Promise((r) => setTimeout(r, 600)); // several heartbeat and poll periods
  t.notOk(f.controller.listNodes().some((n) => n.name === 'h1'), 'h1 was not registered again');
  t.equal(calls.listNics, polls, 'no NIC polls while deleted');
  t.equal(agent.status().lookup.state, 'connecting', 'no lookup server dialed');
  t.equal(agent.status().controller.nodeDeleted, true, 'still reported');
  await t.rejects(agent.syncNow(), { code: 'NOT_FOUND', field: 'node' }, 'an attach\'s sync is told the node is gone');
  t.equal(calls.listNics, polls, 'and does not poll');

  // The name comes back with another underlay: not ours, keep still.
  await f.controller.registerNode('h1', '198.18.0.9', 4789);
  await new Promise((r) => setTimeout(r, 400));
  t.equal(agent.status().controller.nodeDeleted, true, 'a node of that name with another underlay is not ours');
  t.equal(calls.listNics, polls);
  await f.controller.deleteNode('h1');

  // The operator adds it back as it was: the agent resumes and programs again.
  await f.controller.registerNode('h1', '198.18.0.1', 4789);
  await until(agent, (st) => !st.controller.nodeDeleted && st.controller.registered, 'resumed', 3000);
  await f.controller.moveNic(a.id, 'h1');
  await until(agent, (st) => st.lookup.live && st.networks.length === 1, 'the network is back');
  await eventually(() => dp.fdbLookup(5001, '02:00:00:00:02:01') === '198.18.0.2', 'and programmed');
  t.ok(calls.listNics > polls, 'polling again');
});
