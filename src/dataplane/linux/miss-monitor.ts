// Kernel L2/L3 miss notifications, read from a long-lived `ip monitor neigh`. With l2miss/l3miss on
// a VXLAN device the kernel sends RTM_GETNEIGH when a lookup finds nothing; ip prints them as
//   miss 100.64.1.50 dev vx-10 STALE               (l3: no neighbour entry for an ARP/ND request)
//   miss dev vx-10 lladdr 02:00:00:00:00:61 STALE  (l2: no FDB entry and no flood entry for a MAC)
// Every other line (neighbour and FDB changes) is ignored.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { MissEvent, MissListener } from '../dataplane.js';
import { vnidFromVxlanDevice } from '../names.js';
import { canonicalIp } from '../validate.js';

const L3_RE = /^miss ([0-9a-fA-F.:]+) dev (\S+)/;
const L2_RE = /^miss dev (\S+) lladdr ([0-9a-fA-F:]{17})/;

/** The miss event a monitor line carries, or undefined (not a miss, or not one of our devices). */
export function parseMissLine(line: string): MissEvent | undefined {
  const l2 = L2_RE.exec(line);
  if (l2 !== null) {
    const vnid = vnidFromVxlanDevice(l2[1]!);
    return vnid === undefined ? undefined : { vnid, kind: 'l2', mac: l2[2]!.toLowerCase() };
  }
  const l3 = L3_RE.exec(line);
  if (l3 !== null) {
    const vnid = vnidFromVxlanDevice(l3[2]!);
    if (vnid === undefined) return undefined;
    try {
      return { vnid, kind: 'l3', ip: canonicalIp(l3[1]!) };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5000;

/** Runs the monitor while someone listens; restarts it with capped backoff if it dies. */
export class MissMonitor {
  private readonly listeners = new Set<MissListener>();
  private child: ChildProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoff = RESTART_MIN_MS;
  private closed = false;

  constructor(
    private readonly netns: string | undefined,
    private readonly log: Logger,
  ) {}

  subscribe(listener: MissListener): () => void {
    if (this.closed) return () => undefined;
    this.listeners.add(listener);
    if (this.child === undefined && this.restartTimer === undefined) this.start();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.stop();
  }

  private start(): void {
    const args = [...(this.netns !== undefined ? ['-n', this.netns] : []), 'monitor', 'neigh'];
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.backoff = RESTART_MIN_MS;
      const miss = parseMissLine(line);
      if (miss === undefined) return;
      this.log.debug({ miss }, 'kernel miss');
      for (const l of this.listeners) {
        try {
          l(miss);
        } catch (err) {
          this.log.warn({ err }, 'miss listener threw');
        }
      }
    });
    createInterface({ input: child.stderr! }).on('line', (line) => this.log.warn({ line }, 'ip monitor stderr'));
    child.on('error', (err) => this.log.warn({ err: err.message }, 'ip monitor error'));
    child.on('close', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.closed || this.listeners.size === 0) return;
      this.log.warn({ code, signal, retryMs: this.backoff }, 'ip monitor exited; restarting');
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.closed && this.listeners.size > 0) this.start();
      }, this.backoff);
      this.backoff = Math.min(this.backoff * 2, RESTART_MAX_MS);
    });
  }

  private stop(): void {
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    this.child = undefined;
    if (child !== undefined && child.exitCode === null) child.kill();
  }
}
