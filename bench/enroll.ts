// Agent enrollment, end to end: `token create` (an administrator's call) → the joining host pins
// the CA from the token, makes its key and CSR, Enrolls → it connects with its new certificate and
// its first VL2 lookup is answered. Baseline, in the same run: a host that already has its
// credentials connecting and making that first lookup (TLS handshake + hello + one call), so the
// ratio is what enrollment adds. A secure vxfab serve (LevelDB, TLS 1.3) in process.
//
// Run: npm run bench -- enroll [joins, default 20]
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startServe } from '../src/cli/serve.js';
import type { Credentials } from '../src/security/credentials.js';
import { issueCredentials } from '../src/security/pki.js';
import { enroll, ROLE_AGENT } from '../src/security/enroll.js';
import { FabricCa } from '../src/security/pki.js';
import { vxfab } from '../src/wire/gen/proto.js';
import { Controller, Lookup } from '../src/wire/gen/services.js';
import { RpcClient } from '../src/wire/transport/client.js';

const HOUR = 3600_000;
const quiet = pino({ level: 'silent' });

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))];
}

export async function runEnrollBench(joins = Number(process.argv[3] ?? 20)): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vxfab-bench-enroll-'));
  const ca = await FabricCa.create('bench fabric');
  const running = await startServe({
    listen: '127.0.0.1:0', dataDir: join(dir, 'data'), logger: quiet, ca,
    credentials: await issueCredentials(ca, { kind: 'server', name: 'bench' }, { ttlMs: HOUR, ips: ['127.0.0.1'] }),
  });
  const address = `127.0.0.1:${running.port}`;
  const dial = (creds: Credentials) => new RpcClient({ address, role: ROLE_AGENT, identity: 'bench', reconnect: false, timeoutMs: 10_000,
    logger: quiet, tls: { caPem: ca.certPem, credentials: creds } });
  const admin = dial(await issueCredentials(ca, { kind: 'admin', name: 'bench' }, { ttlMs: HOUR }));
  try {
    await admin.call(Controller.CreateTenant, { name: 'bench' });
    const net = await admin.call(Controller.CreateNetwork, { tenant: 'bench', name: 'net', subnet4: '100.64.0.0/16' });
    const macs: string[] = [];
    for (let i = 0; i < joins; i++) {
      await admin.call(Controller.AddNode, { name: `h${i}`, underlay: `198.18.1.${i + 1}` });
      macs.push((await admin.call(Controller.CreateNic, { tenant: 'bench', network: 'net', node: `h${i}` })).mac);
    }
    const enrollMs: number[] = [];
    const baseMs: number[] = [];
    const stored: Credentials[] = [];
    for (let i = 0; i < joins; i++) {
      const t0 = performance.now();
      const { token } = await admin.call(Controller.CreateToken, { kind: vxfab.v1.TokenKind.TOKEN_KIND_NODE, name: `h${i}` });
      const creds = await enroll({ server: address, token, identity: { kind: 'node', node: `h${i}` }, role: ROLE_AGENT });
      const c = dial(creds);
      await c.call(Lookup.Vl2, { vnid: net.vnid, mac: macs[i] });
      enrollMs.push(performance.now() - t0);
      await c.close();
      stored.push(creds);
      // The baseline, interleaved so that both see the same machine: the same host, credentials in hand.
      const t1 = performance.now();
      const b = dial(creds);
      await b.call(Lookup.Vl2, { vnid: net.vnid, mac: macs[i] });
      baseMs.push(performance.now() - t1);
      await b.close();
    }
    const row = (name: string, xs: number[]) => `${name.padEnd(44)} ${pct(xs, 0.5).toFixed(1).padStart(7)} ${pct(xs, 0.9).toFixed(1).padStart(7)}`;
    process.stdout.write(`enrollment bench: ${joins} joins, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, node ${process.version}\n`);
    process.stdout.write(`${'case'.padEnd(44)} ${'p50 ms'.padStart(7)} ${'p90 ms'.padStart(7)}\n`);
    process.stdout.write(row('token -> enrolled -> first VL2 answered', enrollMs) + '\n');
    process.stdout.write(row('baseline: enrolled host, connect + first VL2', baseMs) + '\n');
    process.stdout.write(`ratio (p50): ${(pct(enrollMs, 0.5) / pct(baseMs, 0.5)).toFixed(1)}x\n`);
  } finally {
    await admin.close();
    await running.close();
    await rm(dir, { recursive: true, force: true });
  }
}
