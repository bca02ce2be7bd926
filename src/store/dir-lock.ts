// Who holds a LevelDB directory's LOCK. LevelDB takes a POSIX record lock on <dir>/LOCK; the
// store must know before it reads LevelDB's files itself (leveldb-files.ts), because a live
// writer's files change under the reader. Linux lists every such lock in /proc/locks with the
// holder's pid and the file's device and inode.

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** The pid holding <dir>/LOCK, or undefined when nobody does (or this is not Linux). */
export async function lockHolder(dir: string): Promise<number | undefined> {
  let ino: bigint;
  let dev: bigint;
  let locks: string;
  try {
    const st = await stat(join(dir, 'LOCK'), { bigint: true });
    ino = st.ino;
    dev = st.dev;
    locks = await readFile('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  // Linux's dev_t: major in bits 8..19 (and 32..), minor in bits 0..7 (and 20..31).
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  for (const row of locks.split('\n')) {
    // "1: POSIX  ADVISORY  WRITE 1234 00:2d:5678 0 EOF"
    const m = /^\d+:\s+POSIX\s+\S+\s+\S+\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(row);
    if (m && BigInt(m[4]!) === ino && parseInt(m[2]!, 16) === major && parseInt(m[3]!, 16) === minor) return Number(m[1]);
  }
  return undefined;
}
