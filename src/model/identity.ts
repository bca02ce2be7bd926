// Who is speaking on an authenticated connection. Every vxfab certificate names exactly one
// identity, as a URI subject alternative name, so that authorization never parses free-form
// common names:
//   vxfab://admin/<name>                 an administrator (everything)
//   vxfab://tenant/<tenant>/<name>       a tenant operator (that tenant's networks and NICs)
//   vxfab://node/<node>                  the agent of a node (its own node, the networks it carries)
//   vxfab://replica/<name>               a lookup replica (the change feed only)
//   vxfab://server/<name>                a controller or lookup server (the answering side)
// Names follow the same rules as the objects they name (names.ts), so they need no escaping.

import { invalid } from './errors.js';
import { validateName, validateNodeName } from './names.js';

export type Identity =
  | { kind: 'admin'; name: string }
  | { kind: 'tenant'; tenant: string; name: string }
  | { kind: 'node'; node: string }
  | { kind: 'replica'; name: string }
  | { kind: 'server'; name: string };

export type IdentityKind = Identity['kind'];

export const IDENTITY_SCHEME = 'vxfab://';

/** The identity's URI (its certificate's subject alternative name). */
export function identityUri(id: Identity): string {
  switch (id.kind) {
    case 'admin': return `${IDENTITY_SCHEME}admin/${id.name}`;
    case 'tenant': return `${IDENTITY_SCHEME}tenant/${id.tenant}/${id.name}`;
    case 'node': return `${IDENTITY_SCHEME}node/${id.node}`;
    case 'replica': return `${IDENTITY_SCHEME}replica/${id.name}`;
    case 'server': return `${IDENTITY_SCHEME}server/${id.name}`;
  }
}

/** A short text for logs and error messages: "node h1", "tenant acme (ops)", "admin root". */
export function describeIdentity(id: Identity): string {
  switch (id.kind) {
    case 'tenant': return `tenant ${id.tenant} operator ${id.name}`;
    case 'node': return `agent of node ${id.node}`;
    default: return `${id.kind} ${id.name}`;
  }
}

/** Parses an identity URI; INVALID_ARGUMENT (naming `field`) for anything else. */
export function parseIdentityUri(uri: string, field = 'identity'): Identity {
  if (typeof uri !== 'string' || !uri.startsWith(IDENTITY_SCHEME)) {
    throw invalid(field, uri, `is not a vxfab identity (like ${IDENTITY_SCHEME}node/host-1)`);
  }
  const parts = uri.slice(IDENTITY_SCHEME.length).split('/');
  const [kind, a, b] = parts;
  const n = parts.length;
  if (kind === 'admin' && n === 2) return { kind, name: validateName(a, field) };
  if (kind === 'tenant' && n === 3) return { kind, tenant: validateName(a, field), name: validateName(b, field) };
  if (kind === 'node' && n === 2) return { kind, node: validateNodeName(a, field) };
  if (kind === 'replica' && n === 2) return { kind, name: validateNodeName(a, field) };
  if (kind === 'server' && n === 2) return { kind, name: validateNodeName(a, field) };
  throw invalid(field, uri, 'expected vxfab://admin/NAME, tenant/TENANT/NAME, node/NODE, replica/NAME or server/NAME');
}

export function sameIdentity(a: Identity, b: Identity): boolean {
  return identityUri(a) === identityUri(b);
}
