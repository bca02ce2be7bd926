// The probe harness of the on-demand latency rows in the data-plane bench, shared by the baseline
// (a responder that installs the entry itself) and the agent (the real on-demand path), so that the
// two rows differ only in what answers the miss.
//
// A prober endpoint sits in its own namespace behind a veth whose other end is a port of the
// network's bridge (what `vxfab endpoint attach` builds). For each probe it sends one UDP datagram
// to an overlay IP nobody has resolved yet: its ARP request crosses the bridge to the VXLAN device,
// whose proxy finds no neighbour entry and raises an l3 miss. The prober prints the send time on
// CLOCK_MONOTONIC (process.hrtime); the bench process stamps the miss event and the moment the
// entry's write returned on the same clock (InstallWatch), so "packet sent → entry installed" is one
// clock end to end. Probes are bounded in count and time; one probe is in flight at a time.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { bridgeDeviceName } from '../src/dataplane/names.js';
import type { Namespaces } from '../test/dataplane/netns.js';

/** Reads IPs on stdin, sends one UDP datagram to each, prints "IP SEND_TIME_NS". */
const PROBER = `
const s = require('dgram').createSocket('udp4');
require('readline').createInterface({ input: process.stdin }).on('line', (ip) => {
  const t = process.hrtime.bigint();
  s.send('x', 9, ip, () => process.stdout.write(ip + ' ' + t + '\\n'));
}).on('close', () => s.close());
`;

/** When each IP's miss was seen and its entry written, on the bench process's monotonic clock. */
export class InstallWatch {
  private readonly missAt = new Map<string, bigint>();
  private readonly installedAt = new Map<string, bigint>();
  private readonly waiting = new Map<string, () => void>();

  /** The first miss for `ip` (the kernel repeats misses; later ones do not move the stamp). */
  missed(ip: string): void {
    if (!this.missAt.has(ip)) this.missAt.set(ip, process.hrtime.bigint());
  }

  /** The write carrying `ip`'s neighbour entry returned. */
  installed(ip: string): void {
    if (this.installedAt.has(ip)) return;
    this.installedAt.set(ip, process.hrtime.bigint());
    this.waiting.get(ip)?.();
  }

  /** Resolves with the install time once `ip` is installed, or undefined after timeoutMs. */
  wait(ip: string, timeoutMs: number): Promise<{ missAt: bigint | undefined; installedAt: bigint } | undefined> {
    const done = (): { missAt: bigint | undefined; installedAt: bigint } => ({ missAt: this.missAt.get(ip), installedAt: this.installedAt.get(ip)! });
    if (this.installedAt.has(ip)) return Promise.resolve(done());
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(ip);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(ip, () => {
        clearTimeout(timer);
        this.waiting.delete(ip);
        resolve(done());
      });
    });
  }
}

export class ProberEndpoint {
  private readonly sent = new Map<string, (t: bigint) => void>();

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const [ip, t] = l.split(' ');
      this.sent.get(ip!)?.(BigInt(t!));
    });
  }

  /**
   * A namespace `name` plugged into `vnid`'s bridge in `hostNs`, with `cidr` (and `mac`, when given)
   * on its interface, running the prober. IPv6 is off there, so no router solicitation or DAD
   * frame reaches the VXLAN device as an unrelated miss.
   */
  static async attach(nss: Namespaces, hostNs: string, name: string, vnid: number, cidr: string, mac?: string): Promise<ProberEndpoint> {
    const ns = await nss.add(name);
    await nss.ip(ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'pv0', 'netns', hostNs);
    await nss.ip(hostNs, 'link', 'set', 'pv0', 'master', bridgeDeviceName(vnid), 'up');
    await sysctl(ns, 'net.ipv6.conf.all.disable_ipv6=1');
    await sysctl(ns, 'net.ipv6.conf.default.disable_ipv6=1');
    if (mac !== undefined) await nss.ip(ns, 'link', 'set', 'eth0', 'address', mac);
    await nss.ip(ns, 'addr', 'add', cidr, 'dev', 'eth0');
    await nss.ip(ns, 'link', 'set', 'eth0', 'up');
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', PROBER], { stdio: ['pipe', 'pipe', 'inherit'] });
    return new ProberEndpoint(child);
  }

  /** Sends one datagram to `ip`; resolves with its send time, or undefined after timeoutMs. */
  send(ip: string, timeoutMs: number): Promise<bigint | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sent.delete(ip);
        resolve(undefined);
      }, timeoutMs);
      this.sent.set(ip, (t) => {
        clearTimeout(timer);
        this.sent.delete(ip);
        resolve(t);
      });
      this.child.stdin!.write(ip + '\n');
    });
  }

  stop(): void {
    this.child.stdin?.end();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
  }
}

function sysctl(ns: string, setting: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', ns, 'sysctl', '-qw', setting], { stdio: 'ignore' });
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`sysctl -w ${setting} in ${ns}: exit ${code}`))));
  });
}

export interface MissSamples {
  /** packet sent → entry installed, ms. */
  total: number[];
  /** miss event received → entry installed, ms. */
  handler: number[];
  probes: number;
  lost: number;
}

/** One probe: send, wait for the install; the sample, or undefined when it did not happen in time. */
async function probe(prober: ProberEndpoint, watch: InstallWatch, ip: string, timeoutMs: number): Promise<{ total: number; handler: number } | undefined> {
  const [t0, done] = await Promise.all([prober.send(ip, timeoutMs), watch.wait(ip, timeoutMs)]);
  if (t0 === undefined || done === undefined || done.missAt === undefined) return undefined;
  return { total: Number(done.installedAt - t0) / 1e6, handler: Number(done.installedAt - done.missAt) / 1e6 };
}

/**
 * Warms up (until one probe of `warm` is answered: the miss monitor and the answering path are
 * running; no warm-up when `warm` is empty), then probes each of `ips` once, in order.
 */
export async function measureMisses(prober: ProberEndpoint, watch: InstallWatch, warm: string[], ips: string[], timeoutMs = 500): Promise<MissSamples> {
  let ready = warm.length === 0;
  for (const ip of warm) {
    if ((await probe(prober, watch, ip, 250)) !== undefined) {
      ready = true;
      break;
    }
  }
  if (!ready) throw new Error(`no miss answered while warming up (${warm.length} probes)`);
  const out: MissSamples = { total: [], handler: [], probes: ips.length, lost: 0 };
  for (const ip of ips) {
    const r = await probe(prober, watch, ip, timeoutMs);
    if (r === undefined) out.lost++;
    else {
      out.total.push(r.total);
      out.handler.push(r.handler);
    }
  }
  return out;
}

export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
