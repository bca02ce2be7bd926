import t from 'tap';
import { mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FabricCa, makeCsr, newKeyPair } from '../../src/security/pki.js';
import { formatCredentials, parseCredentials, readCredentials, writeCredentials, type Credentials } from '../../src/security/credentials.js';
import { throwsVx } from '../model/expect-error.js';
import { VxfabError } from '../../src/model/errors.js';

async function admin(ca: FabricCa): Promise<Credentials> {
  const { keyPem } = await newKeyPair();
  const issued = await ca.issue({ identity: { kind: 'admin', name: 'root' }, csrPem: await makeCsr(keyPem, { kind: 'admin', name: 'root' }), ttlMs: 60_000 });
  return { certPem: issued.certPem, keyPem, caPem: ca.certPem };
}

t.test('credentials - one PEM file: certificate, key, CA, in that order; round-trips', async (t) => {
  const ca = await FabricCa.create();
  const c = await admin(ca);
  const text = formatCredentials(c);
  const labels = [...text.matchAll(/-----BEGIN ([A-Z ]+)-----/g)].map((m) => m[1]);
  t.same(labels, ['CERTIFICATE', 'PRIVATE KEY', 'CERTIFICATE']);
  const back = parseCredentials(text, 'f.credentials');
  t.equal(back.certPem.trim(), c.certPem.trim());
  t.equal(back.keyPem.trim(), c.keyPem.trim());
  t.equal(back.caPem.trim(), c.caPem.trim());
});

t.test('credentials - malformed files are INVALID_ARGUMENT naming the file', async (t) => {
  const ca = await FabricCa.create();
  const other = await FabricCa.create();
  const c = await admin(ca);
  const d = await admin(ca);
  const cases: Array<[string, string]> = [
    ['empty', ''],
    ['wrong order', `${c.keyPem}${c.certPem}${c.caPem}`],
    ['missing CA', `${c.certPem}${c.keyPem}`],
    ['key of another certificate', formatCredentials({ ...c, keyPem: d.keyPem })],
    ['CA that did not issue it', formatCredentials({ ...c, caPem: other.certPem })],
    ['corrupt certificate', formatCredentials({ ...c, certPem: c.certPem.replace(/\n[A-Za-z0-9+/]{10}/, '\nAAAAAAAAAA') })],
  ];
  for (const [what, text] of cases) {
    throwsVx(t, () => parseCredentials(text, '/x/admin.credentials'), 'INVALID_ARGUMENT', { field: 'credentials', value: '/x/admin.credentials' }, what);
  }
});

t.test('credentials - written 0600, atomically, and read back; a missing file is NOT_FOUND naming it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vxfab-cred-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ca = await FabricCa.create();
  const c = await admin(ca);
  const file = join(dir, 'sub', 'admin.credentials');
  await writeCredentials(file, c);
  t.equal((await stat(file)).mode & 0o777, 0o600);
  t.same(await readCredentials(file), parseCredentials(await readFile(file, 'utf8'), file));
  // Overwrite an existing world-readable file: the result is 0600 and no temp file is left behind.
  await writeFile(file, 'old', { mode: 0o644 });
  await writeCredentials(file, c);
  t.equal((await stat(file)).mode & 0o777, 0o600);
  t.same(await readdir(join(dir, 'sub')), ['admin.credentials']);
  try {
    await readCredentials(join(dir, 'nope'));
    t.fail('resolved');
  } catch (e) {
    t.same({ code: (e as VxfabError).code, value: (e as VxfabError).value }, { code: 'NOT_FOUND', value: join(dir, 'nope') });
  }
});
