// Walks one frame through the programmed tables the way the kernel would, from a source host's
// bridge to the endpoints that accept it:
//   ARP/ND: a local endpoint with the address answers on the bridge; otherwise the request reaches
//           the VXLAN device, whose proxy answers from the neighbour table (or drops it);
//   frame:  a local endpoint with the MAC takes it on the bridge; otherwise the VXLAN device sends it
//           by the FDB entry, else to every flood entry, else drops it;
//   underlay: each destination address must be a host; that host's VXLAN device of the same VNID
//           hands it to its bridge, whose endpoint with the MAC takes it.
// Knowing the intended target, the walk names the first table entry that sent the frame astray.
import type { TableDiff } from './desired.js';
import type { FabricView, SimEndpoint } from './fabric.js';

/** The table entry that sent a frame astray: the same shape as an audit difference. */
export type Fault = TableDiff;

export interface WalkResult {
  /** Endpoints that accepted the frame. */
  delivered: SimEndpoint[];
  /** The steps, in words, for reports. */
  path: string[];
  /** Set when the target was not reached: the first wrong or missing entry. */
  fault?: Fault;
  /** A lookup found nothing on a network with miss notifications (on-demand: retry later). */
  missed: boolean;
}

/** Sends an ARP/ND for `ip` then a unicast frame from `srcHost` in `vnid`; `target` is the endpoint
 * that should (or, for isolation, should not) receive it. */
export function walkUnicast(view: FabricView, srcHost: string, vnid: number, ip: string, target: SimEndpoint): WalkResult {
  const path: string[] = [];
  const host = view.hosts.get(srcHost)!;
  const dp = host.dp;
  const sameNet = target.vnid === vnid;
  const res = (delivered: SimEndpoint[], fault?: Fault, missed = false): WalkResult => ({ delivered, path, fault, missed });
  if (!dp.hasNetwork(vnid)) {
    return res([], { host: srcHost, vnid, table: 'network', key: String(vnid), have: '', want: 'present', why: `no VXLAN device/bridge for vnid ${vnid} on the source host` });
  }
  // 1. Address resolution.
  const locals = view.local(vnid, srcHost);
  const answering = locals.find((e) => e.ips.includes(ip));
  let mac: string | undefined;
  if (answering) {
    mac = answering.mac;
    path.push(`${srcHost}: ${ip} answered on the bridge by ${answering.name} (${mac})`);
  } else {
    mac = dp.resolve(vnid, ip);
    if (mac === undefined) {
      path.push(`${srcHost}: proxy has no entry for ${ip}`);
      const want = sameNet && target.host !== srcHost ? target.mac : '';
      return res([], want === '' ? undefined : { host: srcHost, vnid, table: 'neigh', key: ip, have: '', want, why: `no proxy ARP/ND entry for ${target.name}'s address` },
        dp.networkSpec(vnid)?.learningMisses === true);
    }
    path.push(`${srcHost}: proxy answers ${ip} is ${mac}`);
    if (sameNet && target.host !== srcHost && mac !== target.mac) {
      // Follow it anyway (to report where it went), but the fault is this entry.
      const delivered = walkFrame(view, srcHost, vnid, mac, path).delivered;
      return res(delivered, { host: srcHost, vnid, table: 'neigh', key: ip, have: mac, want: target.mac, why: `${ip} is ${target.name}'s` });
    }
  }
  // 2. The frame.
  const frame = walkFrame(view, srcHost, vnid, mac, path, sameNet ? target : undefined);
  return res(frame.delivered, frame.delivered.includes(target) ? undefined : frame.fault, frame.missed);
}

/** A frame to `mac` entering the bridge of `vnid` on `srcHost`. */
export function walkFrame(view: FabricView, srcHost: string, vnid: number, mac: string, path: string[], target?: SimEndpoint):
  { delivered: SimEndpoint[]; fault?: Fault; missed: boolean } {
  const local = view.local(vnid, srcHost).filter((e) => e.mac === mac);
  if (local.length > 0) {
    path.push(`${srcHost}: bridge delivers to ${local.map((e) => e.name).join(', ')}`);
    return { delivered: local, missed: false };
  }
  const dp = view.hosts.get(srcHost)!.dp;
  const decision = dp.forward(vnid, mac);
  const wantDst = target ? view.hosts.get(target.host)?.underlay ?? '' : '';
  if (decision.via === 'drop') {
    path.push(`${srcHost}: no FDB entry for ${mac} and no flood entries: dropped`);
    return {
      delivered: [], missed: dp.networkSpec(vnid)?.learningMisses === true,
      fault: target && { host: srcHost, vnid, table: 'fdb', key: mac, have: '', want: wantDst, why: `no FDB entry for ${target.name} (on ${target.host}) and no flood entries` },
    };
  }
  path.push(`${srcHost}: ${decision.via === 'fdb' ? 'FDB' : 'flood'} sends ${mac} to ${decision.dsts.join(', ')}`);
  const delivered: SimEndpoint[] = [];
  let fault: Fault | undefined;
  for (const dst of decision.dsts) {
    const rcv = view.hostByUnderlay.get(dst);
    if (rcv === undefined) {
      path.push(`underlay: no host has ${dst}`);
      if (decision.via === 'fdb') fault ??= { host: srcHost, vnid, table: 'fdb', key: mac, have: dst, want: wantDst, why: `points at ${dst}, which no host has` };
      continue;
    }
    if (!rcv.dp.hasNetwork(vnid)) {
      path.push(`${rcv.name}: no VXLAN device for vnid ${vnid}: dropped`);
      if (decision.via === 'fdb') {
        fault ??= rcv.name === target?.host
          ? { host: rcv.name, vnid, table: 'network', key: String(vnid), have: '', want: 'present', why: `${target.name}'s host has no VXLAN device for vnid ${vnid}` }
          : { host: srcHost, vnid, table: 'fdb', key: mac, have: dst, want: wantDst, why: target ? `${target.name} is on ${target.host}, not ${rcv.name}` : `${rcv.name} does not carry vnid ${vnid}` };
      }
      continue;
    }
    const got = view.local(vnid, rcv.name).filter((e) => e.mac === mac);
    path.push(got.length > 0 ? `${rcv.name}: bridge delivers to ${got.map((e) => e.name).join(', ')}` : `${rcv.name}: no endpoint with ${mac}`);
    delivered.push(...got);
    if (got.length === 0 && decision.via === 'fdb' && target) {
      fault ??= { host: srcHost, vnid, table: 'fdb', key: mac, have: dst, want: wantDst, why: `${target.name} is on ${target.host}, not ${rcv.name}` };
    }
  }
  if (target && !delivered.includes(target) && fault === undefined) {
    // Flooded, and the flood list lacks the target's host.
    fault = { host: srcHost, vnid, table: 'fdb', key: mac, have: '', want: wantDst, why: `no FDB entry for ${target.name} and the flood list lacks ${target.host}` };
  }
  return { delivered, fault, missed: false };
}

/** A broadcast from `srcHost` in `vnid`: the local bridge ports plus every flood destination's. */
export function walkBroadcast(view: FabricView, srcHost: string, vnid: number): { reached: Set<SimEndpoint>; bad: Fault[] } {
  const reached = new Set<SimEndpoint>(view.local(vnid, srcHost));
  const bad: Fault[] = [];
  const dp = view.hosts.get(srcHost)!.dp;
  if (!dp.hasNetwork(vnid)) return { reached, bad };
  for (const dst of dp.floodList(vnid)) {
    const rcv = view.hostByUnderlay.get(dst);
    if (rcv === undefined || !rcv.dp.hasNetwork(vnid)) {
      bad.push({ host: srcHost, vnid, table: 'flood', key: dst, have: dst, want: '', why: rcv === undefined ? `no host has ${dst}` : `${rcv.name} has no VXLAN device for vnid ${vnid}` });
      continue;
    }
    for (const e of view.local(vnid, rcv.name)) reached.add(e);
  }
  return { reached, bad };
}
