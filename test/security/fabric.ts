// A secure vxfab serve in process (the real startServe on LevelDB, mutual TLS, the policy) with a
// small fabric in it, and clients holding each kind of credential.
//   tenants acme, globex; networks acme/web, globex/db; nodes h1, h2, h3;
//   NIC nic-a (acme/web) on h1, NIC nic-g (globex/db) on h2.
import type { Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startServe, type RunningServer } from '../../src/cli/serve.js';
import type { Identity } from '../../src/model/identity.js';
import type { Credentials } from '../../src/security/credentials.js';
import { issueCredentials } from '../../src/security/pki.js';
import { FabricCa } from '../../src/security/pki.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { Controller } from '../../src/wire/gen/services.js';
import { RpcClient } from '../../src/wire/transport/client.js';

export const HOUR = 3600_000;

export interface SecureFabric {
  dir: string;
  ca: FabricCa;
  running: RunningServer;
  address: string;
  admin: Credentials;
  /** A client with these credentials (or none), closed at teardown. */
  as(creds: Credentials | undefined): RpcClient;
  creds(identity: Identity, ttlMs?: number): Promise<Credentials>;
  nicA: vxfab.v1.Nic;
  nicG: vxfab.v1.Nic;
  web: vxfab.v1.Network;
  db: vxfab.v1.Network;
  /** Every key and value of the store, to compare before and after a refusal. */
  dump(): Promise<Map<string, string>>;
}

export async function secureFabric(t: Test, options: { memberCertTtlMs?: number } = {}): Promise<SecureFabric> {
  const dir = await mkdtemp(join(tmpdir(), 'vxfab-secfab-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ca = await FabricCa.create('test fabric');
  const serverCreds = await issueCredentials(ca, { kind: 'server', name: 'test' }, { ttlMs: HOUR, ips: ['127.0.0.1'] });
  const running = await startServe({
    listen: '127.0.0.1:0', dataDir: join(dir, 'data'), logger: pino({ level: 'silent' }), ca, credentials: serverCreds,
    memberCertTtlMs: options.memberCertTtlMs,
  });
  t.teardown(() => running.close());
  const address = `127.0.0.1:${running.port}`;
  const as = (creds: Credentials | undefined): RpcClient => {
    const c = new RpcClient({
      address, role: vxfab.v1.Role.ROLE_CLI, identity: 'test', timeoutMs: 10_000, reconnect: false,
      logger: pino({ level: 'silent' }), tls: { caPem: ca.certPem, ...(creds ? { credentials: creds } : {}) },
    });
    t.teardown(() => c.close());
    return c;
  };
  const admin = await issueCredentials(ca, { kind: 'admin', name: 'root' }, { ttlMs: HOUR });
  const a = as(admin);
  await a.call(Controller.CreateTenant, { name: 'acme' });
  await a.call(Controller.CreateTenant, { name: 'globex' });
  const web = await a.call(Controller.CreateNetwork, { tenant: 'acme', name: 'web', subnet4: '100.64.1.0/24' });
  const db = await a.call(Controller.CreateNetwork, { tenant: 'globex', name: 'db', subnet4: '100.64.2.0/24' });
  for (const [name, underlay] of [['h1', '198.18.0.1'], ['h2', '198.18.0.2'], ['h3', '198.18.0.3']]) {
    await a.call(Controller.AddNode, { name, underlay });
  }
  const nicA = await a.call(Controller.CreateNic, { tenant: 'acme', network: 'web', node: 'h1' });
  const nicG = await a.call(Controller.CreateNic, { tenant: 'globex', network: 'db', node: 'h2' });
  await running.controller.idle();
  return {
    dir, ca, running, address, admin, as, nicA, nicG, web, db,
    creds: (identity, ttlMs = HOUR) => issueCredentials(ca, identity, { ttlMs }),
    async dump() {
      await running.controller.idle();
      const out = new Map<string, string>();
      for await (const [k, v] of running.controller.store.scan('')) out.set(k, Buffer.from(v).toString('hex'));
      return out;
    },
  };
}
