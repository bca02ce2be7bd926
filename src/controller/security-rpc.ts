// The enrollment and credential methods of `service Controller` on the wire. Authorization is the
// policy's (src/security/policy.ts); here, the identity the verified certificate names decides
// whose certificate Renew makes, and Enroll's token decides who the caller becomes.
import { VxfabError } from '../model/errors.js';
import type { Identity } from '../model/identity.js';
import { vxfab } from '../wire/gen/proto.js';
import { Controller as Methods } from '../wire/gen/services.js';
import type { CallContext } from '../wire/rpc.js';
import type { RpcServer } from '../wire/transport/server.js';
import type { SecurityService } from './security-service.js';

/** The verified identity of the caller (set by the TLS transport; undefined without one). */
export function principalOf(ctx: CallContext): Identity | undefined {
  return (ctx.peer as { principal?: Identity }).principal;
}

export function registerSecurity(server: RpcServer, sec: SecurityService): void {
  server.handle(Methods.CreateToken, (req) => {
    const kind = req.kind === vxfab.v1.TokenKind.TOKEN_KIND_NODE ? 'node'
      : req.kind === vxfab.v1.TokenKind.TOKEN_KIND_REPLICA ? 'replica' : undefined;
    if (kind === undefined) {
      throw new VxfabError('INVALID_ARGUMENT', `kind ${req.kind}: a token enrolls a node or a replica`, { field: 'kind', value: String(req.kind) });
    }
    const ttl = Number(req.ttlMs);
    return sec.createToken(kind, req.name, ttl === 0 ? undefined : ttl);
  });
  server.handle(Methods.Enroll, (req) => sec.enroll(req.token, req.name, req.csrPem));
  server.handle(Methods.Renew, (req, ctx) => {
    const who = principalOf(ctx);
    if (who === undefined) throw new VxfabError('PERMISSION_DENIED', 'Renew needs a certificate to renew', { field: 'identity', value: '' });
    return sec.renew(who, req.csrPem);
  });
  server.handle(Methods.IssueCredentials, (req) => {
    const ttl = Number(req.ttlMs);
    return sec.issueCredentials(req.identity, req.csrPem, ttl === 0 ? undefined : ttl);
  });
}
