// What vxfab serve adds for security, in one place: the enrollment service over the controller's
// committer, the authorization hook (the policy over the controller's state and the lookup index),
// list filtering, the revocation list (loaded from the store, following its commits) with the
// closing of a revoked certificate's live connections, and a node deletion's revocations.
import type { Logger } from 'pino';
import type { Controller } from '../controller/controller.js';
import { registerController } from '../controller/service.js';
import { controllerFacts } from '../controller/policy-facts.js';
import { SecurityService } from '../controller/security-service.js';
import { registerSecurity } from '../controller/security-rpc.js';
import type { LookupSource } from '../lookup/service.js';
import type { Store } from '../store/store.js';
import type { FabricCa } from '../security/pki.js';
import { ANONYMOUS_METHODS, authorizer, visible } from '../security/policy.js';
import { RevocationList } from '../security/revocations.js';
import type { Authorize, RpcServer } from '../wire/transport/server.js';

export interface ServeSecurityOptions {
  store: Store;
  controller: Controller;
  lookup: LookupSource;
  /** The fabric CA; without it (an insecure server with no CA) there is no enrollment. */
  ca?: FabricCa;
  logger: Logger;
  /** Node and replica certificate lifetime (tests shorten it). */
  memberCertTtlMs?: number;
}

export interface ServeSecurity {
  authorize: Authorize;
  anonymousMethods: string[];
  isRevoked: (serial: string) => boolean;
  revocations: RevocationList;
  service: SecurityService | undefined;
  /** Registers the controller's methods (lists filtered) and the enrollment methods on `server`,
   *  and closes revoked certificates' connections on it. */
  register(server: RpcServer): void;
  close(): void;
}

export async function serveSecurity(o: ServeSecurityOptions): Promise<ServeSecurity> {
  const { list, stop } = await RevocationList.follow(o.store);
  const service = o.ca === undefined ? undefined
    : await SecurityService.open(o.store, o.controller.committer, o.ca, { logger: o.logger, memberCertTtlMs: o.memberCertTtlMs });
  const facts = controllerFacts(o.controller.state, () => o.lookup.index);
  return {
    authorize: authorizer(facts, o.logger),
    anonymousMethods: [...ANONYMOUS_METHODS],
    isRevoked: (serial) => list.isRevoked(serial),
    revocations: list,
    service,
    register(server) {
      registerController(server, o.controller, (ctx, item) => visible(ctx.peer.principal, item));
      if (service !== undefined) {
        registerSecurity(server, service);
        o.controller.nodeDeleteHooks = {
          deleteOps: (name) => service.revocationOps({ kind: 'node', node: name }),
          deleted: (name) => service.revoked({ kind: 'node', node: name }),
        };
      }
      list.onRevoked((r) => { server.closeWhere((peer) => peer.serial === r.serial, `certificate ${r.serial} revoked`); });
    },
    close: stop,
  };
}
