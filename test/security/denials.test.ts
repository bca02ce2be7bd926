// Authorization over the wire, against a real secure vxfab serve (TLS 1.3, LevelDB): a table of
// refusals, each answered PERMISSION_DENIED with nothing written (every key and value of the store
// compared before and after), and what each role is still allowed to do.
import t, { type Test } from 'tap';
import { VxfabError } from '../../src/model/errors.js';
import { enroll, fetchPinnedCa, ROLE_AGENT } from '../../src/security/enroll.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { Controller, Lookup } from '../../src/wire/gen/services.js';
import type { RpcClient } from '../../src/wire/transport/client.js';
import { collect } from '../../src/wire/transport/collect.js';
import { FabricCa, caFingerprint } from '../../src/security/pki.js';
import { issueCredentials } from '../../src/security/pki.js';
import { HOUR, secureFabric } from './fabric.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NODE = vxfab.v1.TokenKind.TOKEN_KIND_NODE;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof VxfabError ? e.code : `untyped: ${String(e)}`;
  }
}

/** A stream call's outcome: collect() its items. */
const stream = <M extends Parameters<typeof collect>[1]>(c: RpcClient, m: M, req: Parameters<typeof collect<M>>[2]) => collect(c, m, req);

t.test('denials - each refused with PERMISSION_DENIED and nothing written', async (t: Test) => {
  const f = await secureFabric(t);
  const admin = f.as(f.admin);
  const tokenFor = async (name: string, ttlMs = HOUR) =>
    (await admin.call(Controller.CreateToken, { kind: NODE, name, ttlMs })).token;

  // h1 enrolls through a token, over the wire, as an agent does.
  const h1Token = await tokenFor('h1');
  const h1creds = await enroll({ server: f.address, token: h1Token, identity: { kind: 'node', node: 'h1' }, role: ROLE_AGENT });
  const h1 = f.as(h1creds);
  const h3creds = await enroll({ server: f.address, token: await tokenFor('h3'), identity: { kind: 'node', node: 'h3' }, role: ROLE_AGENT });
  const h3 = f.as(h3creds);
  t.equal(await codeOf(h3.call(Controller.Heartbeat, { name: 'h3' })), 'ok', 'h3 is alive before its deletion');
  const acme = f.as(await f.creds({ kind: 'tenant', tenant: 'acme', name: 'ops' }));
  const replica = f.as(await f.creds({ kind: 'replica', name: 'lk1' }));
  const anonymous = f.as(undefined);
  const foreignCa = await FabricCa.create('another fabric');
  const foreign = f.as(await issueCredentials(foreignCa, { kind: 'admin', name: 'root' }, { ttlMs: HOUR }));
  const expiredCreds = await f.creds({ kind: 'admin', name: 'late' }, 1);
  const expiredTokenText = await tokenFor('h2', 1);
  const otherNameToken = await tokenFor('h2');
  await sleep(1100); // the 1 ms certificate (second resolution) and token are past

  // The revoked node: deleting h3 revokes its certificate; its live connection is closed.
  await admin.call(Controller.DeleteNode, { name: 'h3' });
  await f.running.controller.idle();
  t.ok(f.running.security.revocations.isRevoked(f.running.security.revocations.size > 0
    ? [...(await f.dump()).keys()].find((k) => k.startsWith('r/'))!.slice(2) : ''), 'a revocation record');
  t.not(await codeOf(h3.call(Controller.Heartbeat, { name: 'h3' })), 'ok', 'the revoked node\'s live connection is closed');

  const vnidA = f.web.vnid;
  const vnidG = f.db.vnid;
  const macG = f.nicG.mac;
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['no certificate: ListTenants', () => stream(anonymous, Controller.ListTenants, {})],
    ['no certificate: CreateTenant', () => anonymous.call(Controller.CreateTenant, { name: 'evil' })],
    ['no certificate: Vl2', () => anonymous.call(Lookup.Vl2, { vnid: vnidG, mac: macG })],
    ['another CA\'s certificate: DeleteNic', () => foreign.call(Controller.DeleteNic, { id: f.nicA.id })],
    ['another CA\'s certificate: Snapshot', () => stream(foreign, Controller.Snapshot, {})],
    ['expired certificate: CreateTenant', () => f.as(expiredCreds).call(Controller.CreateTenant, { name: 'evil' })],
    ['revoked node, new connection: Heartbeat', () => f.as(h3creds).call(Controller.Heartbeat, { name: 'h3' })],
    ['reused token', () => enroll({ server: f.address, token: h1Token, identity: { kind: 'node', node: 'h1' }, role: ROLE_AGENT })],
    ['expired token', () => enroll({ server: f.address, token: expiredTokenText, identity: { kind: 'node', node: 'h2' }, role: ROLE_AGENT })],
    ['token for another name', () => enroll({ server: f.address, token: otherNameToken, identity: { kind: 'node', node: 'h9' }, role: ROLE_AGENT })],
    ['agent: Vl2 on a network it does not carry', () => h1.call(Lookup.Vl2, { vnid: vnidG, mac: macG })],
    ['agent: Vl3 on a network it does not carry', () => h1.call(Lookup.Vl3, { vnid: vnidG, ip: f.nicG.ips[0] })],
    ['agent: Bulk of a network it does not carry', () => stream(h1, Lookup.Bulk, { vnid: vnidG })],
    ['agent: Flood of a network it does not carry', () => h1.call(Lookup.Flood, { vnid: vnidG })],
    ['agent: Subscribe to a vnid it does not carry', () => stream(h1, Lookup.Subscribe, { node: 'h1', vnids: [vnidA, vnidG] })],
    ['agent: Subscribe as another node', () => stream(h1, Lookup.Subscribe, { node: 'h2', vnids: [vnidG] })],
    ['agent: moving its NIC', () => h1.call(Controller.MoveNic, { id: f.nicA.id, node: 'h2' })],
    ['agent: moving another node\'s NIC to itself', () => h1.call(Controller.MoveNic, { id: f.nicG.id, node: 'h1' })],
    ['agent: registering another node\'s name', () => h1.call(Controller.RegisterNode, { name: 'h2', underlay: '198.18.0.2' })],
    ['agent: heartbeat of another node', () => h1.call(Controller.Heartbeat, { name: 'h2' })],
    ['agent: listing another node\'s NICs', () => stream(h1, Controller.ListNics, { node: 'h2' })],
    ['agent: reading another node\'s NIC', () => h1.call(Controller.GetNic, { id: f.nicG.id })],
    ['agent: a network it does not carry', () => h1.call(Controller.GetNetwork, { tenant: 'globex', name: 'db' })],
    ['agent: creating a NIC', () => h1.call(Controller.CreateNic, { tenant: 'acme', network: 'web', node: 'h1' })],
    ['agent: deleting its node', () => h1.call(Controller.DeleteNode, { name: 'h1' })],
    ['agent: the change feed', () => stream(h1, Controller.Watch, { afterRevision: 0 })],
    ['agent: making a token', () => h1.call(Controller.CreateToken, { kind: NODE, name: 'h7' })],
    ['agent: issuing credentials', () => h1.call(Controller.IssueCredentials, { identity: 'vxfab://admin/me', csrPem: 'x' })],
    ['tenant: listing another tenant\'s NICs', () => stream(acme, Controller.ListNics, { tenant: 'globex' })],
    ['tenant: listing another tenant\'s networks', () => stream(acme, Controller.ListNetworks, { tenant: 'globex' })],
    ['tenant: deleting another tenant\'s NIC', () => acme.call(Controller.DeleteNic, { id: f.nicG.id })],
    ['tenant: moving another tenant\'s NIC', () => acme.call(Controller.MoveNic, { id: f.nicG.id, node: 'h1' })],
    ['tenant: deleting another tenant\'s network', () => acme.call(Controller.DeleteNetwork, { tenant: 'globex', name: 'db' })],
    ['tenant: a NIC in another tenant\'s network', () => acme.call(Controller.CreateNic, { tenant: 'globex', network: 'db', node: 'h1' })],
    ['tenant: reading another tenant', () => acme.call(Controller.GetTenant, { name: 'globex' })],
    ['tenant: creating a tenant', () => acme.call(Controller.CreateTenant, { name: 'acme2' })],
    ['tenant: deleting its own tenant', () => acme.call(Controller.DeleteTenant, { name: 'acme' })],
    ['tenant: adding a node', () => acme.call(Controller.AddNode, { name: 'h8', underlay: '198.18.0.8' })],
    ['tenant: administrator credentials', () => acme.call(Controller.IssueCredentials, { identity: 'vxfab://admin/me', csrPem: 'x' })],
    ['tenant: the change feed', () => stream(acme, Controller.Snapshot, {})],
    ['tenant: a lookup', () => acme.call(Lookup.Vl2, { vnid: vnidA, mac: f.nicA.mac })],
    ['replica: a write', () => replica.call(Controller.CreateTenant, { name: 'evil' })],
    ['replica: registering a node', () => replica.call(Controller.RegisterNode, { name: 'lk1', underlay: '198.18.0.9' })],
    ['replica: deleting a NIC', () => replica.call(Controller.DeleteNic, { id: f.nicA.id })],
    ['replica: a lookup', () => replica.call(Lookup.Vl2, { vnid: vnidA, mac: f.nicA.mac })],
  ];
  t.ok(cases.length >= 25, `${cases.length} denial cases`);
  for (const [what, call] of cases) {
    const before = await f.dump();
    t.equal(await codeOf(call()), 'PERMISSION_DENIED', what);
    t.same(await f.dump(), before, `${what}: store unchanged`);
  }
});

t.test('denials - what each role may do, and lists show only what it may see', async (t: Test) => {
  const f = await secureFabric(t);
  const admin = f.as(f.admin);
  const token = (await admin.call(Controller.CreateToken, { kind: NODE, name: 'h1' })).token;
  t.match(token, /^vxf1\.[0-9a-f]{12}\.[0-9a-f]{32}\.[0-9a-f]{64}$/);
  t.equal(caFingerprint(await fetchPinnedCa(f.address, f.ca.fingerprint)), f.ca.fingerprint, 'the pinned CA, from the server\'s chain');
  t.equal(await codeOf(fetchPinnedCa(f.address, 'a'.repeat(64))), 'PERMISSION_DENIED', 'a server without the pinned CA is refused');
  const h1 = f.as(await enroll({ server: f.address, token, identity: { kind: 'node', node: 'h1' }, role: ROLE_AGENT }));
  t.equal((await h1.call(Controller.RegisterNode, { name: 'h1', underlay: '198.18.0.1' })).name, 'h1');
  t.equal((await h1.call(Lookup.Vl2, { vnid: f.web.vnid, mac: f.nicA.mac })).node, 'h1', 'agent lookup on its network');
  t.equal((await h1.call(Controller.GetNetwork, { tenant: 'acme', name: 'web' })).vnid, f.web.vnid);
  const h1Nics = (await collect(h1, Controller.ListNics, { node: 'h1' })).flatMap((p) => p.nics.map((n) => n.id));
  t.same(h1Nics, [f.nicA.id]);

  const acme = f.as(await f.creds({ kind: 'tenant', tenant: 'acme', name: 'ops' }));
  const tenants = (await collect(acme, Controller.ListTenants, {})).flatMap((p) => p.tenants.map((x) => x.name));
  t.same(tenants, ['acme'], 'a tenant operator lists only its tenant');
  const nets = (await collect(acme, Controller.ListNetworks, { tenant: '' })).flatMap((p) => p.networks.map((n) => `${n.tenant}/${n.name}`));
  t.same(nets, ['acme/web']);
  const nics = (await collect(acme, Controller.ListNics, {})).flatMap((p) => p.nics.map((n) => n.id));
  t.same(nics, [f.nicA.id], 'and only its NICs');
  const mine = await acme.call(Controller.CreateNic, { tenant: 'acme', network: 'web', node: 'h2' });
  t.equal((await acme.call(Controller.MoveNic, { id: mine.id, node: 'h1' })).node, 'h1', 'moves its own NIC');
  await acme.call(Controller.DeleteNic, { id: mine.id });

  const replica = f.as(await f.creds({ kind: 'replica', name: 'lk1' }));
  const snap = await collect(replica, Controller.Snapshot, {});
  const keys = snap.flatMap((p) => p.changes.map((c) => c.key));
  t.ok(keys.includes(`i/${f.nicA.id}`), 'a replica takes the snapshot');
  t.notOk(keys.some((k) => String(k).startsWith('k/') || String(k).startsWith('c/')), 'without token or certificate records');
  t.ok((await f.dump()).has([...(await f.dump()).keys()].find((k) => k.startsWith('k/'))!), 'the token record is on the controller');

  const all = (await collect(admin, Controller.ListNics, {})).flatMap((p) => p.nics.map((n) => n.id)).sort();
  t.same(all, [f.nicA.id, f.nicG.id].sort(), 'an administrator sees everything');
});
