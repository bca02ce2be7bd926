// Encoding of the controller's objects for the store, the change feed and the API. Conversion
// from a decoded message copies into a plain domain value, so no protobufjs instance (whose unset
// fields live on a shared prototype) leaks out, and JSON output always has every field.
import { vxfab } from './gen/proto.js';
import type { Network, Nic, Node, Tenant } from '../model/objects.js';

const pb = vxfab.v1;

export const encodeTenant = (t: Tenant): Uint8Array => pb.Tenant.encode(t).finish();
export const encodeNetwork = (n: Network): Uint8Array => pb.Network.encode(n).finish();
export const encodeNode = (n: Node): Uint8Array => pb.Node.encode(n).finish();
export const encodeNic = (n: Nic): Uint8Array => pb.Nic.encode(n).finish();

export function tenantFrom(m: vxfab.v1.ITenant): Tenant {
  return { name: m.name ?? '', createdRevision: Number(m.createdRevision ?? 0) };
}

export function networkFrom(m: vxfab.v1.INetwork): Network {
  return {
    tenant: m.tenant ?? '', name: m.name ?? '', vnid: m.vnid ?? 0,
    subnet4: m.subnet4 ?? '', gateway4: m.gateway4 ?? '', subnet6: m.subnet6 ?? '', gateway6: m.gateway6 ?? '',
    mtu: m.mtu ?? 0, createdRevision: Number(m.createdRevision ?? 0),
  };
}

export function nodeFrom(m: vxfab.v1.INode): Node {
  return {
    name: m.name ?? '', underlay: m.underlay ?? '', port: m.port ?? 0,
    lastHeartbeatMs: Number(m.lastHeartbeatMs ?? 0), createdRevision: Number(m.createdRevision ?? 0),
  };
}

export function nicFrom(m: vxfab.v1.INic): Nic {
  return {
    id: m.id ?? '', tenant: m.tenant ?? '', network: m.network ?? '', vnid: m.vnid ?? 0, node: m.node ?? '',
    mac: m.mac ?? '', ips: [...(m.ips ?? [])], revision: Number(m.revision ?? 0),
  };
}

export const decodeTenant = (bytes: Uint8Array): Tenant => tenantFrom(pb.Tenant.decode(bytes));
export const decodeNetwork = (bytes: Uint8Array): Network => networkFrom(pb.Network.decode(bytes));
export const decodeNode = (bytes: Uint8Array): Node => nodeFrom(pb.Node.decode(bytes));
export const decodeNic = (bytes: Uint8Array): Nic => nicFrom(pb.Nic.decode(bytes));
