// Encoding of the controller's objects for the store and the change feed. Decoding copies into
// plain domain values, so no protobufjs instance (with its shared prototype defaults) leaks out.
import { vxfab } from './gen/proto.js';
import type { Network, Nic, Node, Tenant } from '../model/objects.js';

const pb = vxfab.v1;

export const encodeTenant = (t: Tenant): Uint8Array => pb.Tenant.encode(t).finish();
export const encodeNetwork = (n: Network): Uint8Array => pb.Network.encode(n).finish();
export const encodeNode = (n: Node): Uint8Array => pb.Node.encode(n).finish();
export const encodeNic = (n: Nic): Uint8Array => pb.Nic.encode(n).finish();

export function decodeTenant(bytes: Uint8Array): Tenant {
  const m = pb.Tenant.decode(bytes);
  return { name: m.name, createdRevision: Number(m.createdRevision) };
}

export function decodeNetwork(bytes: Uint8Array): Network {
  const m = pb.Network.decode(bytes);
  return {
    tenant: m.tenant, name: m.name, vnid: m.vnid,
    subnet4: m.subnet4, gateway4: m.gateway4, subnet6: m.subnet6, gateway6: m.gateway6,
    mtu: m.mtu, createdRevision: Number(m.createdRevision),
  };
}

export function decodeNode(bytes: Uint8Array): Node {
  const m = pb.Node.decode(bytes);
  return {
    name: m.name, underlay: m.underlay, port: m.port,
    lastHeartbeatMs: Number(m.lastHeartbeatMs), createdRevision: Number(m.createdRevision),
  };
}

export function decodeNic(bytes: Uint8Array): Nic {
  const m = pb.Nic.decode(bytes);
  return {
    id: m.id, tenant: m.tenant, network: m.network, vnid: m.vnid, node: m.node,
    mac: m.mac, ips: [...m.ips], revision: Number(m.revision),
  };
}
