// What `vxfab lookup serve` adds for security: its replica credentials (enrolled with --join, or
// as stored in --state-dir, renewed when due), mutual TLS both ways with them, the policy over its
// index (agents look up only what they carry, replicas and servers nothing), and revocations
// learnt from the change feed, refusing new connections and closing live ones. Without a token or
// stored credentials, a replica of an --insecure controller: plain TCP, as before.
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { indexFacts } from '../lookup/policy-facts.js';
import type { LookupSource } from '../lookup/service.js';
import { memberTls } from '../security/enroll.js';
import { ANONYMOUS_METHODS, authorizer } from '../security/policy.js';
import { RevocationList } from '../security/revocations.js';
import { vxfab } from '../wire/gen/proto.js';
import type { RpcServer, RpcServerOptions } from '../wire/transport/server.js';
import type { ClientTlsOptions } from '../wire/transport/tls.js';

export const REPLICA_CREDENTIALS_FILE = 'replica.credentials';

export interface ReplicaSecurity {
  replica: { tls?: ClientTlsOptions; revocations?: RevocationList };
  server(src: Pick<LookupSource, 'index'>): Partial<RpcServerOptions>;
  closeRevoked(server: RpcServer): void;
  stop(): void;
}

export async function replicaSecurity(o: { controller: string; name: string; token?: string; stateDir: string; logger: Logger;
  /** Credentials named some other way (--credentials), when none are enrolled. */
  fallback?: () => Promise<ClientTlsOptions | undefined> }): Promise<ReplicaSecurity> {
  await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
  const member = await memberTls({ stateDir: o.stateDir, file: REPLICA_CREDENTIALS_FILE, server: o.controller,
    identity: { kind: 'replica', name: o.name }, role: vxfab.v1.Role.ROLE_LOOKUP_REPLICA, token: o.token, logger: o.logger });
  const tls = member?.tls ?? await o.fallback?.();
  if (tls === undefined) return { replica: {}, server: () => ({}), closeRevoked: () => undefined, stop: () => undefined };
  const revocations = new RevocationList();
  return {
    replica: { tls, revocations },
    server: (src) => ({
      authorize: authorizer(indexFacts(src), o.logger),
      tls: {
        // The same certificate answers agents (clients accept a replica identity as a server). A
        // renewed certificate serves from the next start; the client side redials with it at once.
        credentials: tls.credentials!,
        anonymousMethods: [...ANONYMOUS_METHODS].filter((m) => !m.includes('Controller/')),
        isRevoked: (serial) => revocations.isRevoked(serial),
      },
    }),
    closeRevoked: (server) => revocations.onRevoked((r) => { server.closeWhere((p) => p.serial === r.serial, `certificate ${r.serial} revoked`); }),
    stop: () => member?.stop(),
  };
}
