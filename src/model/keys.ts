// Store key layout. It is part of the change-feed contract: the controller writes these keys,
// and every lookup index (in-process or replica) decodes changes by their prefix.
//   t/<tenant>             → vxfab.v1.Tenant
//   n/<tenant>/<network>   → vxfab.v1.Network
//   h/<node>               → vxfab.v1.Node
//   i/<nic id>             → vxfab.v1.Nic
//   k/<token id>           → vxfab.v1.TokenRecord   (controller only: never in the change feed)
//   c/<serial>             → vxfab.v1.CertRecord    (controller only: never in the change feed)
//   r/<serial>             → vxfab.v1.Revocation    (in the feed: replicas refuse revoked certificates)

export const TENANT_PREFIX = 't/';
export const NETWORK_PREFIX = 'n/';
export const NODE_PREFIX = 'h/';
export const NIC_PREFIX = 'i/';
export const TOKEN_PREFIX = 'k/';
export const CERT_PREFIX = 'c/';
export const REVOCATION_PREFIX = 'r/';

export const tenantKey = (tenant: string): string => TENANT_PREFIX + tenant;
export const networkKey = (tenant: string, network: string): string => `${NETWORK_PREFIX}${tenant}/${network}`;
export const nodeKey = (node: string): string => NODE_PREFIX + node;
export const nicKey = (id: string): string => NIC_PREFIX + id;
export const tokenKey = (id: string): string => TOKEN_PREFIX + id;
export const certKey = (serial: string): string => CERT_PREFIX + serial;
export const revocationKey = (serial: string): string => REVOCATION_PREFIX + serial;

/** Whether a key stays on the controller: token secrets' hashes and the issued-certificate list
 *  are nobody else's business, so Snapshot and Watch leave them out. */
export function isControllerOnlyKey(key: string): boolean {
  const p = key.slice(0, 2);
  return p === TOKEN_PREFIX || p === CERT_PREFIX;
}

export type KeyKind = 'tenant' | 'network' | 'node' | 'nic' | 'token' | 'cert' | 'revocation';

/** Which object a key names, or undefined for a key outside the layout. */
export function keyKind(key: string): KeyKind | undefined {
  switch (key.slice(0, 2)) {
    case TENANT_PREFIX: return 'tenant';
    case NETWORK_PREFIX: return 'network';
    case NODE_PREFIX: return 'node';
    case NIC_PREFIX: return 'nic';
    case TOKEN_PREFIX: return 'token';
    case CERT_PREFIX: return 'cert';
    case REVOCATION_PREFIX: return 'revocation';
    default: return undefined;
  }
}
