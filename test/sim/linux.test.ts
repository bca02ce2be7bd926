// `vxfab topology run --dataplane linux` through the CLI: a namespace per host and per NIC, real
// agents over LinuxDataPlane, checkpoints judged with real pings. Needs root (skipped otherwise,
// except the refusals, which are judged before root is asked for). Every run is bounded by an exec
// timeout; each test checks that the run left none of its namespaces behind (names carry its pid).
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { RunReport } from '../../src/sim/report.js';
import { netnsUnavailable, sh } from '../dataplane/netns.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const SMALL = fileURLToPath(new URL('../../../topologies/small.yaml', import.meta.url));

interface Run { code: number; stdout: string; stderr: string; pid: number }

function vxfab(args: string[], timeoutMs = 45_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr, pid: child.pid ?? -1 });
    });
  });
}

async function namespacesOf(pid: number): Promise<string[]> {
  return (await sh('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`vxt-topo-${pid}-`));
}

const tmp = await mkdtemp(join(tmpdir(), 'vxfab-simlinux-'));
t.teardown(() => rm(tmp, { recursive: true, force: true }));

async function topoFile(name: string, text: string): Promise<string> {
  const file = join(tmp, name);
  await writeFile(file, text);
  return file;
}

const BASE = `seed: 3
defaults: { mode: push, settle-timeout-ms: 5000 }
hosts:
  - { name: h1, underlay: 198.18.0.1 }
  - { name: h2, underlay: 198.18.0.2 }
  - { name: h3, underlay: 198.18.0.3 }
tenants:
  - name: red
    networks: [{ name: web, subnet: 100.64.0.0/24 }]
  - name: blue
    networks: [{ name: web, subnet: 100.64.0.0/24 }]
nics:
  - { name: red-a, network: red/web, host: h1, ip: 100.64.0.10 }
  - { name: red-b, network: red/web, host: h2, ip: 100.64.0.11 }
  - { name: blue-a, network: blue/web, host: h2, ip: 100.64.0.11 }
`;

t.test('sim linux - refuses what it must not run, naming the limit (before asking for root)', async (t) => {
  const outside = await topoFile('outside.yaml', `name: outside\n${BASE.replace('198.18.0.3', '10.0.0.3')}`);
  let r = await vxfab(['topology', 'run', outside, '--dataplane', 'linux', '-o', 'json']);
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, /10\.0\.0\.3 is outside 198\.18\.0\.0\/15/);
  const big = await topoFile('big.yaml', `name: big\nhosts:\n  - generate: { count: 17, prefix: h, underlay: 198.18.0.1 }\n`);
  r = await vxfab(['topology', 'run', big, '--dataplane', 'linux']);
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, /at most 16 hosts; big has 17/);
  const overlay = await topoFile('overlay.yaml', `name: overlay\n${BASE.replaceAll('100.64.0.0/24', '192.168.0.0/24').replaceAll('100.64.0.1', '192.168.0.1')}`);
  r = await vxfab(['topology', 'run', overlay, '--dataplane', 'linux']);
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, /subnet 192\.168\.0\.0\/24 is outside 100\.64\.0\.0\/10/);
});

const reason = await netnsUnavailable();
if (reason !== undefined) {
  t.test('sim linux - real namespaces and pings', { skip: `skipping --dataplane linux runs: ${reason}` }, () => undefined);
} else {
  t.test('sim linux - topologies/small.yaml passes every checkpoint with real pings, and leaves nothing behind', async (t) => {
    // A namespace of a run that was killed (its pid is gone) is removed before a new run starts.
    const dead = await new Promise<number>((resolve) => {
      const c = spawn('true');
      c.on('exit', () => resolve(c.pid!));
    });
    const stale = `vxt-topo-${dead}-stale`;
    await sh('ip', ['netns', 'add', stale]);
    t.teardown(() => sh('ip', ['netns', 'del', stale]).catch(() => undefined));

    const r = await vxfab(['topology', 'run', SMALL, '--dataplane', 'linux', '-o', 'json']);
    t.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as RunReport;
    t.equal(report.dataplane, 'linux');
    t.equal(report.ok, true, JSON.stringify(report.checkpoints.flatMap((c) => c.violations).slice(0, 3)));
    t.same(report.checkpoints.map((c) => c.name), ['boot', 'same-subnet-isolated', 'after-move', 'after-delete']);
    t.ok(report.checkpoints.every((c) => c.violationCount === 0 && c.walks > 0), 'every checkpoint pinged and passed');
    t.ok(report.steps.every((s) => s.converged));
    t.ok(report.checkpoints.every((c) => c.entriesPerHost.max > 0), 'entries were read back from the kernels');
    t.same(await namespacesOf(r.pid), [], 'no namespace of the run is left');
    t.same(await namespacesOf(dead), [], 'the stale namespace was removed');
  });

  t.test('sim linux - a reach expectation across tenants and a stale host are reported with the exact pair', async (t) => {
    const file = await topoFile('broken.yaml', `name: broken\n${BASE}timeline:
  - checkpoint: { name: cross-tenant, reach: [red-a -> blue-a], isolated: [red-a -> blue-a] }
  - stop-agent: h1
  - move: { nic: red-b, to: h3 }
  - checkpoint: { name: stale, default: false, reach: [red-a -> red-b] }
`);
    const r = await vxfab(['topology', 'run', file, '--dataplane', 'linux', '-o', 'json']);
    t.equal(r.code, 6, r.stderr);
    const report = JSON.parse(r.stdout) as RunReport;
    t.equal(report.ok, false);
    t.equal(report.violationCount, 2);
    const cross = report.checkpoints.find((c) => c.name === 'cross-tenant')!;
    // Blue's 100.64.0.11 is red-b's address too: red-b answers red-a, which is not blue-a, so the
    // reach fails and the isolation holds.
    t.equal(cross.violationCount, 1, JSON.stringify(cross.violations));
    t.match(cross.violations[0], { kind: 'reach', from: 'red-a', to: 'blue-a', message: /different networks: ping 100\.64\.0\.11: reply, address resolved to .*blue-a's MAC is/ });
    // h1's agent is stopped: its kernel still sends red-b's frames to h2.
    const stale = report.checkpoints.find((c) => c.name === 'stale')!;
    t.equal(stale.violationCount, 1, JSON.stringify(stale.violations));
    t.match(stale.violations[0], { kind: 'reach', from: 'red-a', to: 'red-b', message: /no reply/ });
    t.same(await namespacesOf(r.pid), [], 'no namespace of the run is left');
  });

  t.test('sim linux - SIGINT removes the run\'s namespaces', async (t) => {
    const child = spawn(process.execPath, [CLI, 'topology', 'run', SMALL, '--dataplane', 'linux'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
    const deadline = Date.now() + 20_000;
    while ((await namespacesOf(child.pid!)).filter((n) => /-e\d+$/.test(n)).length === 0) {
      if (Date.now() > deadline) throw new Error('the run made no endpoint namespace in 20 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGINT');
    t.equal(await exited, 130);
    t.same(await namespacesOf(child.pid!), [], 'no namespace of the run is left');
  });
}
