// End to end with real packets, once per agent mode. Namespaces: an underlay switch (`ul`, a bridge),
// a controller host (`ctl`, 198.18.0.10: `vxfab serve` on :4800 and a lookup replica on :4801),
// three hosts (h1..h3, 198.18.0.1..3, each running `vxfab agent` against the replica), and one
// namespace per endpoint, plugged with `vxfab endpoint attach`. Two tenants with the same subnet
// 100.64.1.0/24 (tenant 1 dual-stack). Checks: every pair pings (v4, and v6 in tenant 1), a
// broadcast reaches every endpoint of its network and no other, answers come from the right MAC,
// the underlay carries UDP 4789 with each tenant's VNI, a NIC move, an agent kill/restart under a
// running ping (no loss, stale entry removed), and a lookup outage (flows keep working, new ones
// resolve once it is back). Every ping is bounded (-c, -W); everything is removed in teardown.
import t from 'tap';
import type { Test } from 'tap';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Namespaces, netnsUnavailable } from '../dataplane/netns.js';
import { FabricCa, issueCredentials } from '../../src/security/pki.js';
import { writeCredentials } from '../../src/security/credentials.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const CAPTURE = fileURLToPath(new URL('../../../test/agent/vxlan-capture.py', import.meta.url));
const CTL = '198.18.0.10';

interface Run { code: number; stdout: string; stderr: string }

function execIn(ns: string, argv: string[], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

interface Proc { child: ChildProcess; out: () => string; err: () => string; stop(signal?: NodeJS.Signals): Promise<void> }

function spawnIn(t: Test, ns: string, argv: string[], readyRe: RegExp): Promise<Proc> {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const proc: Proc = {
    child, out: () => out, err: () => err,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  t.teardown(() => proc.stop('SIGKILL'));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv.join(' ')} not ready in 15 s: ${err}`)), 15_000);
    child.stdout!.on('data', () => { if (readyRe.test(out)) { clearTimeout(timer); resolve(proc); } });
    void exited.then(() => { clearTimeout(timer); reject(new Error(`${argv.join(' ')} exited: ${err}`)); });
  });
}

async function waitFor(pred: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}


interface Ep { key: string; tenant: string; host: string; ip: string; ip6?: string; mac: string; id: string; ns: string; vnid: number }

const reason = await netnsUnavailable();
if (reason !== undefined) {
  t.plan(0, `skipping agent end-to-end test: ${reason}`);
} else {
  t.test('agent e2e - push mode', (t) => scenario(t, 'push'));
  t.test('agent e2e - on-demand mode', (t) => scenario(t, 'on-demand'));
}

async function scenario(t: Test, mode: 'push' | 'on-demand'): Promise<void> {
  const nss = new Namespaces(`vxt-e2e-${mode === 'push' ? 'p' : 'd'}`);
  await nss.cleanStale();
  t.teardown(() => nss.cleanup());
  const tmp = await mkdtemp(join(tmpdir(), 'vxfab-e2e-'));
  t.teardown(() => rm(tmp, { recursive: true, force: true }));

  // --- underlay ---
  const ul = await nss.add('ul');
  await nss.ip(ul, 'link', 'add', 'ubr', 'type', 'bridge');
  await nss.ip(ul, 'link', 'set', 'ubr', 'up');
  const hostNs: Record<string, string> = {};
  const underlay: Record<string, string> = { ctl: CTL, h1: '198.18.0.1', h2: '198.18.0.2', h3: '198.18.0.3' };
  for (const h of ['ctl', 'h1', 'h2', 'h3']) {
    const ns = await nss.add(h);
    hostNs[h] = ns;
    await nss.ip(ul, 'link', 'add', `p-${h}`, 'type', 'veth', 'peer', 'name', 'ul0', 'netns', ns);
    await nss.ip(ul, 'link', 'set', `p-${h}`, 'master', 'ubr', 'up');
    await nss.ip(ns, 'addr', 'add', `${underlay[h]}/24`, 'dev', 'ul0');
    await nss.ip(ns, 'link', 'set', 'ul0', 'up');
  }

  // --- control plane ---
  const data = join(tmp, 'data');
  const serve = await spawnIn(t, hostNs.ctl!, [process.execPath, CLI, 'serve', '--listen', `${CTL}:4800`, '--data', data, '--log-level', 'warn'], /listening/);
  // Every connection is mutual TLS. The hosts' and the replica's certificates are issued here
  // from the data directory's CA (what enrollment will do over the wire).
  const ca = await FabricCa.fromPem(await readFile(join(data, 'ca.crt'), 'utf8'), await readFile(join(data, 'ca.key'), 'utf8'));
  const creds: Record<string, string> = { ctl: join(data, 'admin.credentials'), replica: join(tmp, 'replica.credentials') };
  await writeCredentials(creds.replica!, await issueCredentials(ca, { kind: 'replica', name: 'lookup-replica' }, { ttlMs: 3600_000 }));
  for (const h of ['h1', 'h2', 'h3']) {
    creds[h] = join(tmp, `${h}.credentials`);
    await writeCredentials(creds[h]!, await issueCredentials(ca, { kind: 'node', node: h }, { ttlMs: 3600_000 }));
  }
  const startReplica = (): Promise<Proc> => spawnIn(t, hostNs.ctl!, [process.execPath, CLI, '--credentials', creds.replica!, 'lookup', 'serve',
    '--controller', `${CTL}:4800`, '--listen', `${CTL}:4801`, '--log-level', 'warn'], /listening/);
  let replica = await startReplica();
  t.ok(serve && replica, 'serve and lookup replica running in the controller namespace');
  const cli = async (args: string[]): Promise<Record<string, unknown>> => {
    const r = await execIn(hostNs.ctl!, [process.execPath, CLI, '--server', `${CTL}:4800`, '--credentials', creds.ctl!, '-o', 'json', ...args]);
    if (r.code !== 0) throw new Error(`vxfab ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  const agents: Record<string, Proc> = {};
  const stateDir = (h: string): string => join(tmp, `state-${h}`);
  const startAgent = async (h: string): Promise<void> => {
    agents[h] = await spawnIn(t, hostNs[h]!, [process.execPath, CLI, '--server', `${CTL}:4800`, '--credentials', creds[h]!, 'agent', '--node', h, '--underlay', underlay[h]!,
      '--underlay-dev', 'ul0', '--lookup', `${CTL}:4801`, '--mode', mode, '--state-dir', stateDir(h), '--log-level', 'warn',
      '--poll-interval', '1000', '--reconcile-interval', '3000'], /agent running/);
  };
  for (const h of ['h1', 'h2', 'h3']) await startAgent(h);
  const status = async (h: string): Promise<{ degraded: boolean; networks: Array<{ vnid: number; loaded: boolean }> }> => {
    const r = await execIn(hostNs[h]!, [process.execPath, CLI, '-o', 'json', 'agent', 'status', '--state-dir', stateDir(h)]);
    if (r.code !== 0) throw new Error(`agent status ${h}: ${r.stderr}`);
    return JSON.parse(r.stdout) as { degraded: boolean; networks: Array<{ vnid: number; loaded: boolean }> };
  };

  // --- tenants, networks, NICs ---
  await cli(['tenant', 'create', 't1']);
  await cli(['tenant', 'create', 't2']);
  await cli(['network', 'create', 'net', '--tenant', 't1', '--vnid', '101', '--subnet', '100.64.1.0/24', '--subnet6', 'fd00:64:1::/64']);
  await cli(['network', 'create', 'net', '--tenant', 't2', '--vnid', '102', '--subnet', '100.64.1.0/24']);
  const plan: Array<[string, string, string, number, string | undefined]> = [
    ['a1', 't1', 'h1', 11, 'fd00:64:1::11'], ['a2', 't1', 'h2', 12, 'fd00:64:1::12'], ['a3', 't1', 'h3', 13, 'fd00:64:1::13'],
    ['a4', 't1', 'h1', 14, 'fd00:64:1::14'],
    ['b1', 't2', 'h1', 11, undefined], ['b2', 't2', 'h2', 12, undefined], ['b3', 't2', 'h3', 13, undefined],
  ];
  const eps: Ep[] = [];
  for (const [key, tenant, host, last, ip6] of plan) {
    // Distinct MACs per tenant, so that "who answered" is decided by MAC.
    const mac = `02:00:00:0${tenant === 't1' ? 1 : 2}:00:${last}`;
    const nic = await cli(['nic', 'create', '--network', `${tenant}/net`, '--node', host, '--mac', mac, '--ip', `100.64.1.${last}`, ...(ip6 ? ['--ip', ip6] : [])]);
    const ns = await nss.add(`e${key}`);
    await execIn(ns, ['sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_broadcasts=0']);
    eps.push({ key, tenant, host, ip: `100.64.1.${last}`, ip6, mac: String(nic.mac), id: String(nic.id), ns, vnid: tenant === 't1' ? 101 : 102 });
  }
  const attach = async (ep: Ep): Promise<void> => {
    const r = await execIn(hostNs[ep.host]!, [process.execPath, CLI, '--server', `${CTL}:4800`, '--credentials', creds[ep.host]!, 'endpoint', 'attach', '--nic', ep.id, '--netns', ep.ns,
      '--state-dir', stateDir(ep.host)]);
    if (r.code !== 0) throw new Error(`attach ${ep.key} on ${ep.host}: ${r.stderr}`);
  };
  await Promise.all(eps.map(attach));
  const ep = (k: string): Ep => eps.find((e) => e.key === k)!;
  if (mode === 'push') {
    await waitFor(async () => (await Promise.all(['h1', 'h2', 'h3'].map(status))).every((s) => s.networks.length === 2 && s.networks.every((n) => n.loaded)),
      'every agent loaded both networks');
  }

  const ping = async (from: Ep, to: string, args: string[] = ['-c', '1', '-W', '3']): Promise<boolean> =>
    (await execIn(from.ns, ['ping', ...args, to])).code === 0;

  // --- every pair in a network pings; IPv6 too in the dual-stack one ---
  const pairs: Array<[Ep, Ep]> = [];
  for (const a of eps) for (const b of eps) if (a.tenant === b.tenant && a.key < b.key) pairs.push([a, b]);
  const v4 = await Promise.all(pairs.map(([a, b]) => ping(a, b.ip)));
  t.same(pairs.filter((_, i) => !v4[i]).map(([a, b]) => `${a.key}->${b.key}`), [], `every IPv4 pair pings (${pairs.length} pairs)`);
  const pairs6 = pairs.filter(([a, b]) => a.ip6 && b.ip6);
  const v6 = await Promise.all(pairs6.map(([a, b]) => ping(a, b.ip6!)));
  t.same(pairs6.filter((_, i) => !v6[i]).map(([a, b]) => `${a.key}->${b.key}`), [], `every IPv6 pair pings (${pairs6.length} pairs)`);

  // --- answers come from the right tenant: the source learned the t1 MAC, not the t2 one ---
  const neighMac = async (from: Ep, ip: string): Promise<string> => {
    const out = (await execIn(from.ns, ['ip', '-j', 'neigh', 'show', ip])).stdout;
    return (JSON.parse(out || '[]') as Array<{ lladdr?: string }>)[0]?.lladdr ?? '';
  };
  t.equal(await neighMac(ep('a1'), ep('a2').ip), ep('a2').mac, 'a1 resolved 100.64.1.12 to a2 (tenant 1), not b2');
  t.equal(await neighMac(ep('b1'), ep('b2').ip), ep('b2').mac, 'b1 resolved 100.64.1.12 to b2 (tenant 2), not a2');

  // --- broadcast: reaches every endpoint of its network and no other; VNIs on the underlay ---
  const inEchos = async (e: Ep): Promise<number> => {
    const snmp = (await execIn(e.ns, ['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Icmp:'));
    const [head, vals] = [snmp[0]!.split(/\s+/), snmp[1]!.split(/\s+/)];
    return Number(vals[head.indexOf('InEchos')]);
  };
  const before = await Promise.all(eps.map(inEchos));
  const capture = spawn('ip', ['netns', 'exec', ul, 'python3', CAPTURE, '8', '400'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { if (capture.exitCode === null) capture.kill('SIGKILL'); });
  let capOut = '';
  capture.stdout.on('data', (d: Buffer) => { capOut += d.toString(); });
  const capDone = new Promise<void>((r) => capture.once('exit', () => r()));
  await waitFor(async () => capOut.includes('"ready"'), 'capture ready', 5000);
  await execIn(ep('a1').ns, ['ping', '-b', '-c', '3', '-i', '0.3', '-W', '1', '100.64.1.255']);
  await ping(ep('b1'), ep('b3').ip, ['-c', '2', '-i', '0.2', '-W', '2']);
  const after = await Promise.all(eps.map(inEchos));
  const got = eps.filter((_, i) => after[i]! > before[i]!).map((e) => e.key);
  // a1 answers its own broadcast; b3 got b1's unicast pings (sent during the capture, for VNI 102).
  t.same(got.filter((k) => k !== 'b3' && k !== 'a1').sort(), ['a2', 'a3', 'a4'], 'the broadcast from a1 reached every other tenant-1 endpoint and no tenant-2 one', { got, before, after });
  capture.kill('SIGTERM');
  await capDone;
  const frames = capOut.split('\n').filter((l) => l.startsWith('{"src"')).map((l) => JSON.parse(l) as { vni: number; inner_src: string; i_flag: boolean; src: string; dst: string });
  const macVni = new Map(eps.map((e) => [e.mac, e.vnid]));
  const wrong = frames.filter((f) => macVni.has(f.inner_src) && macVni.get(f.inner_src) !== f.vni);
  t.ok(frames.some((f) => f.vni === 101) && frames.some((f) => f.vni === 102), `UDP 4789 frames with VNI 101 and 102 on the underlay (${frames.length} seen)`);
  t.same(wrong, [], 'every encapsulated frame carries its tenant\'s VNI');
  t.ok(frames.every((f) => f.i_flag && f.src.startsWith('198.18.0.') && f.dst.startsWith('198.18.0.')), 'VXLAN header valid, underlay addresses only');

  // --- move a3 from h3 to h2 ---
  const a3 = ep('a3');
  await execIn(hostNs.h3!, [process.execPath, CLI, 'endpoint', 'detach', '--nic', a3.id]);
  await cli(['nic', 'move', a3.id, '--node', 'h2']);
  a3.host = 'h2';
  await attach(a3);
  t.ok(await ping(ep('a1'), a3.ip, ['-c', '3', '-i', '0.3', '-W', '3']), 'a1 reaches a3 at its new host');
  t.ok(await ping(ep('a2'), a3.ip), 'a2 reaches a3 (now local on h2)');
  const fdbDst = async (h: string, vnid: number, mac: string): Promise<string | undefined> => {
    const r = await execIn(hostNs[h]!, ['bridge', '-j', 'fdb', 'show', 'dev', `vx-${vnid}`]);
    const rows = JSON.parse(r.stdout || '[]') as Array<{ mac: string; dst?: string }>;
    return rows.find((x) => x.mac === mac && x.dst !== undefined)?.dst;
  };
  await waitFor(async () => (await fdbDst('h1', 101, a3.mac)) === '198.18.0.2', 'h1 points a3 at h2');
  t.equal(await fdbDst('h2', 101, a3.mac), undefined, 'h2 has no tunnel entry for its now-local a3');
  t.equal((await execIn(hostNs.h3!, ['ip', 'link', 'show', 'vx-101'])).code !== 0, true, 'h3 has no tenant-1 NIC left: its vx-101 is gone');

  // --- kill the h2 agent under a running ping; a stale entry is removed by the new one ---
  const flood = execIn(ep('a1').ns, ['ping', '-i', '0.05', '-c', '200', '-W', '1', ep('a2').ip], 30_000);
  await new Promise((r) => setTimeout(r, 1000));
  await agents.h2!.stop('SIGKILL');
  await execIn(hostNs.h2!, ['bridge', 'fdb', 'replace', '02:de:ad:00:00:01', 'dev', 'vx-101', 'dst', '198.18.0.99', 'self', 'permanent']);
  await startAgent('h2');
  const pinged = await flood;
  const loss = /(\d+) received/.exec(pinged.stdout)?.[1];
  t.equal(loss, '200', 'all 200 pings answered across the agent kill and restart');
  await waitFor(async () => (await fdbDst('h2', 101, '02:de:ad:00:00:01')) === undefined, 'stale entry reconciled away', 10_000);
  t.equal(await fdbDst('h2', 101, ep('a1').mac), '198.18.0.1', 'live entries stay');

  // --- lookup outage: established flows keep working; degraded; new NICs resolve once it is back ---
  await replica.stop();
  await waitFor(async () => (await status('h1')).degraded, 'h1 degraded', 15_000);
  t.ok(await ping(ep('a1'), ep('a2').ip, ['-c', '3', '-i', '0.2', '-W', '2']), 'established flow a1->a2 works while no lookup server is reachable');
  const nic5 = await cli(['nic', 'create', '--network', 't1/net', '--node', 'h3', '--mac', '02:00:00:01:00:15', '--ip', '100.64.1.15']);
  const a5: Ep = { key: 'a5', tenant: 't1', host: 'h3', ip: '100.64.1.15', mac: String(nic5.mac), id: String(nic5.id), ns: await nss.add('ea5'), vnid: 101 };
  await attach(a5);
  replica = await startReplica();
  await waitFor(async () => (await Promise.all(['h1', 'h2', 'h3'].map(status))).every((s) => !s.degraded && s.networks.every((n) => n.loaded)),
    'every agent reconnected and loaded', 20_000);
  const reached = await ping(ep('a1'), a5.ip, ['-c', '3', '-i', '0.3', '-W', '3']);
  t.ok(reached, 'a NIC created during the outage is reachable once the lookup is back', reached ? {} : {
    h1: await status('h1'), h3: await status('h3'),
    h1fdb: (await execIn(hostNs.h1!, ['bridge', 'fdb', 'show', 'dev', 'vx-101'])).stdout,
    h3fdb: (await execIn(hostNs.h3!, ['bridge', 'fdb', 'show', 'dev', 'vx-101'])).stdout,
    h1neigh: (await execIn(hostNs.h1!, ['ip', 'neigh', 'show', 'dev', 'vx-101'])).stdout,
    h3log: agents.h3!.out(),
    h3links: (await execIn(hostNs.h3!, ['ip', '-br', 'link'])).stdout,
    a5: (await execIn(a5.ns, ['ip', '-br', 'addr'])).stdout,
  });

  for (const h of ['h1', 'h2', 'h3']) await agents[h]!.stop();
  await replica.stop();
  await serve.stop();
}
