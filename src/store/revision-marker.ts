// The acknowledged-revision marker: a small file beside LevelDB's that holds the highest revision
// the store has acknowledged. LevelDB cannot tell a torn log tail (a crash mid-write, never
// acknowledged) from a log cut short by damage: both open quietly with the tail gone. The marker
// can: on open, a store whose revision is below it has lost acknowledged writes.
//
// Cost and guarantee. The marker is rewritten in place (one pwrite of a fixed-width line) after
// every group commit, before any of the group's writes is acknowledged, and fsynced only on
// close. kill -9 keeps the page cache, so after a process crash the marker is exactly the last
// acknowledged revision, and the store (whose log was fsynced first) is at or above it. After a
// power loss the marker may be older than the store's last acknowledged revision: the check is
// weaker then, never wrong. An fsync per commit would double the cost of every write for the
// power-loss case only (measured in docs/controller.md).

import { closeSync, constants, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { VxfabError } from '../model/errors.js';

export const MARKER_FILE = 'VXFAB-ACKED-REVISION';
const DIGITS = 16;
const LINE = /^acknowledged (\d{16})\n$/;

function line(revision: number): Buffer {
  return Buffer.from(`acknowledged ${String(revision).padStart(DIGITS, '0')}\n`, 'latin1');
}

/** The marker's revision, or undefined when there is no marker file. INTERNAL when unreadable. */
export function readMarker(dir: string): number | undefined {
  const path = join(dir, MARKER_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  // Empty: a crash between creating the file and its first write (it is created on first open).
  if (text === '') return undefined;
  const m = LINE.exec(text);
  if (!m) {
    throw new VxfabError('INTERNAL', `file ${JSON.stringify(path)}: the acknowledged-revision marker is damaged (${JSON.stringify(text.slice(0, 40))})`,
      { field: 'file', value: path });
  }
  return Number(m[1]);
}

export class RevisionMarker {
  readonly path: string;
  private fd: number | undefined;

  /** Opens (creating) the marker and sets it to `revision`, durably. */
  constructor(dir: string, revision: number) {
    this.path = join(dir, MARKER_FILE);
    // No O_TRUNC: every write rewrites the same fixed-width line in place, so the file is never
    // seen empty or half written once it holds a line.
    this.fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o644);
    this.record(revision);
    fsyncSync(this.fd);
  }

  /** Records a newly acknowledged revision (page cache only; see the header). */
  record(revision: number): void {
    if (this.fd === undefined) return;
    const bytes = line(revision);
    writeSync(this.fd, bytes, 0, bytes.length, 0);
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      fsyncSync(this.fd);
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}
