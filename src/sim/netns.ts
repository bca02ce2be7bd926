// The network namespaces of a `--dataplane linux` topology run, named PREFIX-PID-NAME so that a run
// removes only its own, and namespaces left by a run whose process is gone (a crash, a SIGKILL) are
// removed before a new run starts.
import { execFile } from 'node:child_process';
import { VxfabError } from '../model/errors.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; never rejects. `timeoutMs` bounds it (killed after that). */
export function execCommand(cmd: string, args: string[], timeoutMs = 20_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr: stderr || (err?.message ?? '') });
    });
  });
}

/** `ip ARGS`, failing with INTERNAL and the command line when it fails. */
export async function ipMust(args: string[], what: string): Promise<string> {
  const r = await execCommand('ip', args);
  if (r.code !== 0) throw new VxfabError('INTERNAL', `${what}: ip ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** True while a process with this pid exists (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class NamespaceSet {
  private readonly made = new Set<string>();
  /** Creations under way: cleanup waits for them, or a namespace created while it runs would leak. */
  private readonly creating = new Set<Promise<unknown>>();
  private closing = false;

  constructor(readonly prefix: string) {}

  /** Removes namespaces with this prefix whose run (pid in the name) is gone; returns their names. */
  async cleanStale(): Promise<string[]> {
    const names = (await ipMust(['netns', 'list'], 'list namespaces')).split('\n').map((l) => l.split(' ')[0] ?? '');
    const stale = names.filter((n) => {
      if (!n.startsWith(this.prefix + '-')) return false;
      const pid = Number(n.slice(this.prefix.length + 1).split('-')[0]);
      return !Number.isInteger(pid) || !pidAlive(pid);
    });
    for (const n of stale) await execCommand('ip', ['netns', 'del', n]);
    return stale;
  }

  /** Creates PREFIX-PID-NAME with loopback up. */
  async add(name: string): Promise<string> {
    const full = `${this.prefix}-${process.pid}-${name}`;
    if (this.closing) throw new VxfabError('UNAVAILABLE', `namespace ${full} not created: the run is being cleaned up`);
    this.made.add(full);
    const creation = (async () => {
      await execCommand('ip', ['netns', 'del', full]);
      await ipMust(['netns', 'add', full], `create namespace ${full}`);
    })();
    this.creating.add(creation);
    try {
      await creation;
    } finally {
      this.creating.delete(creation);
    }
    await ipMust(['-n', full, 'link', 'set', 'lo', 'up'], `loopback up in ${full}`);
    return full;
  }

  /** Deletes one namespace made here (its interfaces go with it). Never throws. */
  async remove(full: string): Promise<void> {
    await execCommand('ip', ['netns', 'del', full]);
    this.made.delete(full);
  }

  /** Deletes every namespace made here. Never throws. */
  async cleanup(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.creating]);
    for (const n of this.made) await execCommand('ip', ['netns', 'del', n]);
    this.made.clear();
  }
}
