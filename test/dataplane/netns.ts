// Network namespaces for tests and benchmarks: named PREFIX-PID-NAME so that a run removes only its
// own, and a stale one (its pid no longer alive, left by a crashed run) is removed before a new run.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pidAlive } from '../../src/sim/netns.js';

const run = promisify(execFile);

export async function sh(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await run(cmd, args, { encoding: 'utf8' });
  return stdout;
}

/** Why namespace tests cannot run here, or undefined when they can. */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, veth, vxlan); run as root to include these tests';
  const probe = `vxt-probe-${process.pid}`;
  try {
    await sh('ip', ['netns', 'add', probe]);
    await sh('ip', ['netns', 'del', probe]);
  } catch (err) {
    return `cannot create network namespaces here: ${(err as Error).message}`;
  }
  return undefined;
}

export class Namespaces {
  private readonly made = new Set<string>();

  constructor(private readonly prefix: string) {}

  /** Removes namespaces with this prefix left by runs whose process is gone. */
  async cleanStale(): Promise<string[]> {
    const names = (await sh('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0] ?? '');
    const stale = names.filter((n) => {
      if (!n.startsWith(this.prefix + '-')) return false;
      const pid = Number(n.slice(this.prefix.length + 1).split('-')[0]);
      return !Number.isInteger(pid) || !pidAlive(pid);
    });
    for (const n of stale) await sh('ip', ['netns', 'del', n]).catch(() => undefined);
    return stale;
  }

  async add(name: string): Promise<string> {
    const full = `${this.prefix}-${process.pid}-${name}`;
    await sh('ip', ['netns', 'del', full]).catch(() => undefined);
    await sh('ip', ['netns', 'add', full]);
    this.made.add(full);
    await sh('ip', ['-n', full, 'link', 'set', 'lo', 'up']);
    return full;
  }

  /** `ip -n NS …` */
  ip(ns: string, ...args: string[]): Promise<string> {
    return sh('ip', ['-n', ns, ...args]);
  }

  /** Deletes every namespace this object made (their veths go with them). Never throws. */
  async cleanup(): Promise<void> {
    for (const n of this.made) await sh('ip', ['netns', 'del', n]).catch(() => undefined);
    this.made.clear();
  }
}

/** A namespace with a veth underlay at 198.18.0.1/24 (`u0`; the peer `u1` stays in the namespace). */
export async function underlayHost(nss: Namespaces, name: string, addr = '198.18.0.1/24'): Promise<string> {
  const ns = await nss.add(name);
  await nss.ip(ns, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1');
  await nss.ip(ns, 'addr', 'add', addr, 'dev', 'u0');
  await nss.ip(ns, 'link', 'set', 'u0', 'up');
  await nss.ip(ns, 'link', 'set', 'u1', 'up');
  return ns;
}
