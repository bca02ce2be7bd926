// Store key layout. It is part of the change-feed contract: the controller writes these keys,
// and every lookup index (in-process or replica) decodes changes by their prefix.
//   t/<tenant>             → vxfab.v1.Tenant
//   n/<tenant>/<network>   → vxfab.v1.Network
//   h/<node>               → vxfab.v1.Node
//   i/<nic id>             → vxfab.v1.Nic

export const TENANT_PREFIX = 't/';
export const NETWORK_PREFIX = 'n/';
export const NODE_PREFIX = 'h/';
export const NIC_PREFIX = 'i/';

export const tenantKey = (tenant: string): string => TENANT_PREFIX + tenant;
export const networkKey = (tenant: string, network: string): string => `${NETWORK_PREFIX}${tenant}/${network}`;
export const nodeKey = (node: string): string => NODE_PREFIX + node;
export const nicKey = (id: string): string => NIC_PREFIX + id;

export type KeyKind = 'tenant' | 'network' | 'node' | 'nic';

/** Which object a key names, or undefined for a key outside the layout. */
export function keyKind(key: string): KeyKind | undefined {
  switch (key.slice(0, 2)) {
    case TENANT_PREFIX: return 'tenant';
    case NETWORK_PREFIX: return 'network';
    case NODE_PREFIX: return 'node';
    case NIC_PREFIX: return 'nic';
    default: return undefined;
  }
}
