// The agent's hold on its state directory, `<state-dir>/agent.lock`: a file holding the running
// agent's pid, created exclusively before the agent writes anything there. A second agent on the
// same directory finds it, sees that pid alive, and refuses (it must not overwrite the first one's
// identity file, nor remove its control socket when it exits). A lock whose pid is dead (a
// killed agent, a reboot with a persistent directory) is taken over.
//
// Liveness is `kill(pid, 0)`: EPERM counts as alive (another user's process). A pid reused by an
// unrelated process after a crash reads as alive too; the operator then removes the file, which
// the refusal names. Two agents taking over one stale lock in the same instant both unlink and
// re-create it; each then re-reads the file and only the one whose pid is in it goes on.

import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { VxfabError } from '../model/errors.js';

export const LOCK_FILE = 'agent.lock';

export interface StateLock {
  readonly path: string;
  /** Removes the lock file if it is still ours. */
  release(): Promise<void>;
}

/** Takes `<stateDir>/agent.lock` for `pid` (default this process). Throws ALREADY_EXISTS
 *  ("agent already running, pid N", field state-dir) while another live process holds it. */
export async function lockStateDir(stateDir: string, pid = process.pid): Promise<StateLock> {
  await mkdir(stateDir, { recursive: true });
  const path = join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(`${pid}\n`);
      } finally {
        await fh.close();
      }
      if (await holder(path) !== pid) continue; // lost a take-over race: look again
      return {
        path,
        release: async () => {
          if (await holder(path) === pid) await rm(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let other = await holder(path);
    if (other === undefined) {
      // Perhaps created an instant ago and not written yet: look once more before taking it.
      await new Promise((r) => setTimeout(r, 100));
      other = await holder(path);
    }
    if (other !== undefined && other !== pid && alive(other)) {
      throw new VxfabError('ALREADY_EXISTS', `agent already running, pid ${other} (lock ${path})`, { field: 'state-dir', value: stateDir });
    }
    // Dead, ours from an earlier life, or unreadable (a crash mid-write): take it over.
    await rm(path, { force: true });
  }
  throw new VxfabError('UNAVAILABLE', `cannot take ${path}: it keeps changing under us`, { field: 'state-dir', value: stateDir });
}

async function holder(path: string): Promise<number | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return /^[1-9][0-9]*$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
