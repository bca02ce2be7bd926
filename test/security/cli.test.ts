// `vxfab token create` and `vxfab credentials create` as a user runs them (child processes, with the
// administrator credentials file vxfab serve made), against an in-process secure vxfab serve.
import t from 'tap';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startServe } from '../../src/cli/serve.js';
import { certInfo } from '../../src/security/pki.js';
import { readCredentials } from '../../src/security/credentials.js';
import { parseToken } from '../../src/security/token.js';
import { runCli } from '../helpers/serve-process.js';

t.test('cli - token create and credentials create', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vxfab-seccli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // A new data directory: serve makes its CA and the administrator's credentials file.
  const running = await startServe({ listen: '127.0.0.1:0', dataDir: join(dir, 'data'), logger: pino({ level: 'silent' }) });
  t.teardown(() => running.close());
  const ca = running.ca!;
  t.ok(running.adminCreated, 'admin credentials made');
  const server = ['--server', `127.0.0.1:${running.port}`, '--credentials', running.adminCreated!];

  const tok = await runCli([...server, 'token', 'create', '--node', 'h1', '--ttl', '30m']);
  t.equal(tok.code, 0, tok.stderr);
  t.equal(parseToken(tok.stdout.trim()).caPin, ca.fingerprint, 'prints a token pinning the CA');
  const json = await runCli([...server, '-o', 'json', 'token', 'create', '--replica', 'lk1']);
  t.match(JSON.parse(json.stdout), { identity: 'vxfab://replica/lk1' });
  t.equal((await runCli([...server, 'token', 'create', '--node', 'h1', '--replica', 'x'])).code, 2, 'both kinds: usage error');
  t.equal((await runCli([...server, 'token', 'create', '--node', 'h1', '--ttl', 'soon'])).code, 2, 'bad --ttl: usage error');
  const badName = await runCli([...server, 'token', 'create', '--node', 'Bad_Name']);
  t.match(badName.stderr, /INVALID_ARGUMENT/);

  const file = join(dir, 'acme.credentials');
  const cr = await runCli([...server, 'credentials', 'create', '--tenant', 'acme', '--out', file]);
  t.equal(cr.code, 0, cr.stderr);
  t.equal((await stat(file)).mode & 0o777, 0o600, 'written 0600');
  const creds = await readCredentials(file);
  t.same(certInfo(creds.certPem).identity, { kind: 'tenant', tenant: 'acme', name: 'operator' });
  t.equal(creds.caPem.trim(), ca.certPem.trim());
  const again = await runCli([...server, 'credentials', 'create', '--tenant', 'acme', '--out', file]);
  t.equal(again.code, 2, 'an existing file is not overwritten');
});
