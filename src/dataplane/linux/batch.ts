// A long-lived `ip -force -batch -` or `bridge -force -batch -` process fed on stdin.
//
// One process per tool for the life of the data plane: spawning a process per entry is ~100× slower.
// Finding out what happened, with everything on stderr (one ordered stream):
// - `-force` keeps going after a failed line and prints the kernel's reason, then
//   "Command failed -:N" (N = line number since the process started);
// - after each chunk of lines we write a sentinel that always fails the same way (`link show` of a
//   name longer than IFNAMSIZ, which no device can have), so "Command failed -:S" for the sentinel's
//   line S says that every line before it is done; failures seen before it belong to those lines.
// - Some failures are not reported but fatal: iproute2 calls exit() on a kernel error in `ip neigh`
//   add/replace/del and on a few argument errors, even with -force. When the process dies, the lines
//   of the chunk that was running are re-run one chunk per line in a fresh process (all our commands
//   are idempotent), so the line that kills it is found, reported failed with the last stderr text,
//   and the others are applied. A probe sentinel first in each fresh process tells "the process
//   cannot start" (e.g. missing namespace) from "a line killed it", so a bad start fails the batch
//   instead of respawning per line.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { VxfabError } from '../../model/errors.js';

export type Tool = 'ip' | 'bridge';

/** Per input line: undefined when it succeeded, else the tool's error text. */
export type LineResults = Array<string | undefined>;

const SENTINEL_DEV = 'vxfab-sentinel-not-a-device';
const SENTINEL: Record<Tool, string> = {
  ip: `link show dev ${SENTINEL_DEV}`,
  bridge: `link show dev ${SENTINEL_DEV}`,
};
const FAILED_RE = /^Command failed -:(\d+)$/;

interface Batch {
  lines: string[];
  results: LineResults;
  remaining: number;
  resolve: (r: LineResults) => void;
  reject: (e: Error) => void;
}

/** Lines of one batch written together and followed by one sentinel. `batch` undefined: the probe. */
interface Chunk {
  batch: Batch | undefined;
  indexes: number[];
  first: number;
  sentinel: number;
  errors: Map<number, string>;
}

export interface BatchProcessOptions {
  tool: Tool;
  /** Run inside this network namespace (`ip -n NS`). */
  netns?: string;
  log: Logger;
}

export class BatchProcess {
  private readonly tool: Tool;
  private readonly netns: string | undefined;
  private readonly log: Logger;
  private child: ChildProcess | undefined;
  private lineNo = 0;
  private inflight: Chunk[] = [];
  private stderrLines: string[] = [];
  private started = false;
  private closing = false;
  private renewPending = false;
  private closedPromise: Promise<void> | undefined;
  /** Counters for tests and logs. */
  readonly stats = { spawns: 0, deaths: 0, lines: 0 };

  constructor(opts: BatchProcessOptions) {
    this.tool = opts.tool;
    this.netns = opts.netns;
    this.log = opts.log;
  }

  /** Runs the lines in order and resolves with one result per line. Rejects only when the tool
   * cannot run at all (UNAVAILABLE). Lines must not contain newlines. */
  run(lines: string[]): Promise<LineResults> {
    if (this.closing) return Promise.reject(new VxfabError('UNAVAILABLE', `${this.tool} batch process is closed`));
    if (lines.length === 0) return Promise.resolve([]);
    for (const l of lines) {
      if (l.includes('\n') || l.includes('\r')) throw new VxfabError('INTERNAL', `batch line contains a newline: ${JSON.stringify(l)}`);
    }
    return new Promise<LineResults>((resolve, reject) => {
      const batch: Batch = { lines, results: new Array(lines.length), remaining: lines.length, resolve, reject };
      this.write([newChunk(batch, lines.map((_, i) => i))]);
    });
  }

  /** Ends stdin and waits for the process to exit; lines already written complete first. */
  close(): Promise<void> {
    this.closing = true;
    if (this.closedPromise !== undefined) return this.closedPromise;
    const child = this.child;
    if (child === undefined) return (this.closedPromise = Promise.resolve());
    this.closedPromise = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.stdin?.end();
    return this.closedPromise;
  }

  /**
   * Asks for a fresh process before the next lines. iproute2 caches device name → ifindex for the
   * life of a process, so after a device was deleted and created again under the same name, a
   * long-lived batch process would write to the old index ("unknown ifindex"). The current process
   * is retired as soon as it has nothing in flight (its lines already written complete first).
   */
  renew(): void {
    this.renewPending = true;
  }

  private write(chunks: Chunk[]): void {
    if (this.renewPending && this.inflight.length === 0 && this.child !== undefined) {
      const old = this.child;
      this.child = undefined;
      old.stdin?.end();
    }
    if (this.inflight.length === 0) this.renewPending = false;
    const child = this.ensureChild();
    let text = '';
    for (const c of chunks) {
      c.first = this.lineNo + 1;
      if (c.batch !== undefined) for (const i of c.indexes) text += c.batch.lines[i] + '\n';
      this.lineNo += c.indexes.length;
      text += SENTINEL[this.tool] + '\n';
      c.sentinel = ++this.lineNo;
      this.stats.lines += c.indexes.length;
      this.inflight.push(c);
    }
    child.stdin?.write(text);
  }

  private ensureChild(): ChildProcess {
    if (this.child !== undefined) return this.child;
    const args = [...(this.netns !== undefined ? ['-n', this.netns] : []), '-force', '-batch', '-'];
    const child = spawn(this.tool, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.stats.spawns++;
    this.log.debug({ tool: this.tool, args }, 'spawned batch process');
    this.child = child;
    this.lineNo = 0;
    this.started = false;
    this.stderrLines = [];
    child.stdin?.on('error', () => undefined); // EPIPE when it dies: handled on 'close'
    createInterface({ input: child.stderr! }).on('line', (line) => this.onStderr(line));
    child.on('error', (err) => {
      this.log.warn({ tool: this.tool, err: err.message }, 'batch process error');
      if (child.pid === undefined) {
        // Spawn failed (e.g. the tool is not installed): 'close' may never come.
        this.stderrLines.push(err.message);
        this.onClose(child, null, null);
      }
    });
    child.on('close', (code, signal) => this.onClose(child, code, signal));
    // The probe: proves the process runs before any line is blamed for killing it.
    const probe = newChunk(undefined, []);
    probe.first = 1;
    probe.sentinel = ++this.lineNo;
    this.inflight.push(probe);
    child.stdin?.write(SENTINEL[this.tool] + '\n');
    return child;
  }

  private onStderr(line: string): void {
    const m = FAILED_RE.exec(line);
    if (m === null) {
      this.stderrLines.push(line.trim());
      return;
    }
    const n = Number(m[1]);
    const msg = this.stderrLines.join('; ') || 'failed';
    this.stderrLines = [];
    const head = this.inflight[0];
    if (head === undefined) {
      this.log.warn({ tool: this.tool, line: n, msg }, 'failure report with nothing in flight');
      return;
    }
    if (n === head.sentinel) {
      this.inflight.shift();
      if (head.batch === undefined) this.started = true;
      this.complete(head);
    } else if (n >= head.first && n < head.sentinel) {
      head.errors.set(n - head.first, msg);
    } else {
      this.log.warn({ tool: this.tool, line: n, head: head.sentinel, msg }, 'failure report out of order');
    }
  }

  private complete(c: Chunk): void {
    const b = c.batch;
    if (b === undefined) return;
    c.indexes.forEach((idx, k) => {
      b.results[idx] = c.errors.get(k);
      b.remaining--;
    });
    if (b.remaining === 0) b.resolve(b.results);
  }

  private onClose(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    const pending = this.inflight;
    this.inflight = [];
    const reason = this.stderrLines.join('; ') || `${this.tool} exited with code ${code} signal ${signal}`;
    this.stderrLines = [];
    if (pending.length === 0) return; // idle exit (close, or killed): respawn on the next run
    this.stats.deaths++;
    const wasStarted = this.started;
    if (this.closing || !wasStarted) {
      // Cannot run at all: fail every waiting batch rather than respawn once per line.
      const err = new VxfabError('UNAVAILABLE', `${this.tool} batch process ${this.closing ? 'closed' : 'cannot start'}: ${reason}`);
      const failed = new Set<Batch>();
      for (const c of pending) if (c.batch !== undefined) failed.add(c.batch);
      for (const b of failed) b.reject(err);
      this.log.error({ tool: this.tool, netns: this.netns, reason }, 'batch process failed');
      return;
    }
    const [head, ...rest] = pending as [Chunk, ...Chunk[]];
    this.log.debug({ tool: this.tool, reason, lines: head.indexes.length }, 'batch process died; re-running line by line');
    const again: Chunk[] = [];
    if (head.indexes.length === 1) {
      head.errors.clear();
      head.errors.set(0, reason);
      this.complete(head);
    } else {
      for (const idx of head.indexes) again.push(newChunk(head.batch, [idx]));
    }
    for (const c of rest) {
      c.errors.clear();
      if (c.batch !== undefined) again.push(c);
    }
    if (again.length > 0) this.write(again);
  }
}

function newChunk(batch: Batch | undefined, indexes: number[]): Chunk {
  return { batch, indexes, first: 0, sentinel: 0, errors: new Map() };
}
