// metrics - an agent's registry (in-process, SimDataPlane) reports what it programmed, and two
// agents in one process keep separate registries.
import t from 'tap';
import { Fabric, until } from '../agent/fabric.js';
import { daemonRegistry } from '../../src/metrics/http.js';
import { registerAgentMetrics } from '../../src/metrics/agent.js';

t.test('metrics - agent entries by table, degraded and lookup state', async (t) => {
  const f = await Fabric.start(t);
  await f.basic();
  await f.nic('h1', '02:00:00:00:01:01', '100.64.1.11');
  await f.nic('h2', '02:00:00:00:02:01', '100.64.1.21');
  await f.nic('h3', '02:00:00:00:03:01', '100.64.1.31');
  const { agent } = await f.agent('h1', 'push');
  const { agent: other } = await f.agent('h2', 'push');
  await until(agent, (s) => s.networks[0]?.fdb === 2, 'two remote FDB entries');
  await until(other, (s) => s.networks[0]?.fdb === 2, 'two remote FDB entries on h2');
  const r1 = daemonRegistry('agent');
  registerAgentMetrics(r1, agent);
  const r2 = daemonRegistry('agent');
  registerAgentMetrics(r2, other);
  const text = await r1.metrics();
  t.match(text, /^vxfab_agent_entries\{table="fdb",daemon="agent"\} 2$/m);
  t.match(text, /^vxfab_agent_entries\{table="neigh",daemon="agent"\} 2$/m);
  t.match(text, /^vxfab_agent_entries\{table="flood",daemon="agent"\} 2$/m);
  t.match(text, /^vxfab_agent_degraded\{daemon="agent"\} 0$/m);
  t.match(text, /^vxfab_agent_lookup_connected\{daemon="agent"\} 1$/m);
  t.match(await r2.metrics(), /^vxfab_agent_entries\{table="fdb",daemon="agent"\} 2$/m, 'second registry in the same process');
});
