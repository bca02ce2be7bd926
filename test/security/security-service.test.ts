// The controller's security service in process, on a real LevelDB store: tokens are single-use,
// expire and bind their name, refusals write nothing, a node's deletion revokes its certificates
// in the same batch, and the change feed carries revocations but never tokens.
import t, { type Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Controller } from '../../src/controller/controller.js';
import { SecurityService } from '../../src/controller/security-service.js';
import { toKeyChanges } from '../../src/controller/feed.js';
import { LevelStore } from '../../src/store/level-store.js';
import type { Change, Store } from '../../src/store/store.js';
import { VxfabError } from '../../src/model/errors.js';
import { FabricCa, certInfo, makeCsr, newKeyPair } from '../../src/security/pki.js';
import { RevocationList } from '../../src/security/revocations.js';
import { parseToken, formatToken } from '../../src/security/token.js';

const log = pino({ level: 'silent' });

async function setup(t: Test, now?: () => number) {
  const dir = await mkdtemp(join(tmpdir(), 'vxfab-sec-'));
  const store = await LevelStore.open(dir);
  t.teardown(async () => { await store.close(); await rm(dir, { recursive: true, force: true }); });
  const ca = await FabricCa.create();
  const c = await Controller.open(store);
  const sec = await SecurityService.open(store, c.committer, ca, { logger: log, now });
  return { dir, store, ca, c, sec };
}

async function dump(store: Store): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const [k, v] of store.scan('')) out.set(k, Buffer.from(v).toString('hex'));
  return out;
}

async function refusedUnchanged(t: Test, store: Store, p: () => Promise<unknown>, code: string, field: string, what: string) {
  const before = await dump(store);
  const rev = store.revision;
  try {
    await p();
    t.fail(`${what}: expected ${code}`);
  } catch (e) {
    t.ok(e instanceof VxfabError, `${what}: typed`);
    t.same([(e as VxfabError).code, (e as VxfabError).field], [code, field], what);
  }
  t.equal(store.revision, rev, `${what}: no revision`);
  t.same(await dump(store), before, `${what}: store unchanged`);
}

const csrFor = async (kind: 'node' | 'replica', name: string) => {
  const keys = await newKeyPair();
  return makeCsr(keys.keyPem, kind === 'node' ? { kind, node: name } : { kind, name });
};

t.test('security - a token enrolls its name once, and the secret is stored only hashed', async (t) => {
  const { store, sec, ca } = await setup(t);
  const tok = await sec.createToken('node', 'h1');
  const parsed = parseToken(tok.token);
  t.equal(parsed.caPin, ca.fingerprint, 'the token pins this CA');
  t.equal(tok.identity, 'vxfab://node/h1');
  for (const [, v] of (await dump(store))) t.notOk(v.includes(Buffer.from(parsed.secret).toString('hex')), 'no secret in the store');
  const issued = await sec.enroll(tok.token, 'h1', await csrFor('node', 'h1'));
  t.same(certInfo(issued.certPem).identity, { kind: 'node', node: 'h1' });
  t.equal(issued.caPem, ca.certPem);
  t.ok((await dump(store)).has(`c/${issued.serial}`), 'certificate recorded');
  await refusedUnchanged(t, store, async () => sec.enroll(tok.token, 'h1', await csrFor('node', 'h1')), 'PERMISSION_DENIED', 'token', 'reused');
});

t.test('security - refusals: another name, expired, wrong secret, another fabric, bad CSR (token kept)', async (t) => {
  let clock = 1_000_000;
  const { store, sec, ca } = await setup(t, () => clock);
  const tok = await sec.createToken('node', 'h1', 60_000);
  await refusedUnchanged(t, store, async () => sec.enroll(tok.token, 'h2', await csrFor('node', 'h2')), 'PERMISSION_DENIED', 'name', 'another name');
  const p = parseToken(tok.token);
  await refusedUnchanged(t, store, async () => sec.enroll(formatToken({ ...p, secret: '0'.repeat(32) }), 'h1', await csrFor('node', 'h1')),
    'PERMISSION_DENIED', 'token', 'wrong secret');
  await refusedUnchanged(t, store, async () => sec.enroll(formatToken({ ...p, caPin: 'f'.repeat(64) }), 'h1', await csrFor('node', 'h1')),
    'PERMISSION_DENIED', 'token', 'another fabric');
  await refusedUnchanged(t, store, async () => sec.enroll('vxf1.nonsense', 'h1', ''), 'INVALID_ARGUMENT', 'token', 'malformed');
  await refusedUnchanged(t, store, async () => sec.enroll(tok.token, 'h1', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----'),
    'INVALID_ARGUMENT', 'csr', 'bad CSR');
  // The bad CSR did not burn the token.
  const ok = await sec.enroll(tok.token, '', await csrFor('node', 'h1'));
  t.equal(ok.identity, 'vxfab://node/h1', 'an empty name takes the token\'s');
  const late = await sec.createToken('replica', 'lk1', 60_000);
  clock += 60_000;
  await refusedUnchanged(t, store, async () => sec.enroll(late.token, 'lk1', await csrFor('replica', 'lk1')), 'PERMISSION_DENIED', 'token', 'expired');
  t.ok(ca);
});

t.test('security - two racing enrollments with one token: exactly one wins', async (t) => {
  const { sec } = await setup(t);
  const tok = await sec.createToken('node', 'h1');
  const [a, b] = [await csrFor('node', 'h1'), await csrFor('node', 'h1')];
  const results = await Promise.allSettled([sec.enroll(tok.token, 'h1', a), sec.enroll(tok.token, 'h1', b)]);
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  t.equal((lost.reason as VxfabError).code, 'PERMISSION_DENIED');
});

t.test('security - deleting a node revokes all its certificates in the same batch; the feed has revocations, not tokens', async (t) => {
  const { store, sec, c } = await setup(t);
  const changes: Change[] = [];
  store.onCommit((ch) => changes.push(ch));
  const { list, stop } = await RevocationList.follow(store);
  t.teardown(stop);
  const heard: string[] = [];
  list.onRevoked((r) => heard.push(r.serial));
  c.nodeDeleteHooks = { deleteOps: (name) => sec.revocationOps({ kind: 'node', node: name }), deleted: (name) => sec.revoked({ kind: 'node', node: name }) };
  const first = await sec.enroll((await sec.createToken('node', 'h1')).token, 'h1', await csrFor('node', 'h1'));
  const renewed = await sec.renew({ kind: 'node', node: 'h1' }, await csrFor('node', 'h1'));
  const other = await sec.enroll((await sec.createToken('node', 'h2')).token, 'h2', await csrFor('node', 'h2'));
  await c.addNode('h1', '198.18.0.1');
  const rev = store.revision;
  await c.deleteNode('h1');
  t.equal(store.revision, rev + 1, 'one batch');
  const last = changes[changes.length - 1];
  t.same(last.ops.map((o) => `${o.type} ${o.key}`).sort(),
    ['del c/' + first.serial, 'del c/' + renewed.serial, 'del h/h1', 'put r/' + first.serial, 'put r/' + renewed.serial].sort());
  t.ok(list.isRevoked(first.serial) && list.isRevoked(renewed.serial));
  t.notOk(list.isRevoked(other.serial), 'another node\'s certificate stands');
  t.same(heard.sort(), [first.serial, renewed.serial].sort());
  for (const ch of changes) {
    for (const kc of toKeyChanges(ch)) t.notOk(String(kc.key).startsWith('k/') || String(kc.key).startsWith('c/'), `feed leaves out ${kc.key}`);
  }
  t.ok(changes.some((ch) => toKeyChanges(ch).some((kc) => String(kc.key).startsWith('r/'))), 'feed carries revocations');
  // Restart: the list loads from the store.
  const again = await RevocationList.follow(store);
  again.stop();
  t.ok(again.list.isRevoked(first.serial));
});

t.test('security - renew and issue credentials: own identity only, never a server', async (t) => {
  const { store, sec } = await setup(t);
  const keys = await newKeyPair();
  const csr = await makeCsr(keys.keyPem, { kind: 'admin', name: 'evil' });
  const r = await sec.renew({ kind: 'replica', name: 'lk1' }, csr);
  t.same(certInfo(r.certPem).identity, { kind: 'replica', name: 'lk1' }, 'the CSR\'s own name is ignored');
  await refusedUnchanged(t, store, () => sec.renew({ kind: 'tenant', tenant: 'acme', name: 'ops' }, csr), 'PERMISSION_DENIED', 'identity', 'tenant renew');
  await refusedUnchanged(t, store, () => sec.issueCredentials('vxfab://server/x', csr), 'INVALID_ARGUMENT', 'identity', 'server identity');
  const tc = await sec.issueCredentials('vxfab://tenant/acme/ops', csr);
  t.same(certInfo(tc.certPem).identity, { kind: 'tenant', tenant: 'acme', name: 'ops' });
});
