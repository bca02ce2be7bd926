// The Linux data plane: kernel VXLAN devices and bridges programmed through two long-lived iproute2
// batch processes (`ip` for links and neighbours, `bridge` for FDB), reads by one-shot JSON commands,
// misses from a long-lived `ip monitor neigh`. See dataplane.ts for the contract, batch.ts for how
// batch errors are found, tables.ts for the exact kernel commands.

import { pino, type Logger } from 'pino';
import { VxfabError, invalid } from '../../model/errors.js';
import type { DataPlane, EnsureOutcome, MissListener, NetworkSpec, NetworkState, TableChanges, Tables } from '../dataplane.js';
import { bridgeDeviceName, checkVnid, vxlanDeviceName } from '../names.js';
import { KeyedSerializer } from '../serial.js';
import { checkSpec, isEmptyChanges, normalizeChanges, type NormalChanges } from '../validate.js';
import { BatchProcess, type LineResults } from './batch.js';
import { isNoDevice, runTool } from './exec.js';
import {
  bridgeCreateLines,
  compareBridge,
  compareVxlan,
  parseLink,
  toNetworkState,
  vxlanCreateLines,
  type LinkJson,
  type VxlanInfo,
} from './link.js';
import { MissMonitor } from './miss-monitor.js';
import { describeLine, fdbDelLines, fdbSetLines, neighLines, parseJsonArray, parseTables, type Line } from './tables.js';

export interface LinuxDataPlaneOptions {
  /** Program the tables of this network namespace instead of the current one. */
  netns?: string;
  logger?: Logger;
}

export class LinuxDataPlane implements DataPlane {
  readonly kind = 'linux' as const;
  private readonly netns: string | undefined;
  private readonly log: Logger;
  private readonly ip: BatchProcess;
  private readonly bridge: BatchProcess;
  private readonly monitor: MissMonitor;
  private readonly serial = new KeyedSerializer<number>();
  private closed = false;

  constructor(opts: LinuxDataPlaneOptions = {}) {
    this.netns = opts.netns;
    this.log = (opts.logger ?? pino({ level: 'warn' })).child({ module: 'dataplane/linux', netns: opts.netns });
    this.ip = new BatchProcess({ tool: 'ip', netns: this.netns, log: this.log });
    this.bridge = new BatchProcess({ tool: 'bridge', netns: this.netns, log: this.log });
    this.monitor = new MissMonitor(this.netns, this.log);
  }

  /** Batch process counters (spawns, deaths, lines), for tests and diagnostics. */
  get batchStats(): { ip: BatchProcess['stats']; bridge: BatchProcess['stats'] } {
    return { ip: this.ip.stats, bridge: this.bridge.stats };
  }

  async ensureNetwork(spec: NetworkSpec): Promise<EnsureOutcome> {
    this.checkOpen();
    const s = checkSpec(spec);
    return this.serial.run(s.vnid, () => this.ensureLocked(s));
  }

  private async ensureLocked(spec: NetworkSpec): Promise<EnsureOutcome> {
    const vxName = vxlanDeviceName(spec.vnid);
    const brName = bridgeDeviceName(spec.vnid);
    const [vx, br] = await Promise.all([this.readLink(vxName), this.readLink(brName)]);
    if (vx !== undefined && vx.kind !== 'vxlan') {
      throw new VxfabError('CONFLICT', `device ${vxName} exists but is a ${vx.kind || 'plain'} device, not vxlan`, { field: 'vnid', value: String(spec.vnid) });
    }
    if (br !== undefined && br.kind !== 'bridge') {
      throw new VxfabError('CONFLICT', `device ${brName} exists but is a ${br.kind || 'plain'} device, not a bridge`, { field: 'vnid', value: String(spec.vnid) });
    }

    const differences: string[] = [];
    const lines: string[] = [];
    let recreated = false;
    if (br === undefined) {
      if (vx !== undefined) differences.push(`bridge ${brName}: missing`);
      lines.push(...bridgeCreateLines(spec.mtu, brName));
    } else {
      for (const d of compareBridge(br, spec.mtu)) {
        differences.push(d.difference);
        lines.push(d.line);
      }
    }
    if (vx === undefined) {
      if (br !== undefined) differences.push(`vxlan ${vxName}: missing`);
      lines.push(...vxlanCreateLines(spec, vxName));
    } else {
      const cmp = compareVxlan(vx, spec);
      if (cmp.recreate.length > 0) {
        recreated = true;
        differences.push(...cmp.recreate, ...cmp.inPlace.map((d) => d.difference));
        lines.push(`link del ${vxName}`, ...vxlanCreateLines(spec, vxName));
      } else {
        for (const d of cmp.inPlace) {
          differences.push(d.difference);
          lines.push(d.line);
        }
      }
    }
    const fresh = vx === undefined || recreated;
    if (fresh || vx?.master !== brName) {
      if (!fresh) differences.push(`vxlan ${vxName} master: have ${vx?.master || 'none'}, want ${brName}`);
      lines.push(`link set ${vxName} master ${brName}`);
    }
    if (fresh || !vx?.up) {
      if (!fresh) differences.push(`vxlan ${vxName} state: have down, want up`);
      lines.push(`link set ${vxName} up`);
    }
    if (br === undefined) lines.push(`link set ${brName} up`);

    const action: EnsureOutcome['action'] =
      vx === undefined && br === undefined ? 'created' : recreated ? 'recreated' : lines.length === 0 ? 'unchanged' : 'updated';
    if (action !== 'unchanged') this.log.info({ vnid: spec.vnid, action, differences }, 'network device changes');
    if (lines.length === 0) return { action, differences };

    const results = await this.ip.run(lines);
    if (fresh) this.renewBatches();
    // After a batch process death, lines are re-run (batch.ts): an add that finds its device, or a
    // delete that does not, already did its work in the first run.
    const failed = results.findIndex((r, i) => r !== undefined && !alreadyDone(lines[i]!, r));
    if (failed >= 0) {
      // Undo what this call created so that a failed ensure leaves no half network behind.
      const undo = [...(vx === undefined || recreated ? [`link del ${vxName}`] : []), ...(br === undefined ? [`link del ${brName}`] : [])];
      if (undo.length > 0) await this.ip.run(undo);
      throw this.linkError(spec, lines[failed]!, results[failed]!);
    }
    return { action, differences };
  }

  private linkError(spec: NetworkSpec, line: string, msg: string): VxfabError {
    if (spec.underlayDev !== undefined && msg.includes(`"${spec.underlayDev}"`) && isNoDevice(msg)) {
      return new VxfabError('NOT_FOUND', `underlayDev ${JSON.stringify(spec.underlayDev)}: no such device`, { field: 'underlayDev', value: spec.underlayDev });
    }
    return new VxfabError('INTERNAL', `network vnid ${spec.vnid}: kernel refused "${line}": ${msg}`, { field: 'vnid', value: String(spec.vnid) });
  }

  async removeNetwork(vnid: number): Promise<void> {
    this.checkOpen();
    checkVnid(vnid);
    return this.serial.run(vnid, async () => {
      const lines = [`link del ${vxlanDeviceName(vnid)}`, `link del ${bridgeDeviceName(vnid)}`];
      const results = await this.ip.run(lines);
      this.renewBatches();
      results.forEach((r, i) => {
        if (r !== undefined && !isNoDevice(r)) {
          throw new VxfabError('INTERNAL', `network vnid ${vnid}: kernel refused "${lines[i]}": ${r}`, { field: 'vnid', value: String(vnid) });
        }
      });
    });
  }

  /** The device names of a network now point at new (or no) devices: the batch processes' name
   *  caches are stale (see BatchProcess.renew). */
  private renewBatches(): void {
    this.ip.renew();
    this.bridge.renew();
  }

  async listNetworks(): Promise<NetworkState[]> {
    this.checkOpen();
    const r = await runTool('ip', this.netns, ['-d', '-j', 'link', 'show', 'type', 'vxlan']);
    if (r.code !== 0) throw new VxfabError('INTERNAL', `ip link show type vxlan failed: ${r.stderr.trim()}`);
    return parseJsonArray<LinkJson>(r.stdout)
      .map((j) => toNetworkState(parseLink(j)))
      .filter((n): n is NetworkState => n !== undefined)
      .sort((a, b) => a.vnid - b.vnid);
  }

  async apply(vnid: number, changes: TableChanges): Promise<void> {
    this.checkOpen();
    checkVnid(vnid);
    const c = normalizeChanges(changes);
    if (isEmptyChanges(c)) return;
    const dev = vxlanDeviceName(vnid);
    return this.serial.run(vnid, async () => {
      // Order and why: see DataPlane.apply.
      await this.runPhase(vnid, c, this.bridge, fdbSetLines(dev, c));
      await this.runPhase(vnid, c, this.ip, neighLines(dev, c));
      await this.runPhase(vnid, c, this.bridge, fdbDelLines(dev, c));
    });
  }

  private async runPhase(vnid: number, c: NormalChanges, proc: BatchProcess, lines: Line[]): Promise<void> {
    if (lines.length === 0) return;
    const results: LineResults = await proc.run(lines.map((l) => l.text));
    let first: VxfabError | undefined;
    let failures = 0;
    results.forEach((msg, i) => {
      const line = lines[i]!;
      if (msg === undefined || line.okIf?.test(msg) === true) return;
      failures++;
      this.log.debug({ vnid, line: line.text, msg }, 'kernel refused line');
      first ??= this.entryError(vnid, line, describeLine(c, line), msg);
    });
    if (first !== undefined) {
      if (failures > 1) first.message += ` (and ${failures - 1} more failed lines)`;
      throw first;
    }
  }

  private entryError(vnid: number, line: Line, at: { field: string; value: string }, msg: string): VxfabError {
    const dev = vxlanDeviceName(vnid);
    if (isNoDevice(msg) && msg.includes(`"${dev}"`)) {
      return new VxfabError('NOT_FOUND', `vnid ${vnid}: network not present on this host (no device ${dev})`, { field: 'vnid', value: String(vnid) });
    }
    if (/Address family not supported/.test(msg)) {
      return invalid(at.field, at.value, `the kernel refused it for ${dev}: ${msg} (dst of another address family than the network's local?)`);
    }
    return new VxfabError('INTERNAL', `${at.field} ${JSON.stringify(at.value)}: kernel refused "${line.text}": ${msg}`, at);
  }

  async read(vnid: number): Promise<Tables> {
    this.checkOpen();
    const dev = vxlanDeviceName(vnid);
    const [fdb, neigh] = await Promise.all([
      runTool('bridge', this.netns, ['-j', 'fdb', 'show', 'dev', dev]),
      runTool('ip', this.netns, ['-j', 'neigh', 'show', 'dev', dev, 'nud', 'permanent']),
    ]);
    for (const r of [fdb, neigh]) {
      if (r.code === 0) continue;
      if (isNoDevice(r.stderr)) {
        throw new VxfabError('NOT_FOUND', `vnid ${vnid}: network not present on this host (no device ${dev})`, { field: 'vnid', value: String(vnid) });
      }
      throw new VxfabError('INTERNAL', `reading tables of ${dev} failed: ${r.stderr.trim()}`, { field: 'vnid', value: String(vnid) });
    }
    return parseTables(fdb.stdout, neigh.stdout);
  }

  onMiss(listener: MissListener): () => void {
    if (this.closed) return () => undefined;
    return this.monitor.subscribe(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.monitor.close();
    await Promise.all([this.ip.close(), this.bridge.close()]);
  }

  private async readLink(name: string): Promise<VxlanInfo | undefined> {
    const r = await runTool('ip', this.netns, ['-d', '-j', 'link', 'show', 'dev', name]);
    if (r.code !== 0) {
      if (isNoDevice(r.stderr)) return undefined;
      throw new VxfabError('INTERNAL', `ip link show dev ${name} failed: ${r.stderr.trim()}`);
    }
    const [j] = parseJsonArray<LinkJson>(r.stdout);
    return j === undefined ? undefined : parseLink(j);
  }

  private checkOpen(): void {
    if (this.closed) throw new VxfabError('UNAVAILABLE', 'data plane is closed');
  }
}

function alreadyDone(line: string, msg: string): boolean {
  if (line.startsWith('link add ')) return /File exists/.test(msg);
  if (line.startsWith('link del ')) return isNoDevice(msg);
  return false;
}
