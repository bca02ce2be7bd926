// Mutual TLS on the transport: who reaches a handler, what the handler learns of its peer, what
// authorize sees, and how connections of revoked or expired certificates end.
import t, { type Test } from 'tap';
import { connect as tlsConnect } from 'node:tls';
import { VxfabError, type ErrorCode } from '../../src/model/errors.js';
import type { Identity } from '../../src/model/identity.js';
import { FabricCa, issueCredentials } from '../../src/security/pki.js';
import type { Credentials } from '../../src/security/credentials.js';
import { Controller, Lookup } from '../../src/wire/gen/services.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import type { PeerInfo } from '../../src/wire/rpc.js';
import { INSECURE_PRINCIPAL, type Authorize, type RpcServerOptions } from '../../src/wire/transport/server.js';
import { client, sleep, startServer } from './harness.js';

const ca = await FabricCa.create('test fabric');
const otherCa = await FabricCa.create('another fabric');
const HOUR = 3600_000;
const serverCreds = await issueCredentials(ca, { kind: 'server', name: 'test' }, { ttlMs: HOUR, ips: ['127.0.0.1'] });
const admin = await issueCredentials(ca, { kind: 'admin', name: 'root' }, { ttlMs: HOUR });
const node1 = await issueCredentials(ca, { kind: 'node', node: 'h1' }, { ttlMs: HOUR });
const foreign = await issueCredentials(otherCa, { kind: 'admin', name: 'root' }, { ttlMs: HOUR });

async function rejects(t: Test, p: Promise<unknown>, code: ErrorCode, what: string): Promise<VxfabError | undefined> {
  try {
    await p;
    t.fail(`${what}: expected ${code}, it succeeded`);
    return undefined;
  } catch (e) {
    t.equal((e as VxfabError).code, code, `${what}: ${(e as Error).message}`);
    return e as VxfabError;
  }
}

interface Seen {
  peers: PeerInfo[];
  calls: number;
}

/** A TLS server with a unary (GetTenant), a streaming (ListNodes), a raw span (Vl2) and an
 *  anonymous (GetNode, standing in for Enroll) method, each counting its calls. */
async function tlsServer(t: Test, extra: Partial<RpcServerOptions> = {}, creds: Credentials = serverCreds) {
  const seen: Seen = { peers: [], calls: 0 };
  const s = await startServer(t, (s) => {
    s.handle(Controller.GetTenant, (req, ctx) => {
      seen.calls++;
      seen.peers.push(ctx.peer);
      return { name: req.name };
    });
    s.handle(Controller.GetNode, (req) => {
      seen.calls++;
      return { name: req.name };
    });
    s.handleStream(Controller.ListNodes, async (_req, ctx) => {
      seen.calls++;
      ctx.send({ nodes: [{ name: 'a' }] });
      await new Promise<void>((resolve) => ctx.onClose(resolve));
    });
    s.handleRawSpan(Lookup.Vl2, () => {
      seen.calls++;
      return vxfab.v1.Vl2Reply.encode({ node: 'h2' }).finish();
    });
  }, { tls: { credentials: creds, anonymousMethods: [Controller.GetNode.path], ...extra.tls }, ...extra });
  return { ...s, seen };
}

const asClient = (c: Credentials | undefined, caPem = ca.certPem) => ({ tls: { credentials: c, caPem } });

t.test('tls - a client certificate of the fabric gives the handler its principal and serial', async (t) => {
  const { address, seen } = await tlsServer(t);
  const c = client(t, address, asClient(node1));
  t.equal((await c.call(Controller.GetTenant, { name: 'acme' })).name, 'acme');
  t.same(seen.peers[0]?.principal, { kind: 'node', node: 'h1' });
  t.equal(seen.peers[0]?.serial, node1.serial);
  t.equal((await c.call(Lookup.Vl2, { vnid: 1, mac: '02:00:00:00:00:01' })).node, 'h2', 'raw route answered');
});

t.test('tls - without a valid certificate no handler is reached, except anonymous methods', async (t) => {
  const { address, seen } = await tlsServer(t);
  const expired = await issueCredentials(ca, { kind: 'admin', name: 'old' }, { ttlMs: 1 });
  await sleep(1100); // certificate times have one-second resolution
  const cases: Array<[string, Credentials | undefined]> = [['no certificate', undefined], ['another CA', foreign], ['expired', expired]];
  for (const [what, creds] of cases) {
    const c = client(t, address, asClient(creds));
    const e = await rejects(t, c.call(Controller.GetTenant, { name: 'acme' }), 'PERMISSION_DENIED', `${what}: unary`);
    t.equal(e?.field, 'certificate', `${what}: names the certificate`);
    await rejects(t, c.call(Lookup.Vl2, { vnid: 1 }), 'PERMISSION_DENIED', `${what}: raw span`);
    await rejects(t, c.stream(Controller.ListNodes, {}, () => t.fail('item')).done, 'PERMISSION_DENIED', `${what}: stream`);
    t.equal((await c.call(Controller.GetNode, { name: 'n' })).name, 'n', `${what}: anonymous method answered`);
    await c.close();
  }
  t.equal(seen.calls, cases.length, 'only the anonymous calls ran');
});

t.test('tls - a revoked certificate counts as none; closeWhere ends live connections and their streams', async (t) => {
  const revoked = new Set<string>();
  const { address, server } = await tlsServer(t, { tls: { credentials: serverCreds, isRevoked: (s) => revoked.has(s) } });
  const c = client(t, address, { ...asClient(node1), reconnect: false });
  const items: unknown[] = [];
  const stream = c.stream(Controller.ListNodes, {}, (i) => items.push(i));
  while (items.length === 0) await sleep(5);
  const other = client(t, address, asClient(admin));
  await other.call(Controller.GetTenant, { name: 'x' });
  revoked.add(node1.serial);
  t.equal(server.closeWhere((p) => p.serial === node1.serial), 1, 'one connection closed');
  await rejects(t, stream.done, 'PERMISSION_DENIED', 'open stream ends with the revocation');
  t.equal((await other.call(Controller.GetTenant, { name: 'y' })).name, 'y', 'other connections go on');
  const again = client(t, address, asClient(node1));
  await rejects(t, again.call(Controller.GetTenant, { name: 'acme' }), 'PERMISSION_DENIED', 'new connection refused');
});

t.test('tls - a connection ends when its certificate expires', async (t) => {
  const { address } = await tlsServer(t);
  const short = await issueCredentials(ca, { kind: 'node', node: 'h9' }, { ttlMs: 2000 });
  const c = client(t, address, { ...asClient(short), reconnect: false });
  await c.call(Controller.GetTenant, { name: 'a' });
  const gone = new Promise<VxfabError>((resolve) => c.once('disconnected', resolve));
  let timer: NodeJS.Timeout | undefined;
  const e = await Promise.race([gone, new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), 8000); })]);
  clearTimeout(timer);
  t.equal(e?.code, 'PERMISSION_DENIED', 'disconnected with the server\'s reason');
});

t.test('tls - authorize sees every call before its handler; raw requests are decoded only where the check reads them', async (t) => {
  const asked: Array<{ who: Identity | undefined; path: string; req: unknown }> = [];
  const authorize: Authorize = (peer, path, req) => {
    asked.push({ who: peer.principal, path, req });
    if (peer.principal?.kind === 'node' && path === Lookup.Vl2.path && (req as vxfab.v1.Vl2Request).vnid !== 1) {
      throw new VxfabError('PERMISSION_DENIED', 'not your network', { field: 'vnid', value: String((req as vxfab.v1.Vl2Request).vnid) });
    }
    if (path === Controller.ListNodes.path && peer.principal?.kind !== 'admin') throw new VxfabError('PERMISSION_DENIED', 'admins only');
  };
  // The check says whose raw requests it reads (the policy's needsRequest does the same).
  authorize.needsRequest = (peer) => peer.principal?.kind !== 'admin';
  const { address, seen } = await tlsServer(t, { authorize });
  const n = client(t, address, asClient(node1));
  t.equal((await n.call(Lookup.Vl2, { vnid: 1, mac: '02:00:00:00:00:01' })).node, 'h2');
  await rejects(t, n.call(Lookup.Vl2, { vnid: 2, mac: '02:00:00:00:00:01' }), 'PERMISSION_DENIED', 'node asks about vnid 2');
  await rejects(t, n.stream(Controller.ListNodes, {}, () => t.fail('item')).done, 'PERMISSION_DENIED', 'stream refused');
  await n.call(Controller.GetTenant, { name: 'acme' });
  const a = client(t, address, asClient(admin));
  await a.call(Lookup.Vl2, { vnid: 5 });
  t.equal(seen.calls, 3, 'refused calls ran no handler');
  t.same(asked.map((x) => [x.who?.kind, x.path]), [
    ['node', Lookup.Vl2.path], ['node', Lookup.Vl2.path], ['node', Controller.ListNodes.path],
    ['node', Controller.GetTenant.path], ['admin', Lookup.Vl2.path]]);
  t.equal((asked[0]!.req as vxfab.v1.Vl2Request).vnid, 1, 'raw request decoded for a node');
  t.equal((asked[3]!.req as vxfab.v1.TenantRef).name, 'acme', 'unary request decoded');
  t.equal(asked[4]!.req, undefined, 'raw request not decoded for an admin');
});

t.test('tls - the client trusts only server or replica certificates of its CA', async (t) => {
  const posing = await tlsServer(t, {}, node1); // an agent's certificate used as a server's
  await rejects(t, client(t, posing.address, { ...asClient(admin), reconnect: false }).connect(), 'PERMISSION_DENIED', 'node cert as server');
  const alien = await tlsServer(t, {}, await issueCredentials(otherCa, { kind: 'server', name: 'x' }, { ttlMs: HOUR }));
  await rejects(t, client(t, alien.address, { ...asClient(admin), reconnect: false }).connect(), 'PERMISSION_DENIED', 'server of another CA');
  const replica = await tlsServer(t, {}, await issueCredentials(ca, { kind: 'replica', name: 'r1' }, { ttlMs: HOUR }));
  await client(t, replica.address, asClient(admin)).connect();
  t.pass('replica certificate accepted');
});

t.test('tls - only TLS 1.3, and plain TCP to a TLS port is no connection', async (t) => {
  const { address, port, seen } = await tlsServer(t);
  const old = tlsConnect({ host: '127.0.0.1', port, ca: ca.certPem, maxVersion: 'TLSv1.2', checkServerIdentity: () => undefined });
  const outcome = await new Promise<string>((resolve) => {
    old.once('secureConnect', () => resolve('connected'));
    old.once('error', (e) => resolve(e.message));
  });
  old.destroy();
  t.not(outcome, 'connected', `TLS 1.2 refused (${outcome})`);
  const plain = client(t, address, { reconnect: false, timeoutMs: 3000 });
  await rejects(t, plain.call(Controller.GetTenant, { name: 'a' }), 'UNAVAILABLE', 'plain client');
  t.equal(seen.calls, 0);
});

t.test('tls - a plain server treats every peer as the insecure administrator', async (t) => {
  let peer: PeerInfo | undefined;
  const { address } = await startServer(t, (s) => s.handle(Controller.GetTenant, (req, ctx) => {
    peer = ctx.peer;
    return { name: req.name };
  }));
  await client(t, address).call(Controller.GetTenant, { name: 'a' });
  t.same(peer?.principal, INSECURE_PRINCIPAL);
  t.equal(peer?.serial, undefined);
});
