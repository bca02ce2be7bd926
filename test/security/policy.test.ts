// The authorization policy on its own, with injected principals and facts: every method of the
// generated service tables has a rule, and each role gets exactly what docs/security.md says.
import t from 'tap';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { Controller, Lookup } from '../../src/wire/gen/services.js';
import type { Identity } from '../../src/model/identity.js';
import { ANONYMOUS_METHODS, RULES, authorize, authorizer, needsRequest, visible, type PolicyFacts } from '../../src/security/policy.js';
import { VxfabError } from '../../src/model/errors.js';

const admin: Identity = { kind: 'admin', name: 'root' };
const acme: Identity = { kind: 'tenant', tenant: 'acme', name: 'ops' };
const h1: Identity = { kind: 'node', node: 'h1' };
const rep: Identity = { kind: 'replica', name: 'lk1' };
const srv: Identity = { kind: 'server', name: 'vxfab-serve' };

// acme/web (vnid 100) has nic-a on h1; globex/db (vnid 200) has nic-g on h2.
const facts: PolicyFacts = {
  nic: (id) => new Map([['nic-a', { tenant: 'acme', node: 'h1' }], ['nic-g', { tenant: 'globex', node: 'h2' }]]).get(id),
  networkVnid: (tenant, name) => new Map([['acme/web', 100], ['globex/db', 200]]).get(`${tenant}/${name}`),
  carries: (node, vnid) => (node === 'h1' && vnid === 100) || (node === 'h2' && vnid === 200),
};

function verdict(who: Identity | undefined, path: string, req: object): string {
  try {
    authorize(who, path, req, facts);
    return 'ok';
  } catch (e) {
    if (!(e instanceof VxfabError)) throw e;
    return e.code;
  }
}

t.test('policy - every generated method has a rule, and a path without one is refused to all', async (t) => {
  const paths = [...Object.values(Controller), ...Object.values(Lookup)].map((m) => m.path);
  for (const p of paths) t.ok(RULES.has(p), `rule for ${p}`);
  t.equal(RULES.size, paths.length, 'no rule for a method that does not exist');
  for (const who of [admin, acme, h1, rep, srv, undefined]) {
    t.equal(verdict(who, 'vxfab.v1.Controller/Unruled', {}), 'PERMISSION_DENIED');
  }
  t.same(ANONYMOUS_METHODS, [Controller.Enroll.path]);
});

t.test('policy - the role table', async (t) => {
  const C = Controller;
  const L = Lookup;
  // [who, method, request, expected]
  const cases: Array<[Identity | undefined, { path: string }, object, string]> = [
    [admin, C.DeleteTenant, { name: 'globex' }, 'ok'],
    [admin, L.Vl2, { vnid: 200, mac: '02:00:00:00:00:01' }, 'ok'],
    [admin, C.CreateToken, { kind: 1, name: 'h9' }, 'ok'],
    [undefined, C.Enroll, { token: 'x', name: 'h1', csrPem: '' }, 'ok'],
    [undefined, C.ListTenants, {}, 'PERMISSION_DENIED'],
    [undefined, L.Vl2, { vnid: 100, mac: 'x' }, 'PERMISSION_DENIED'],
    [undefined, L.Status, {}, 'PERMISSION_DENIED'],
    // tenant operator
    [acme, C.CreateNetwork, { tenant: 'acme', name: 'x' }, 'ok'],
    [acme, C.CreateNetwork, { tenant: 'globex', name: 'x' }, 'PERMISSION_DENIED'],
    [acme, C.DeleteNetwork, { tenant: 'globex', name: 'db' }, 'PERMISSION_DENIED'],
    [acme, C.GetNetwork, { tenant: 'globex', name: 'db' }, 'PERMISSION_DENIED'],
    [acme, C.ListNetworks, { tenant: 'globex' }, 'PERMISSION_DENIED'],
    [acme, C.ListNetworks, { tenant: '' }, 'ok'],
    [acme, C.ListNics, { tenant: 'globex', network: '', node: '' }, 'PERMISSION_DENIED'],
    [acme, C.ListNics, { tenant: '', network: '', node: 'h2' }, 'ok'], // filtered by visible()
    [acme, C.CreateNic, { tenant: 'acme', network: 'web', node: 'h2' }, 'ok'],
    [acme, C.CreateNic, { tenant: 'globex', network: 'db', node: 'h2' }, 'PERMISSION_DENIED'],
    [acme, C.MoveNic, { id: 'nic-a', node: 'h2' }, 'ok'],
    [acme, C.MoveNic, { id: 'nic-g', node: 'h1' }, 'PERMISSION_DENIED'],
    [acme, C.DeleteNic, { id: 'nic-g' }, 'PERMISSION_DENIED'],
    [acme, C.GetNic, { id: 'nic-unknown' }, 'ok'], // NOT_FOUND from the handler
    [acme, C.CreateTenant, { name: 'acme2' }, 'PERMISSION_DENIED'],
    [acme, C.DeleteTenant, { name: 'acme' }, 'PERMISSION_DENIED'],
    [acme, C.GetTenant, { name: 'globex' }, 'PERMISSION_DENIED'],
    [acme, C.AddNode, { name: 'h9', underlay: '198.18.0.9' }, 'PERMISSION_DENIED'],
    [acme, C.Snapshot, {}, 'PERMISSION_DENIED'],
    [acme, C.IssueCredentials, { identity: 'vxfab://admin/me', csrPem: '' }, 'PERMISSION_DENIED'],
    [acme, L.Vl2, { vnid: 100, mac: 'x' }, 'PERMISSION_DENIED'],
    // agent of h1
    [h1, C.RegisterNode, { name: 'h1', underlay: '198.18.0.1' }, 'ok'],
    [h1, C.RegisterNode, { name: 'h2', underlay: '198.18.0.1' }, 'PERMISSION_DENIED'],
    [h1, C.Heartbeat, { name: 'h2' }, 'PERMISSION_DENIED'],
    [h1, C.ListNics, { tenant: '', network: '', node: 'h1' }, 'ok'],
    [h1, C.ListNics, { tenant: '', network: '', node: 'h2' }, 'PERMISSION_DENIED'],
    [h1, C.ListNics, { tenant: 'acme', network: '', node: '' }, 'PERMISSION_DENIED'],
    [h1, C.GetNic, { id: 'nic-a' }, 'ok'],
    [h1, C.GetNic, { id: 'nic-g' }, 'PERMISSION_DENIED'],
    [h1, C.MoveNic, { id: 'nic-a', node: 'h1' }, 'PERMISSION_DENIED'],
    [h1, C.GetNetwork, { tenant: 'acme', name: 'web' }, 'ok'],
    [h1, C.GetNetwork, { tenant: 'globex', name: 'db' }, 'PERMISSION_DENIED'],
    [h1, C.DeleteNode, { name: 'h1' }, 'PERMISSION_DENIED'],
    [h1, C.Watch, { afterRevision: 0 }, 'PERMISSION_DENIED'],
    [h1, C.Renew, { csrPem: '' }, 'ok'],
    [h1, L.Vl2, { vnid: 100, mac: 'x' }, 'ok'],
    [h1, L.Vl2, { vnid: 200, mac: 'x' }, 'PERMISSION_DENIED'],
    [h1, L.Vl3, { vnid: 200, ip: '100.64.0.1' }, 'PERMISSION_DENIED'],
    [h1, L.Bulk, { vnid: 200 }, 'PERMISSION_DENIED'],
    [h1, L.Flood, { vnid: 200 }, 'PERMISSION_DENIED'],
    [h1, L.Subscribe, { node: 'h1', vnids: [100] }, 'ok'],
    [h1, L.Subscribe, { node: 'h1', vnids: [100, 200] }, 'PERMISSION_DENIED'],
    [h1, L.Subscribe, { node: 'h2', vnids: [200] }, 'PERMISSION_DENIED'],
    [h1, L.Status, {}, 'ok'],
    // replica and server
    [rep, C.Snapshot, {}, 'ok'],
    [rep, C.Watch, { afterRevision: 3 }, 'ok'],
    [rep, C.CreateTenant, { name: 'x' }, 'PERMISSION_DENIED'],
    [rep, C.RegisterNode, { name: 'lk1', underlay: '198.18.0.1' }, 'PERMISSION_DENIED'],
    [rep, C.ListNics, { tenant: '', network: '', node: '' }, 'PERMISSION_DENIED'],
    [rep, L.Vl2, { vnid: 100, mac: 'x' }, 'PERMISSION_DENIED'],
    [srv, C.Watch, { afterRevision: 3 }, 'ok'],
    [srv, C.DeleteNic, { id: 'nic-a' }, 'PERMISSION_DENIED'],
  ];
  for (const [who, m, req, want] of cases) {
    t.equal(verdict(who, m.path, req), want, `${who ? JSON.stringify(who) : 'anonymous'} ${m.path} ${JSON.stringify(req)}`);
  }
});

t.test('policy - a denial names the identity, the method and the object', async (t) => {
  try {
    authorize(h1, Lookup.Subscribe.path, { node: 'h1', vnids: [100, 200] }, facts);
    t.fail('allowed');
  } catch (e) {
    const err = e as VxfabError;
    t.equal(err.code, 'PERMISSION_DENIED');
    t.equal(err.field, 'vnid');
    t.equal(err.value, '200');
    t.match(err.message, /agent of node h1/);
    t.match(err.message, /Lookup\/Subscribe/);
    t.match(err.message, /vnid 200/);
  }
  try {
    authorize(acme, Controller.DeleteNic.path, { id: 'nic-g' }, facts);
    t.fail('allowed');
  } catch (e) {
    const err = e as VxfabError;
    t.same([err.field, err.value], ['id', 'nic-g']);
    t.match(err.message, /tenant acme operator ops may not call Controller\/DeleteNic on nic nic-g/);
  }
});

t.test('policy - visible() keeps lists to what the caller may see', async (t) => {
  t.ok(visible(admin, { kind: 'nic', tenant: 'globex', node: 'h2' }));
  t.ok(visible(acme, { kind: 'nic', tenant: 'acme', node: 'h2' }));
  t.notOk(visible(acme, { kind: 'nic', tenant: 'globex', node: 'h1' }));
  t.ok(visible(acme, { kind: 'tenant', name: 'acme' }));
  t.notOk(visible(acme, { kind: 'tenant', name: 'globex' }));
  t.notOk(visible(acme, { kind: 'network', tenant: 'globex' }));
  t.ok(visible(h1, { kind: 'nic', tenant: 'globex', node: 'h1' }));
  t.notOk(visible(h1, { kind: 'nic', tenant: 'acme', node: 'h2' }));
  t.notOk(visible(rep, { kind: 'tenant', name: 'acme' }));
  t.notOk(visible(undefined, { kind: 'tenant', name: 'acme' }));
});

t.test('policy - only administrators\' reads skip the request', async (t) => {
  t.notOk(needsRequest(admin, Lookup.Vl2.path));
  t.ok(needsRequest(admin, Controller.MoveNic.path));
  t.ok(needsRequest(h1, Lookup.Vl2.path));
  t.ok(needsRequest(undefined, Controller.Enroll.path));
});

t.test('policy - the audit log has every allowed write and every denial, with the identity', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk))); cb(); } });
  const hook = authorizer(facts, pino({ level: 'info' }, sink));
  hook({ principal: acme }, Controller.CreateNic.path, { tenant: 'acme', network: 'web', node: 'h1' });
  hook({ principal: acme }, Controller.GetNic.path, { id: 'nic-a' }); // a read: not audited
  hook({ principal: h1 }, Controller.Heartbeat.path, { name: 'h1' }); // at debug only
  t.throws(() => hook({ principal: h1 }, Controller.MoveNic.path, { id: 'nic-a', node: 'h1' }));
  await new Promise((r) => setImmediate(r));
  t.equal(lines.length, 2);
  t.match(lines[0], { module: 'audit', identity: 'vxfab://tenant/acme/ops', method: 'Controller/CreateNic', object: 'network acme/web', msg: 'write' });
  t.match(lines[1], { module: 'audit', identity: 'vxfab://node/h1', method: 'Controller/MoveNic', object: 'nic-a', msg: 'denied' });
});

t.test('policy - a raw route left undecoded (no request) is decided by role alone', async (t) => {
  t.equal(verdict(rep, Lookup.Vl2.path, undefined as unknown as object), 'PERMISSION_DENIED');
  t.equal(verdict(srv, Lookup.Vl2.path, undefined as unknown as object), 'PERMISSION_DENIED');
  t.equal(verdict(admin, Lookup.Vl2.path, undefined as unknown as object), 'ok');
});
