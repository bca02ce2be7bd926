// What `vxfab serve` keeps in its data directory: made once, reused, renewed when it must be.
import t from 'tap';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { pino } from 'pino';
import { loadOrCreateServePki, serverNames } from '../../src/security/serve-pki.js';
import { FabricCa, certInfo } from '../../src/security/pki.js';
import { readCredentials } from '../../src/security/credentials.js';
import { VxfabError } from '../../src/model/errors.js';
import { runCli } from '../helpers/serve-process.js';

const logger = pino({ level: 'silent' });

async function dir(t: Tap): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'vxfab-pki-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}
type Tap = { teardown(fn: () => unknown): void };

t.test('serve-pki - a new data dir gets a CA, a server certificate and admin credentials, all private', async (t) => {
  const d = await dir(t);
  const pki = await loadOrCreateServePki({ dataDir: d, name: 'vxfab-serve', listenHost: '198.18.0.10', logger });
  for (const f of ['ca.key', 'ca.crt', 'server.credentials', 'admin.credentials']) t.equal((await stat(join(d, f))).mode & 0o777, 0o600, f);
  t.equal(pki.adminCreated, join(d, 'admin.credentials'));
  const admin = await readCredentials(join(d, 'admin.credentials'));
  t.same(certInfo(admin.certPem).identity, { kind: 'admin', name: 'admin' });
  t.equal(admin.caPem.trim(), pki.ca.certPem.trim());
  t.same(certInfo(pki.server.certPem).identity, { kind: 'server', name: 'vxfab-serve' });
  const x = new X509Certificate(pki.server.certPem);
  for (const ip of ['198.18.0.10', '127.0.0.1', '::1']) t.ok(x.checkIP(ip), `names ${ip}`);

  // A later start reuses all of it and writes no new admin file.
  const again = await loadOrCreateServePki({ dataDir: d, name: 'vxfab-serve', listenHost: '198.18.0.10', logger });
  t.equal(again.ca.fingerprint, pki.ca.fingerprint);
  t.equal(again.server.certPem.trim(), pki.server.certPem.trim(), 'server certificate reused');
  t.equal(again.adminCreated, undefined);
  // Listening elsewhere: a new server certificate naming the new address, same CA.
  const moved = await loadOrCreateServePki({ dataDir: d, name: 'vxfab-serve', listenHost: '198.18.0.11', logger });
  t.not(moved.server.certPem.trim(), pki.server.certPem.trim());
  t.ok(new X509Certificate(moved.server.certPem).checkIP('198.18.0.11'));
  t.equal(moved.ca.fingerprint, pki.ca.fingerprint);
});

t.test('serve-pki - an operator CA is used, remembered, and must not change', async (t) => {
  const d = await dir(t);
  const op = await FabricCa.create('operator CA');
  await writeFile(join(d, 'op.crt'), op.certPem);
  await writeFile(join(d, 'op.key'), op.keyPem);
  const data = join(d, 'data');
  const pki = await loadOrCreateServePki({ dataDir: data, name: 's', listenHost: '127.0.0.1', logger, caCertFile: join(d, 'op.crt'), caKeyFile: join(d, 'op.key') });
  t.equal(pki.ca.fingerprint, op.fingerprint);
  await t.rejects(stat(join(data, 'ca.key')), 'the operator\'s key is not copied');
  t.equal((await readFile(join(data, 'ca.crt'), 'utf8')).trim(), op.certPem.trim());
  const other = await FabricCa.create('another');
  await writeFile(join(d, 'other.crt'), other.certPem);
  await writeFile(join(d, 'other.key'), other.keyPem);
  await t.rejects(loadOrCreateServePki({ dataDir: data, name: 's', listenHost: '127.0.0.1', logger, caCertFile: join(d, 'other.crt'), caKeyFile: join(d, 'other.key') }),
    { code: 'CONFLICT', field: 'ca-cert' });
  const e = await loadOrCreateServePki({ dataDir: data, name: 's', listenHost: '127.0.0.1', logger }).catch((x: unknown) => x);
  t.ok(e instanceof VxfabError && e.field === 'ca-key', 'a start without the operator CA is refused, naming --ca-key');
  await t.rejects(loadOrCreateServePki({ dataDir: join(d, 'x'), name: 's', listenHost: '127.0.0.1', logger, caCertFile: join(d, 'op.crt') }),
    { code: 'INVALID_ARGUMENT', field: 'ca-key' });
});

t.test('serve-pki - server names: wildcard listen addresses add only loopback', async (t) => {
  t.same(serverNames('0.0.0.0'), { ips: ['127.0.0.1', '::1'], dns: ['localhost'] });
  t.same(serverNames('ctl.example'), { ips: ['127.0.0.1', '::1'], dns: ['localhost', 'ctl.example'] });
});

t.test('serve - --insecure off loopback is a usage error (exit 2), before anything is written', async (t) => {
  const d = await dir(t);
  const r = await runCli(['serve', '--insecure', '--listen', '198.18.0.10:4800', '--data', join(d, 'data')]);
  t.equal(r.code, 2, r.stderr);
  t.match(r.stderr, '--insecure');
  await t.rejects(stat(join(d, 'data')), 'no data directory made');
});
