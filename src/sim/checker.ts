// Judges a fabric against a checkpoint's expectations by walking frames through the programmed
// tables (walk.ts), and audits every healthy host's tables against the desired state (desired.ts).
//
// The default expectation, "every pair in a network reaches, nothing crosses networks":
// - reach: from every host carrying a network to every endpoint of it. The walk depends only on
//   the source host (its bridge and tables), not on which of its endpoints sends, so it runs once
//   per (source host, target) and a failure names one source NIC and counts the others on that host;
// - broadcast: from every host carrying a network, the flood entries must reach every endpoint;
// - isolation: frames of one network are handed only to that network's bridges, so nothing can
//   cross unless a table of network A holds an entry of network B; the audit reports such entries,
//   and `crossSamples` random endpoints of other networks per (source host, network) are walked too.
// Endpoints on impaired hosts (agent stopped, cut off) are exempt from the default; name them in
// explicit reach/isolated pairs to judge them.
import { formatDiff, type TableDiff } from './desired.js';
import { diffHost } from './desired.js';
import type { FabricView, SimEndpoint } from './fabric.js';
import { Prng } from './prng.js';
import type { PairDecl } from './topology.js';
import { walkBroadcast, walkFrame, walkUnicast, type Fault } from './walk.js';

export type ViolationKind = 'reach' | 'isolation' | 'broadcast' | 'table';

export interface Violation {
  kind: ViolationKind;
  /** Source and target NIC names (absent for a table audit finding). */
  from?: string;
  to?: string;
  /** Other NICs on the source host that fail the same way. */
  alsoFrom?: number;
  /** The table entry that was wrong or missing. */
  entry?: Fault | TableDiff;
  message: string;
}

export interface CheckOptions {
  default: boolean;
  reach?: PairDecl[];
  isolated?: PairDecl[];
  /** Random other-network endpoints walked per (source host, network); default 2. */
  crossSamples?: number;
  seed?: number;
  /** Detailed violations kept (all are counted); default 1000. */
  maxDetailed?: number;
  /** Audit tables against the desired state; default true. */
  audit?: boolean;
}

export interface CheckResult {
  violations: Violation[];
  /** All violations found, also those beyond maxDetailed. */
  violationCount: number;
  /** (source host, target) walks done. */
  walks: number;
  /** Walks that ended in a table miss on a network with miss notifications (on-demand): a retry
   * after the agent answered the miss may succeed. */
  misses: number;
}

export function describeEntry(f: Fault | TableDiff): string {
  return formatDiff(f as TableDiff);
}

export function checkFabric(view: FabricView, options: CheckOptions): CheckResult {
  const max = options.maxDetailed ?? 1000;
  const result: CheckResult = { violations: [], violationCount: 0, walks: 0, misses: 0 };
  const report = (v: Violation) => {
    result.violationCount++;
    if (result.violations.length < max) result.violations.push(v);
  };
  const healthy = (e: SimEndpoint) => !view.isImpaired(e.host);

  if (options.default) {
    const rng = new Prng(options.seed ?? 1);
    const all = [...view.byName.values()];
    const samples = options.crossSamples ?? 2;
    for (const [vnid, perHost] of view.byVnidHost) {
      const members = (view.byVnid.get(vnid) ?? []).filter(healthy);
      for (const [srcHost, senders] of perHost) {
        if (view.isImpaired(srcHost)) continue;
        const sender = senders[0]!;
        const also = senders.length - 1;
        for (const target of members) {
          if (senders.length === 1 && target === sender) continue;
          result.walks++;
          const w = target.ips.length > 0
            ? walkUnicast(view, srcHost, vnid, target.ips[0]!, target)
            : { ...walkFrame(view, srcHost, vnid, target.mac, [], target), path: [] };
          if (w.missed) result.misses++;
          if (!w.delivered.includes(target)) {
            report({
              kind: 'reach', from: sender.name, to: target.name, alsoFrom: also, entry: w.fault,
              message: `${sender.name} (${srcHost}) does not reach ${target.name} (${target.host}) in ${target.network}` +
                (w.fault ? `: ${describeEntry(w.fault)}` : ''),
            });
          }
        }
        const b = walkBroadcast(view, srcHost, vnid);
        const missingHosts = new Map<string, SimEndpoint>();
        for (const target of members) if (!b.reached.has(target) && !missingHosts.has(target.host)) missingHosts.set(target.host, target);
        for (const [h, target] of missingHosts) {
          const want = view.hosts.get(h)?.underlay ?? '';
          const entry: Fault = { host: srcHost, vnid, table: 'flood', key: want, have: '', want, why: `${h} carries ${target.name}` };
          report({
            kind: 'broadcast', from: sender.name, to: target.name, alsoFrom: also, entry,
            message: `broadcast from ${sender.name} (${srcHost}) in ${target.network} does not reach ${target.name} (${h}): ${describeEntry(entry)}`,
          });
        }
        for (const f of b.bad) if (!view.isImpaired(view.hostByUnderlay.get(f.key)?.name ?? '')) report({ kind: 'broadcast', from: sender.name, entry: f, message: `broadcast from ${sender.name} (${srcHost}): ${describeEntry(f)}` });
        for (let i = 0; i < samples && all.length > members.length; i++) {
          const other = rng.pick(all);
          if (other.vnid === vnid) continue;
          result.walks++;
          isolationWalk(view, sender, other, report);
        }
      }
    }
  }
  for (const pair of options.reach ?? []) {
    const from = view.byName.get(pair.from);
    const to = view.byName.get(pair.to);
    if (!from || !to) {
      report({ kind: 'reach', from: pair.from, to: pair.to, message: `line ${pair.where.line}: ${!from ? pair.from : pair.to} does not exist now` });
      continue;
    }
    result.walks++;
    const w = to.ips.length > 0 ? walkUnicast(view, from.host, from.vnid, to.ips[0]!, to) : { ...walkFrame(view, from.host, from.vnid, to.mac, [], to), path: [] };
    if (w.missed) result.misses++;
    if (from.vnid !== to.vnid || !w.delivered.includes(to)) {
      report({
        kind: 'reach', from: from.name, to: to.name, entry: w.fault,
        message: `line ${pair.where.line}: ${from.name} (${from.host}, ${from.network}) does not reach ${to.name} (${to.host}, ${to.network})` +
          (from.vnid !== to.vnid ? ': they are in different networks' : w.fault ? `: ${describeEntry(w.fault)}` : ''),
      });
    }
  }
  for (const pair of options.isolated ?? []) {
    const from = view.byName.get(pair.from);
    const to = view.byName.get(pair.to);
    if (!from || !to) continue; // an absent endpoint is isolated
    result.walks++;
    isolationWalk(view, from, to, report, pair.where.line);
  }
  if (options.audit !== false) {
    for (const host of view.hosts.values()) {
      if (host.impaired !== undefined) continue;
      for (const d of diffHost(view, host.name, 20)) report({ kind: 'table', entry: d, message: `table: ${formatDiff(d)}` });
    }
  }
  return result;
}

/** `from` must not reach `to`: neither by `to`'s address resolved in from's network, nor by a frame
 * sent straight to `to`'s MAC. */
function isolationWalk(view: FabricView, from: SimEndpoint, to: SimEndpoint, report: (v: Violation) => void, line?: number): void {
  if (!from || view.isImpaired(from.host) && line === undefined) return;
  const ways: Array<{ how: string; delivered: SimEndpoint[]; path: string[] }> = [];
  if (to.ips.length > 0) {
    const w = walkUnicast(view, from.host, from.vnid, to.ips[0]!, to);
    ways.push({ how: `by address ${to.ips[0]}`, delivered: w.delivered, path: w.path });
  }
  const path: string[] = [];
  ways.push({ how: `by MAC ${to.mac}`, delivered: walkFrame(view, from.host, from.vnid, to.mac, path).delivered, path });
  for (const w of ways) {
    if (!w.delivered.includes(to)) continue;
    report({
      kind: 'isolation', from: from.name, to: to.name,
      message: `${line === undefined ? '' : `line ${line}: `}${from.name} (${from.network}) reaches ${to.name} (${to.network}) ${w.how}: ${w.path.join('; ')}`,
    });
    return;
  }
}
