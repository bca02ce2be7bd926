// The simulator's verdict must not depend on the machine's load (issue #11): a topology run while
// this test keeps every CPU busy with busy-loop child processes passes as it does idle; only its
// times grow. Before settling was by progress, each wait had a fixed budget (here the file's 1 s
// settle timeout), so a loaded machine made boot "NOT converged" and the walk of half-programmed
// tables thousands of violations.
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import t, { type Test } from 'tap';
import { expandTopology } from '../../src/sim/expand.js';
import { parseTopology } from '../../src/sim/loader.js';
import { runTopology } from '../../src/sim/runner.js';

const HOGS = Math.max(4, 2 * os.availableParallelism());

const LOADED = `name: loaded
seed: 7
defaults: { mode: push, settle-timeout-ms: 1000 }
hosts:
  - generate: { count: 30, prefix: p-, underlay: 198.18.2.1 }
  - generate: { count: 10, prefix: d-, underlay: 198.18.3.1, mode: on-demand }
tenants:
  - generate:
      count: 4
      prefix: t
      networks: { count: 2, prefix: net, subnet: 100.64.0.0/16, prefix-length: 24 }
nics:
  - generate: { count: 240, prefix: vm- }
timeline:
  - move-random: { count: 10 }
  - checkpoint: after-moves
  - create: { name: late, network: t1/net1, host: d-3 }
  - delete: vm-9
  - checkpoint: after-churn
`;

/** Busy-loop children, each ended by its own 120 s timeout if this test dies without teardown. */
function startHogs(t: Test, count: number): ChildProcess[] {
  const hogs: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    hogs.push(spawn(process.execPath, ['-e', 'setTimeout(() => process.exit(0), 120000); for (;;) {}'], { stdio: 'ignore' }));
  }
  t.teardown(() => {
    for (const h of hogs) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
  });
  return hogs;
}

t.test('sim run - under a CPU hog the verdict is the idle one; only the times grow', async (t) => {
  const plan = expandTopology(parseTopology(LOADED));
  const hogs = startHogs(t, HOGS);
  await new Promise((r) => setTimeout(r, 300)); // the hogs are spinning
  // The hard deadline is raised far above the stall window: a busy CI machine must not hit it.
  const r = await runTopology(plan, { deadlineMs: 240_000 });
  t.ok(hogs.every((h) => h.exitCode === null), `all ${HOGS} hogs ran through the whole run`);
  t.equal(r.boot.converged, true, `boot converged (in ${r.boot.convergeMs.toFixed(0)} ms)`);
  t.ok(r.steps.every((s) => s.converged), 'every step converged');
  t.equal(r.ok, true, JSON.stringify(r.checkpoints.flatMap((c) => c.violations).slice(0, 3)));
  t.same(r.checkpoints.map((c) => c.name), ['boot', 'after-moves', 'after-churn']);
  t.ok(r.checkpoints.every((c) => c.walks > 0));
  t.ok(r.load.loadAvgEnd >= 0 && r.load.loopDelayMaxMs >= 0, 'the load the times were measured under is reported');
  t.equal(r.settle.stallMs, 1000);
  t.equal(r.settle.deadlineMs, 240_000);
});

t.test('sim run - a fabric that makes no progress still fails after the stall window, not at the deadline', async (t) => {
  // The checker self-test fault: the agent believes it removed what it did not. Nothing moves
  // after the delete, so the wait gives up after 1 s without progress, long before the deadline.
  const plan = expandTopology(parseTopology(`name: stuck
defaults: { settle-timeout-ms: 1000 }
hosts:
  - { name: h1, underlay: 198.18.0.1 }
  - { name: h2, underlay: 198.18.0.2 }
tenants:
  - name: red
    networks: [{ name: web, subnet: 100.64.0.0/24 }]
nics:
  - { name: a, network: red/web, host: h1, ip: 100.64.0.10 }
  - { name: b, network: red/web, host: h2, ip: 100.64.0.11 }
timeline:
  - delete: b
  - checkpoint: after-delete
`));
  const r = await runTopology(plan, { fault: { kind: 'ignore-removals' }, deadlineMs: 240_000 });
  t.equal(r.ok, false);
  const del = r.steps.find((s) => s.op === 'delete')!;
  t.equal(del.converged, false);
  t.equal(del.gaveUp, 'stalled', 'it stalled; the deadline was not needed');
  const after = r.checkpoints.find((c) => c.name === 'after-delete')!;
  t.ok(after.violations.some((v) => /not converged: .*no progress for 1000 ms/.test(v.message)), 'the violation says why');
});
