// Table columns for each object kind.
import type { Network, Nic, Node, Tenant } from '../model/objects.js';
import type { Column } from './output.js';

export const TENANT_COLUMNS: Column<Tenant>[] = [
  { header: 'NAME', value: (t) => t.name },
  { header: 'REVISION', value: (t) => t.createdRevision },
];

export const NETWORK_COLUMNS: Column<Network>[] = [
  { header: 'TENANT', value: (n) => n.tenant },
  { header: 'NAME', value: (n) => n.name },
  { header: 'VNID', value: (n) => n.vnid },
  { header: 'SUBNET', value: (n) => n.subnet4 || '-' },
  { header: 'GATEWAY', value: (n) => n.gateway4 || '-' },
  { header: 'SUBNET6', value: (n) => n.subnet6 || '-' },
  { header: 'GATEWAY6', value: (n) => n.gateway6 || '-' },
  { header: 'MTU', value: (n) => n.mtu },
];

const heartbeat = (ms: number): string => (ms === 0 ? 'never' : `${Math.max(0, Math.round((Date.now() - ms) / 1000))}s ago`);

export const NODE_COLUMNS: Column<Node>[] = [
  { header: 'NAME', value: (n) => n.name },
  { header: 'UNDERLAY', value: (n) => n.underlay },
  { header: 'PORT', value: (n) => n.port },
  { header: 'HEARTBEAT', value: (n) => heartbeat(n.lastHeartbeatMs) },
];

export const NIC_COLUMNS: Column<Nic>[] = [
  { header: 'ID', value: (n) => n.id },
  { header: 'NETWORK', value: (n) => `${n.tenant}/${n.network}` },
  { header: 'VNID', value: (n) => n.vnid },
  { header: 'NODE', value: (n) => n.node },
  { header: 'MAC', value: (n) => n.mac },
  { header: 'IPS', value: (n) => n.ips.join(',') || '-' },
];
