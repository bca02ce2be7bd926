// The tables every host should have, computed from the controller's endpoints: this is what
// "converged" means. Push mode: on each host, for each network with a local endpoint, one FDB and
// one proxy entry per remote endpoint (its MAC → its host's underlay; each address → its MAC) and a
// flood entry per other host carrying the network. On-demand mode installs entries as misses come,
// so there only wrong entries count, not missing ones. Networks without a local endpoint should be
// absent. Keys of the host's own endpoints are not judged: the bridge, not the VXLAN device,
// delivers to them.
import type { FabricView, SimEndpoint } from './fabric.js';

export type TableName = 'fdb' | 'flood' | 'neigh' | 'network';

/** One entry that differs from the desired state. `have`/`want` are '' when absent. */
export interface TableDiff {
  host: string;
  vnid: number;
  table: TableName;
  key: string;
  have: string;
  want: string;
  /** Why it is wrong, in words (names the NIC or host it concerns). */
  why: string;
}

/** Differences of one host's tables from the desired state; empty when it is converged. Stops
 * after `limit` differences (a host that missed a whole network differs in thousands). With
 * `only`, the networks' presence is judged in full but only those networks' tables are compared:
 * for a caller that knows the other tables matched and have not changed since (convergence.ts). */
export function diffHost(view: FabricView, hostName: string, limit = Infinity, only?: ReadonlySet<number>): TableDiff[] {
  const host = view.hosts.get(hostName);
  if (!host) return [];
  const dp = host.dp;
  const out: TableDiff[] = [];
  const push = host.mode === 'push';
  const carried = new Set(view.vnidsOf(hostName));
  // Stops looking once `limit` differences are found: the simulator asks "converged yet?" with
  // limit 1 for every host a write touched, and most such looks find a difference early.
  const add = (d: Omit<TableDiff, 'host'>): boolean => {
    if (out.length < limit) out.push({ host: hostName, ...d });
    return out.length >= limit;
  };
  for (const vnid of carried) {
    if (!dp.hasNetwork(vnid)) {
      if (add({ vnid, table: 'network', key: String(vnid), have: '', want: 'present', why: `host carries ${view.local(vnid, hostName)[0]!.name} but has no VXLAN device for vnid ${vnid}` })) return out;
      continue;
    }
    const spec = dp.networkSpec(vnid);
    if (spec && spec.local !== host.underlay) {
      if (add({ vnid, table: 'network', key: 'local', have: spec.local, want: host.underlay, why: 'VXLAN device has the wrong local address' })) return out;
    }
  }
  for (const net of dp.networkIds()) {
    if (!carried.has(net) && add({ vnid: net, table: 'network', key: String(net), have: 'present', want: '', why: `no endpoint of vnid ${net} is on this host any more` })) return out;
  }
  for (const vnid of carried) {
    if (!dp.hasNetwork(vnid) || (only !== undefined && !only.has(vnid))) continue;
    const members = view.byVnid.get(vnid) ?? [];
    const { byMac, byIp, carrierUnderlays: carriers, canonicalIps } = view.vnidIndex(vnid);
    const tables = dp.tablesView(vnid)!;
    // What is there must be right.
    for (const [mac, dst] of tables.fdb) {
      const e = byMac.get(mac);
      if (e === undefined) {
        if (add({ vnid, table: 'fdb', key: mac, have: dst, want: '', why: `no NIC of vnid ${vnid} has MAC ${mac} (stale)` })) return out;
      } else if (e.host === hostName) continue;
      else {
        const want = view.hosts.get(e.host)?.underlay ?? '';
        if (dst !== want && add({ vnid, table: 'fdb', key: mac, have: dst, want, why: `${e.name} is on ${e.host}` })) return out;
      }
    }
    for (const [ip, mac] of tables.neigh) {
      const e = byIp.get(ip);
      if (e === undefined) {
        if (add({ vnid, table: 'neigh', key: ip, have: mac, want: '', why: `no NIC of vnid ${vnid} has address ${ip} (stale)` })) return out;
      } else if (e.host !== hostName && e.mac !== mac && add({ vnid, table: 'neigh', key: ip, have: mac, want: e.mac, why: `${ip} is ${e.name}'s` })) return out;
    }
    for (const dst of tables.flood) {
      if (!carriers.has(dst) || dst === host.underlay) {
        if (add({ vnid, table: 'flood', key: dst, have: dst, want: '', why: `${view.hostByUnderlay.get(dst)?.name ?? 'no host'} at ${dst} carries no endpoint of vnid ${vnid}` })) return out;
      }
    }
    // What should be there must be there.
    if (push) {
      for (const e of members) {
        if (e.host === hostName) continue;
        const want = view.hosts.get(e.host)?.underlay ?? '';
        if (!tables.fdb.has(e.mac) && add({ vnid, table: 'fdb', key: e.mac, have: '', want, why: `missing entry for ${e.name} on ${e.host}` })) return out;
        for (const k of canonicalIps.get(e)!) {
          if (!tables.neigh.has(k) && add({ vnid, table: 'neigh', key: k, have: '', want: e.mac, why: `missing proxy entry for ${e.name}` })) return out;
        }
      }
      for (const dst of carriers) {
        if (dst !== host.underlay && !tables.flood.has(dst)) {
          if (add({ vnid, table: 'flood', key: dst, have: '', want: dst, why: `missing flood entry for ${view.hostByUnderlay.get(dst)?.name ?? dst}, which carries vnid ${vnid}` })) return out;
        }
      }
    }
  }
  return out;
}

export function formatDiff(d: TableDiff): string {
  const entry = d.table === 'network' ? `network ${d.key}` : `${d.table} ${d.key}`;
  const change = d.have === '' ? `missing (want ${d.want})` : d.want === '' ? `${d.have} should not be there` : `${d.have}, want ${d.want}`;
  return `${d.host} vnid ${d.vnid} ${entry}: ${change} — ${d.why}`;
}
