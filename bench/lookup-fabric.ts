// The synthetic fabric of bench/lookup.ts, shared by the server child (which stores it) and the
// client (which knows every key without asking): NIC i is the m-th NIC (m = i / vnids) of network
// k = i % vnids, on one of SPREAD nodes of that network, with a fabric-unique MAC and one IPv4
// address of the network's /22.
const hex2 = (n: number): string => (n & 255).toString(16).padStart(2, '0');

export const FIRST_VNID = 1000;
/** Nodes each network spans. */
export const SPREAD = 50;

export interface BenchNic { id: string; network: string; vnid: number; node: string; mac: string; ips: string[] }

export function benchFabric(nics: number, nodes: number, vnids: number) {
  const perNet = Math.ceil(nics / vnids);
  if (perNet > 1020) throw new Error(`at most 1020 NICs per network (a /22): ${perNet}`);
  const ip4 = (v: number): string => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  const subnetBase = (k: number): number => ((100 << 24) | (64 << 16)) + k * 1024;
  const nodeName = (h: number): string => `node-${h.toString().padStart(5, '0')}`;
  return {
    tenant: 'bench',
    nics, nodes, vnids,
    network(k: number) {
      const base = subnetBase(k);
      return { name: `net-${k}`, vnid: FIRST_VNID + k, subnet4: `${ip4(base)}/22`, gateway4: ip4(base + 1) };
    },
    node(h: number) {
      return { name: nodeName(h), underlay: ip4(((198 << 24) | (18 << 16)) + 1 + h), port: 4789 };
    },
    macOf(i: number): string {
      return `02:00:${hex2(i >>> 24)}:${hex2(i >>> 16)}:${hex2(i >>> 8)}:${hex2(i)}`;
    },
    vnidOf(i: number): number {
      return FIRST_VNID + (i % vnids);
    },
    nodeOf(i: number): string {
      return nodeName(((i % vnids) * 13 + (Math.floor(i / vnids) % SPREAD) * 7) % nodes);
    },
    nic(i: number): BenchNic {
      const k = i % vnids;
      return {
        id: `nic-${i.toString(16).padStart(10, '0')}`, network: `net-${k}`, vnid: FIRST_VNID + k,
        node: this.nodeOf(i), mac: this.macOf(i), ips: [ip4(subnetBase(k) + 2 + Math.floor(i / vnids))],
      };
    },
  };
}
