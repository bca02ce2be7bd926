// Checks LevelDB's own files before LevelDB opens them.
//
// Why: LevelDB (1.20, as classic-level bundles it, without paranoid_checks, which classic-level
// does not expose) recovers a damaged write-ahead log by skipping the bad records and everything
// after them in their 32 KiB block, then converts what is left into a table and deletes the log:
// acknowledged writes vanish and the evidence with them. Table reads do not verify block
// checksums either (verify_checksums is off), so a flipped byte in a table can come back as a
// wrong value. So before each open we read the live files ourselves and check every checksum
// LevelDB wrote:
// - CURRENT names the MANIFEST; the MANIFEST's records (log format) give the live tables (number
//   and size) and the oldest live log number.
// - Every record of every live .log, and of the MANIFEST, has a good CRC-32C. The only damage
//   allowed is a torn tail of the newest log (or the MANIFEST): a record cut short by the end of
//   the file, which is what a crash in the middle of a write leaves. That record was never
//   acknowledged; the revision marker (revision-marker.ts) catches a cut that removed more.
// - Every live table has its recorded size, a good footer, and blocks that tile the file exactly,
//   each with a good CRC: every byte of a table is covered, so any flipped byte is found.
// Any other finding is a VxfabError INTERNAL naming the file (field "file").
//
// Cost: every live file is read once per open (about what LevelDB itself reads to recover).

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VxfabError } from '../model/errors.js';
import { crc32c, unmaskCrc } from './crc32c.js';
import { snappyDecompress } from './snappy.js';

const LOG_BLOCK = 32 * 1024;
const LOG_HEADER = 7;
const enum RecordType { Zero = 0, Full = 1, First = 2, Middle = 3, Last = 4 }
const FOOTER = 48;
const BLOCK_TRAILER = 5; // compression type byte + masked CRC-32C
const TABLE_MAGIC = [0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb]; // 0xdb4775248b80fb57, little-endian

export interface TornTail {
  file: string;
  /** Where the cut record starts. */
  offset: number;
  /** Bytes dropped from there to the end of the file. */
  bytes: number;
}

export interface LevelFilesReport {
  /** Live files checked (0 for a directory LevelDB has not created yet). */
  files: number;
  bytes: number;
  /** At most one: the newest log's, or the MANIFEST's. */
  tornTails: TornTail[];
}

function damaged(file: string, why: string): VxfabError {
  return new VxfabError('INTERNAL', `file ${JSON.stringify(file)}: LevelDB file is damaged: ${why}; `
    + 'the store will not open with data missing (restore the data dir from a backup)', { field: 'file', value: file });
}

/** Reads a varint (up to 64 bits, as a Number: file numbers and sizes stay far below 2^53). */
class Cursor {
  constructor(readonly bytes: Uint8Array, public pos = 0, readonly end = bytes.length) {}

  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.end) throw new Error('varint past the end');
      const b = this.bytes[this.pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
    throw new Error('varint too long');
  }

  slice(n: number): Uint8Array {
    if (n > this.end - this.pos) throw new Error('slice past the end');
    const s = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  lengthPrefixed(): Uint8Array {
    return this.slice(this.varint());
  }
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/**
 * The logical records of a file in LevelDB's log format, every CRC checked. A torn tail (the
 * last record cut by the end of the file) is returned, not thrown, when `tornAllowed`.
 */
export function readLogRecords(file: string, bytes: Uint8Array, tornAllowed: boolean): { records: Uint8Array[]; torn?: TornTail } {
  const records: Uint8Array[] = [];
  let pending: Uint8Array[] | undefined; // fragments of a record begun with First
  let pendingStart = 0;
  let pos = 0;
  const torn = (offset: number): { records: Uint8Array[]; torn?: TornTail } => {
    const tail = { file, offset, bytes: bytes.length - offset };
    if (!tornAllowed) throw damaged(file, `${tail.bytes} bytes at offset ${offset} end in a cut record, and this is not the newest log`);
    return { records, torn: tail };
  };
  while (pos < bytes.length) {
    const blockLeft = LOG_BLOCK - (pos % LOG_BLOCK);
    if (blockLeft < LOG_HEADER) {
      // The writer pads a block's last few bytes with zeros.
      const padEnd = Math.min(pos + blockLeft, bytes.length);
      for (let i = pos; i < padEnd; i++) if (bytes[i] !== 0) throw damaged(file, `non-zero block padding at offset ${i}`);
      pos = padEnd;
      continue;
    }
    if (bytes.length - pos < LOG_HEADER) return torn(pending ? pendingStart : pos);
    const length = bytes[pos + 4]! | (bytes[pos + 5]! << 8);
    const type = bytes[pos + 6]!;
    if (LOG_HEADER + length > blockLeft) throw damaged(file, `record at offset ${pos} claims ${length} bytes, more than its block holds`);
    if (pos + LOG_HEADER + length > bytes.length) return torn(pending ? pendingStart : pos);
    if (type === RecordType.Zero && length === 0) {
      // LevelDB skips such records (mmap'd writers preallocated zeros): allowed only as all-zero block rest.
      const restEnd = Math.min(pos + blockLeft, bytes.length);
      for (let i = pos; i < restEnd; i++) if (bytes[i] !== 0) throw damaged(file, `zero record header followed by data at offset ${pos}`);
      pos = restEnd;
      continue;
    }
    const expected = unmaskCrc(u32(bytes, pos));
    const actual = crc32c(bytes, pos + 6, pos + LOG_HEADER + length);
    if (expected !== actual) throw damaged(file, `record at offset ${pos} fails its checksum`);
    const payload = bytes.subarray(pos + LOG_HEADER, pos + LOG_HEADER + length);
    const at = pos;
    pos += LOG_HEADER + length;
    switch (type) {
      case RecordType.Full:
        if (pending) throw damaged(file, `record at offset ${pendingStart} has no end`);
        records.push(payload);
        break;
      case RecordType.First:
        if (pending) throw damaged(file, `record at offset ${pendingStart} has no end`);
        pending = [payload];
        pendingStart = at;
        break;
      case RecordType.Middle:
      case RecordType.Last:
        if (!pending) throw damaged(file, `record fragment at offset ${at} has no start`);
        pending.push(payload);
        if (type === RecordType.Last) {
          records.push(Buffer.concat(pending));
          pending = undefined;
        }
        break;
      default:
        throw damaged(file, `record at offset ${at} has unknown type ${type}`);
    }
  }
  if (pending) return torn(pendingStart);
  return { records };
}

interface Manifest {
  logNumber: number;
  prevLogNumber: number;
  /** Live table number → size in bytes. */
  tables: Map<number, number>;
}

/** Applies the MANIFEST's version edits (db/version_edit.cc) to learn the live files. */
function readManifest(file: string, records: Uint8Array[]): Manifest {
  const manifest: Manifest = { logNumber: 0, prevLogNumber: 0, tables: new Map() };
  for (const [i, record] of records.entries()) {
    const c = new Cursor(record);
    try {
      while (c.pos < c.end) {
        const tag = c.varint();
        switch (tag) {
          case 1: c.lengthPrefixed(); break; // comparator
          case 2: manifest.logNumber = c.varint(); break;
          case 3: c.varint(); break; // next file number
          case 4: c.varint(); break; // last sequence
          case 5: c.varint(); c.lengthPrefixed(); break; // compact pointer: level, key
          case 6: c.varint(); manifest.tables.delete(c.varint()); break; // deleted file: level, number
          case 7: { // new file: level, number, size, smallest, largest
            c.varint();
            const number = c.varint();
            const size = c.varint();
            c.lengthPrefixed();
            c.lengthPrefixed();
            manifest.tables.set(number, size);
            break;
          }
          case 9: manifest.prevLogNumber = c.varint(); break;
          default: throw new Error(`unknown tag ${tag}`);
        }
      }
    } catch (err) {
      throw damaged(file, `version edit ${i + 1} does not parse (${(err as Error).message})`);
    }
  }
  return manifest;
}

interface Handle {
  offset: number;
  size: number;
  what: string;
}

/** Checks a block's trailer CRC and returns its contents, decompressed (none for a data block). */
function readBlock(file: string, bytes: Uint8Array, h: Handle, contentsNeeded = true): Uint8Array {
  const end = h.offset + h.size;
  if (end + BLOCK_TRAILER > bytes.length - FOOTER) throw damaged(file, `${h.what} at ${h.offset}+${h.size} runs past the table's data`);
  if (unmaskCrc(u32(bytes, end + 1)) !== crc32c(bytes, h.offset, end + 1)) {
    throw damaged(file, `${h.what} at offset ${h.offset} fails its checksum`);
  }
  const contents = bytes.subarray(h.offset, end);
  const type = bytes[end]!;
  // The CRC covers the stored bytes: a block that matches it is what LevelDB wrote.
  if (type === 0 || (type === 1 && !contentsNeeded)) return contents;
  if (type === 1) {
    try {
      return snappyDecompress(contents);
    } catch (err) {
      throw damaged(file, `${h.what} at offset ${h.offset} does not decompress (${(err as Error).message})`);
    }
  }
  throw damaged(file, `${h.what} at offset ${h.offset} has unknown compression ${type}`);
}

/** The block handles that are the values of a block's entries (an index or metaindex block). */
function handlesIn(file: string, contents: Uint8Array, what: string, kind: string): Handle[] {
  try {
    if (contents.length < 4) throw new Error('too short');
    const restarts = u32(contents, contents.length - 4);
    const entriesEnd = contents.length - 4 - 4 * restarts;
    if (restarts < 1 || entriesEnd < 0) throw new Error(`bad restart count ${restarts}`);
    const c = new Cursor(contents, 0, entriesEnd);
    const handles: Handle[] = [];
    while (c.pos < entriesEnd) {
      c.varint(); // shared key bytes
      const unshared = c.varint();
      const valueLength = c.varint();
      c.slice(unshared);
      const value = new Cursor(c.slice(valueLength));
      handles.push({ offset: value.varint(), size: value.varint(), what: kind });
    }
    return handles;
  } catch (err) {
    if (err instanceof VxfabError) throw err;
    throw damaged(file, `${what} does not parse (${(err as Error).message})`);
  }
}

/** Verifies a whole table: footer, index, and that CRC-checked blocks tile the file. */
export function verifyTable(file: string, bytes: Uint8Array): void {
  if (bytes.length < FOOTER) throw damaged(file, `${bytes.length} bytes is shorter than a table footer`);
  const footerAt = bytes.length - FOOTER;
  for (let i = 0; i < 8; i++) if (bytes[footerAt + 40 + i] !== TABLE_MAGIC[i]) throw damaged(file, 'bad table magic number');
  const f = new Cursor(bytes, footerAt, footerAt + 40);
  let metaindex: Handle;
  let index: Handle;
  try {
    metaindex = { offset: f.varint(), size: f.varint(), what: 'metaindex block' };
    index = { offset: f.varint(), size: f.varint(), what: 'index block' };
  } catch (err) {
    throw damaged(file, `footer does not parse (${(err as Error).message})`);
  }
  for (let i = f.pos; i < footerAt + 40; i++) if (bytes[i] !== 0) throw damaged(file, `non-zero footer padding at offset ${i}`);
  const data = handlesIn(file, readBlock(file, bytes, index), 'index block', 'data block');
  const meta = handlesIn(file, readBlock(file, bytes, metaindex), 'metaindex block', 'meta block');
  const all = [...data, ...meta, metaindex, index].sort((a, b) => a.offset - b.offset);
  let expected = 0;
  for (const h of all) {
    if (h.offset !== expected) throw damaged(file, `${h.what} starts at ${h.offset}, expected ${expected}`);
    if (h !== index && h !== metaindex) readBlock(file, bytes, h, false);
    expected = h.offset + h.size + BLOCK_TRAILER;
  }
  if (expected !== footerAt) throw damaged(file, `blocks end at ${expected}, the footer starts at ${footerAt}`);
}

async function readOrMissing(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Checks every live LevelDB file in `dir`; throws INTERNAL naming the first damaged one. */
export async function verifyLevelFiles(dir: string): Promise<LevelFilesReport> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { files: 0, bytes: 0, tornTails: [] };
    throw err;
  }
  const numbered = (re: RegExp): Map<number, string> =>
    new Map(names.flatMap((n) => { const m = re.exec(n); return m ? [[Number(m[1]), n] as [number, string]] : []; }));
  const logs = numbered(/^(\d+)\.log$/);
  const tables = new Map([...numbered(/^(\d+)\.sst$/), ...numbered(/^(\d+)\.ldb$/)]);
  const manifests = numbered(/^MANIFEST-(\d+)$/);
  const currentPath = join(dir, 'CURRENT');
  const current = await readOrMissing(currentPath);
  if (current === undefined) {
    if (logs.size + tables.size + manifests.size > 0) throw damaged(currentPath, 'missing, while LevelDB files are present');
    return { files: 0, bytes: 0, tornTails: [] };
  }
  const m = /^(MANIFEST-\d+)\n$/.exec(Buffer.from(current).toString('latin1'));
  if (!m) throw damaged(currentPath, 'does not name a MANIFEST');
  const manifestPath = join(dir, m[1]!);
  const manifestBytes = await readOrMissing(manifestPath);
  if (manifestBytes === undefined) throw damaged(manifestPath, 'missing (CURRENT names it)');
  const manifestRead = readLogRecords(manifestPath, manifestBytes, true);
  const manifest = readManifest(manifestPath, manifestRead.records);
  const tornTails: TornTail[] = manifestRead.torn ? [manifestRead.torn] : [];
  let files = 2;
  let bytes = current.length + manifestBytes.length;

  // The logs LevelDB will replay (db_impl.cc Recover), oldest first; only the newest may be torn.
  const live = [...logs.keys()].filter((n) => n >= manifest.logNumber || n === manifest.prevLogNumber).sort((a, b) => a - b);
  for (const [i, number] of live.entries()) {
    const path = join(dir, logs.get(number)!);
    const content = await readOrMissing(path);
    if (content === undefined) continue; // deleted since the listing: LevelDB would not replay it either
    const { torn } = readLogRecords(path, content, i === live.length - 1);
    if (torn) tornTails.push(torn);
    files++;
    bytes += content.length;
  }
  for (const [number, size] of manifest.tables) {
    const name = tables.get(number);
    const path = join(dir, name ?? `${String(number).padStart(6, '0')}.ldb`);
    const content = name === undefined ? undefined : await readOrMissing(path);
    if (content === undefined) throw damaged(path, 'missing (the MANIFEST lists it)');
    if (content.length !== size) throw damaged(path, `${content.length} bytes, the MANIFEST says ${size}`);
    verifyTable(path, content);
    files++;
    bytes += content.length;
  }
  return { files, bytes, tornTails };
}
