// A lookup replica enrolled with a token: it follows the controller over mutual TLS, answers agents
// over TLS with its replica certificate, applies the same policy from its index, and learns
// revocations from the change feed (a deleted node's connection to the replica is closed, new
// ones refused).
import t from 'tap';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { VxfabError } from '../../src/model/errors.js';
import { LookupReplica } from '../../src/lookup/replica.js';
import { registerLookup } from '../../src/lookup/service.js';
import { replicaSecurity, REPLICA_CREDENTIALS_FILE } from '../../src/cli/replica-security.js';
import { enroll, ROLE_AGENT } from '../../src/security/enroll.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { Controller, Lookup } from '../../src/wire/gen/services.js';
import { RpcClient } from '../../src/wire/transport/client.js';
import { RpcServer } from '../../src/wire/transport/server.js';
import type { Credentials } from '../../src/security/credentials.js';
import { secureFabric } from './fabric.js';

const quiet = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try { await p; return 'ok'; } catch (e) { return e instanceof VxfabError ? e.code : String(e); }
}

t.test('replica - enrolled, secure both ways, same policy, revocations from the feed', async (t) => {
  const f = await secureFabric(t);
  const admin = f.as(f.admin);
  const stateDir = await mkdtemp(join(tmpdir(), 'vxfab-replica-'));
  t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const token = (await admin.call(Controller.CreateToken, { kind: vxfab.v1.TokenKind.TOKEN_KIND_REPLICA, name: 'lk1' })).token;
  const sec = await replicaSecurity({ controller: f.address, name: 'lk1', token, stateDir, logger: quiet });
  t.teardown(sec.stop);
  t.equal((await stat(join(stateDir, REPLICA_CREDENTIALS_FILE))).mode & 0o777, 0o600, 'credentials stored 0600');
  const replica = new LookupReplica({ controller: f.address, identity: 'lk1', logger: quiet, ...sec.replica });
  t.teardown(() => replica.close());
  await replica.start();
  const server = new RpcServer({ identity: 'lk1', logger: quiet, ...sec.server(replica) });
  registerLookup(server, replica);
  sec.closeRevoked(server);
  const bound = await server.listen('127.0.0.1', 0);
  t.teardown(() => server.close());
  const at = `127.0.0.1:${bound.port}`;
  const dial = (creds: Credentials | undefined) => {
    const c = new RpcClient({ address: at, role: ROLE_AGENT, identity: 'x', reconnect: false, timeoutMs: 5000, logger: quiet,
      tls: { caPem: f.ca.certPem, ...(creds ? { credentials: creds } : {}) } });
    t.teardown(() => c.close());
    return c;
  };

  // Later starts reuse the stored credentials (no token needed).
  const again = await replicaSecurity({ controller: f.address, name: 'lk1', stateDir, logger: quiet });
  again.stop();
  t.ok(again.replica.tls?.credentials, 'stored credentials reused');

  const h1creds = await enroll({ server: f.address,
    token: (await admin.call(Controller.CreateToken, { kind: vxfab.v1.TokenKind.TOKEN_KIND_NODE, name: 'h1' })).token,
    identity: { kind: 'node', node: 'h1' }, role: ROLE_AGENT });
  const h1 = dial(h1creds);
  t.equal((await h1.call(Lookup.Vl2, { vnid: f.web.vnid, mac: f.nicA.mac })).node, 'h1', 'agent asks the replica about its network');
  t.equal(await codeOf(h1.call(Lookup.Vl2, { vnid: f.db.vnid, mac: f.nicG.mac })), 'PERMISSION_DENIED', 'not about another');
  t.equal(await codeOf(dial(undefined).call(Lookup.Vl2, { vnid: f.web.vnid, mac: f.nicA.mac })), 'PERMISSION_DENIED', 'no certificate');
  t.equal(await codeOf(dial(f.admin).call(Controller.Enroll, { token, name: 'lk1', csrPem: 'x' })), 'UNIMPLEMENTED',
    'a replica serves no enrollment');

  // Deleting h1 (after moving its NIC away) revokes its certificate; the replica hears it from the feed.
  await admin.call(Controller.MoveNic, { id: f.nicA.id, node: 'h2' });
  await admin.call(Controller.DeleteNode, { name: 'h1' });
  for (let i = 0; i < 100 && sec.replica.revocations!.size === 0; i++) await sleep(20);
  t.equal(sec.replica.revocations!.size, 1, 'the replica learnt the revocation');
  t.not(await codeOf(h1.call(Lookup.Status, {})), 'ok', 'the live connection was closed');
  t.equal(await codeOf(dial(h1creds).call(Lookup.Status, {})), 'PERMISSION_DENIED', 'a new one is refused');
});
