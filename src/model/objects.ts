// The controller's objects as plain domain values. Their fields match the protobuf messages in
// proto/vxfab/v1/model.proto (camelCase, as protobufjs names them), so a value encodes with the
// generated class directly and decodes back into this shape: one conversion, at the edge.

export interface Tenant {
  name: string;
  createdRevision: number;
}

export interface Network {
  tenant: string;
  name: string;
  vnid: number;
  /** Canonical CIDR text; '' when the network has no IPv4 subnet. */
  subnet4: string;
  gateway4: string;
  subnet6: string;
  gateway6: string;
  mtu: number;
  createdRevision: number;
}

export interface Node {
  name: string;
  underlay: string;
  port: number;
  /** Unix ms of the last heartbeat; 0 when never. Kept in memory only (see controller/state.ts). */
  lastHeartbeatMs: number;
  createdRevision: number;
}

export interface Nic {
  id: string;
  tenant: string;
  network: string;
  vnid: number;
  node: string;
  mac: string;
  ips: string[];
  /** Store revision of the last write to this NIC. */
  revision: number;
}

export const networkRef = (n: { tenant: string; name: string }): string => `${n.tenant}/${n.name}`;
