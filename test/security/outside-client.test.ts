// An outside client: Python's ssl module and protoc-generated code (Debian python3-protobuf,
// protobuf-compiler) reads a credentials file as it is and makes a VL2 call to a secure vxfab
// serve; without a certificate the same call is refused.
import t from 'tap';
import { execFile } from 'node:child_process';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeCredentials } from '../../src/security/credentials.js';
import { secureFabric } from './fabric.js';

const run = promisify(execFile);
const root = new URL('../../..', import.meta.url).pathname;
// The system Python: Debian's python3-protobuf is installed for it, not for a pyenv one.
const PYTHON = '/usr/bin/python3';

const missing = await Promise.all([access('/usr/bin/protoc'), run(PYTHON, ['-c', 'import google.protobuf'])])
  .then(() => undefined, (e: Error) => e.message);

t.test('outside client - Python ssl + protoc code, with and without a credentials file', { skip: missing && `needs protoc and python3-protobuf: ${missing}` }, async (t) => {
  const f = await secureFabric(t);
  const dir = await mkdtemp(join(tmpdir(), 'vxfab-py-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await run('/usr/bin/protoc', [`-I${join(root, 'proto')}`, `--python_out=${dir}`, ...['wire', 'lookup'].map((p) => join(root, 'proto/vxfab/v1', `${p}.proto`))]);
  const creds = join(dir, 'admin.credentials');
  await writeCredentials(creds, f.admin);
  const caFile = join(dir, 'ca.crt');
  await writeFile(caFile, f.ca.certPem);
  const client = join(root, 'test/security/outside-client.py');
  const call = async (file: string) => JSON.parse((await run(PYTHON, [client, dir, '127.0.0.1', String(f.running.port), file, caFile,
    String(f.db.vnid), f.nicG.mac], { timeout: 30_000 })).stdout) as Record<string, string>;
  t.match(await call(creds), { node: 'h2', underlay: '198.18.0.2' }, 'answered with a credentials file');
  t.match(await call('-'), { error: 'PERMISSION_DENIED' }, 'refused without one');
});
