// Real reachability between endpoint namespaces: a bounded ping (`ping -c 1 -W 1`, the whole
// command killed after a few seconds) from the source's namespace to the destination's IPv4
// address, and which MAC answered for that address (the source's neighbour entry after the ping,
// flushed before it). The MAC matters because tenants may use the same addresses: a ping from red
// to blue's 100.64.0.11 is answered by red's own 100.64.0.11, which is not a leak.
import { execCommand } from './netns.js';

/** The interface of every endpoint namespace. */
export const ENDPOINT_IF = 'eth0';

export interface PingResult {
  /** An echo reply came back. */
  answered: boolean;
  /** The MAC the source resolved the address to (whoever answered ARP: an endpoint on the same
   * bridge, or the VXLAN device's proxy), '' when unresolved. */
  mac: string;
  attempts: number;
}

interface NeighJson {
  dst?: string;
  lladdr?: string;
}

async function resolvedMac(ns: string, ip: string): Promise<string> {
  const r = await execCommand('ip', ['-n', ns, '-j', 'neigh', 'show', 'to', ip, 'dev', ENDPOINT_IF], 5000);
  if (r.code !== 0 || r.stdout.trim() === '') return '';
  try {
    const entries = JSON.parse(r.stdout) as NeighJson[];
    return (entries.find((e) => e.dst === ip)?.lladdr ?? '').toLowerCase();
  } catch {
    return '';
  }
}

/** Pings `ip` from namespace `ns` up to `attempts` times (each one echo, 1 s wait), stopping at the
 * first reply. Never takes longer than attempts × ~3 s. */
export async function ping(ns: string, ip: string, attempts: number): Promise<PingResult> {
  let mac = '';
  for (let i = 1; i <= attempts; i++) {
    // A stale neighbour entry would hide who answers now.
    await execCommand('ip', ['-n', ns, 'neigh', 'flush', 'to', ip, 'dev', ENDPOINT_IF], 5000);
    const r = await execCommand('ip', ['netns', 'exec', ns, 'ping', '-n', '-q', '-c', '1', '-W', '1', ip], 3000);
    mac = await resolvedMac(ns, ip);
    if (r.code === 0) return { answered: true, mac, attempts: i };
  }
  return { answered: false, mac, attempts };
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function boundedAll<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Lets an endpoint answer broadcast echo requests (off by default in every namespace). */
export async function answerBroadcastPings(ns: string): Promise<void> {
  await execCommand('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_broadcasts=0'], 5000);
}

/** Broadcast echo requests (to 255.255.255.255 out of the endpoint's interface) for 1 s; returns
 * the addresses that replied. The frames go to ff:ff:ff:ff:ff:ff, so they cross hosts only through
 * the flood entries. */
export async function broadcastPing(ns: string): Promise<Set<string>> {
  const r = await execCommand('ip', ['netns', 'exec', ns, 'ping', '-n', '-b', '-I', ENDPOINT_IF, '-i', '0.2', '-w', '1', '255.255.255.255'], 5000);
  const from = new Set<string>();
  for (const m of r.stdout.matchAll(/bytes from ([0-9.]+):/g)) from.add(m[1]!);
  return from;
}
