// Builders of store changes (KeyChange-like) for the lookup index tests.
import type { Test } from 'tap';
import { vxfab } from '../../src/wire/gen/proto.js';
import type { KeyChangeLike } from '../../src/lookup/types.js';

export interface NicSpec {
  id: string;
  vnid: number;
  node: string;
  mac: string;
  ips: string[];
}

export function putNode(name: string, underlay: string, port = 4789, heartbeat = 0): KeyChangeLike {
  return { key: `h/${name}`, value: vxfab.v1.Node.encode({ name, underlay, port, lastHeartbeatMs: heartbeat }).finish() };
}

export function delNode(name: string): KeyChangeLike {
  return { key: `h/${name}`, deleted: true };
}

export function putNic(n: NicSpec): KeyChangeLike {
  return {
    key: `i/${n.id}`,
    value: vxfab.v1.Nic.encode({ id: n.id, tenant: 't', network: `net${n.vnid}`, vnid: n.vnid, node: n.node, mac: n.mac, ips: n.ips }).finish(),
  };
}

export function delNic(id: string): KeyChangeLike {
  return { key: `i/${id}`, deleted: true };
}

export function putNetwork(tenant: string, name: string, vnid: number): KeyChangeLike {
  return { key: `n/${tenant}/${name}`, value: vxfab.v1.Network.encode({ tenant, name, vnid }).finish() };
}

export function mac(i: number): string {
  const h = (n: number) => (n & 255).toString(16).padStart(2, '0');
  return `02:00:${h(i >>> 24)}:${h(i >>> 16)}:${h(i >>> 8)}:${h(i)}`;
}

/** Asserts that fn throws a VxfabError with this code and field. */
export function expectError(t: Test, fn: () => unknown, code: string, field: string, what: string): void {
  try {
    fn();
    t.fail(`${what}: did not throw`);
  } catch (e) {
    t.match(e, { name: 'VxfabError', code, field }, what);
  }
}
