// Reading and correcting the VXLAN device and bridge of a network (`ip -d -j link show`).
//
// What the kernel (checked on 6.x) lets `ip link set … type vxlan` change in place: local address,
// underlay device, learning; plus MTU, master and up like any link. It refuses to change the VNI
// ("Cannot change VNI"), the port ("Cannot change port") and the proxy/l2miss/l3miss flags ("cannot
// change L3MISS flag"): those differences need a delete and re-create, which drops every entry.

import type { NetworkSpec, NetworkState } from '../dataplane.js';
import { vnidFromVxlanDevice } from '../names.js';
import { canonicalIp } from '../validate.js';

/** The subset of `ip -d -j link show` we read. */
export interface LinkJson {
  ifname: string;
  mtu: number;
  flags?: string[];
  master?: string;
  link?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: {
      id?: number;
      local?: string;
      local6?: string;
      link?: string;
      port?: number;
      learning?: boolean;
      proxy?: boolean;
      l2miss?: boolean;
      l3miss?: boolean;
    };
  };
}

export interface LinkInfo {
  name: string;
  kind: string;
  mtu: number;
  up: boolean;
  master: string;
}

export interface VxlanInfo extends LinkInfo {
  vni: number;
  local: string;
  underlayDev: string;
  port: number;
  learning: boolean;
  proxy: boolean;
  l2miss: boolean;
  l3miss: boolean;
}

export function parseLink(j: LinkJson): VxlanInfo {
  const d = j.linkinfo?.info_data ?? {};
  const local = d.local ?? d.local6 ?? '';
  return {
    name: j.ifname,
    kind: j.linkinfo?.info_kind ?? '',
    mtu: j.mtu,
    up: (j.flags ?? []).includes('UP'),
    master: j.master ?? '',
    vni: d.id ?? -1,
    local: local === '' ? '' : canonicalIp(local),
    underlayDev: d.link ?? j.link ?? '',
    port: d.port ?? 0,
    learning: d.learning ?? false,
    proxy: d.proxy ?? false,
    l2miss: d.l2miss ?? false,
    l3miss: d.l3miss ?? false,
  };
}

export function toNetworkState(v: VxlanInfo): NetworkState | undefined {
  const vnid = vnidFromVxlanDevice(v.name);
  if (vnid === undefined || v.kind !== 'vxlan') return undefined;
  return {
    vnid,
    vxlanDev: v.name,
    bridgeDev: v.master,
    mtu: v.mtu,
    local: v.local,
    underlayDev: v.underlayDev,
    port: v.port,
    learningMisses: v.l2miss && v.l3miss,
    proxy: v.proxy,
    learning: v.learning,
    up: v.up,
  };
}

/** `ip link add` for the VXLAN device of a spec. Addresses are canonical, names checked: no quoting. */
export function vxlanCreateLines(spec: NetworkSpec, dev: string): string[] {
  const misses = spec.learningMisses ? 'l2miss l3miss' : 'nol2miss nol3miss';
  const under = spec.underlayDev !== undefined ? ` dev ${spec.underlayDev}` : '';
  return [
    `link add ${dev} mtu ${spec.mtu} type vxlan id ${spec.vnid} dstport ${spec.port} local ${spec.local}${under} nolearning proxy ${misses}`,
    // No IPv6 link-local on the device: it would send its own ND/MLD and cause misses of its own.
    `link set ${dev} addrgenmode none`,
  ];
}

export function bridgeCreateLines(mtu: number, dev: string): string[] {
  return [`link add ${dev} mtu ${mtu} type bridge`, `link set ${dev} addrgenmode none`];
}

export interface Comparison {
  /** Differences that need the device re-created. */
  recreate: string[];
  /** Differences fixed in place, each with its command. */
  inPlace: Array<{ difference: string; line: string }>;
}

const have = (what: string, a: unknown, b: unknown): string => `${what}: have ${fmt(a)}, want ${fmt(b)}`;
const fmt = (v: unknown): string => (v === '' || v === undefined ? 'none' : String(v));

export function compareVxlan(v: VxlanInfo, spec: NetworkSpec): Comparison {
  const recreate: string[] = [];
  const inPlace: Comparison['inPlace'] = [];
  if (v.vni !== spec.vnid) recreate.push(have('vni', v.vni, spec.vnid));
  if (v.port !== spec.port) recreate.push(have('port', v.port, spec.port));
  if (!v.proxy) recreate.push(have('proxy', 'off', 'on'));
  if (v.l2miss !== spec.learningMisses) recreate.push(have('l2miss', onOff(v.l2miss), onOff(spec.learningMisses)));
  if (v.l3miss !== spec.learningMisses) recreate.push(have('l3miss', onOff(v.l3miss), onOff(spec.learningMisses)));
  const wantUnder = spec.underlayDev ?? '';
  if (v.underlayDev !== wantUnder) {
    // Binding to a device can be set in place; unbinding cannot.
    if (wantUnder === '') recreate.push(have('underlay device', v.underlayDev, wantUnder));
    else inPlace.push({ difference: have('underlay device', v.underlayDev, wantUnder), line: `link set ${v.name} type vxlan dev ${wantUnder}` });
  }
  if (v.local !== spec.local) {
    inPlace.push({ difference: have('local', v.local, spec.local), line: `link set ${v.name} type vxlan local ${spec.local}` });
  }
  if (v.learning) inPlace.push({ difference: have('learning', 'on', 'off'), line: `link set ${v.name} type vxlan nolearning` });
  if (v.mtu !== spec.mtu) inPlace.push({ difference: have('mtu', v.mtu, spec.mtu), line: `link set ${v.name} mtu ${spec.mtu}` });
  return { recreate, inPlace };
}

export function compareBridge(b: LinkInfo, mtu: number): Comparison['inPlace'] {
  const out: Comparison['inPlace'] = [];
  if (b.mtu !== mtu) out.push({ difference: have(`bridge ${b.name} mtu`, b.mtu, mtu), line: `link set ${b.name} mtu ${mtu}` });
  if (!b.up) out.push({ difference: have(`bridge ${b.name} state`, 'down', 'up'), line: `link set ${b.name} up` });
  return out;
}

function onOff(b: boolean): string {
  return b ? 'on' : 'off';
}
