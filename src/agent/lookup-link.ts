// The agent's link to the lookup service: one server at a time out of several, failing over in
// turn. A lost server is followed at once by an attempt at the next one (after a short jitter, so
// that the agents of a whole data center do not all land on the survivor in the same millisecond);
// once every server has been tried and none answered, the link is "degraded" and further rounds
// wait a jittered exponential backoff (wire/transport/backoff.ts) — no stampede when they come back.
// Degraded changes nothing in the kernel: the agent keeps what it programmed.
// hold() parks the link (no connection, no dialing) until release(): the agent does that while its
// node is deleted from the controller.

import type { Logger } from 'pino';
import { backoffDelay, type BackoffOptions } from '../wire/transport/backoff.js';
import type { LookupConnection, LookupDialer } from './ports.js';

export interface LookupLinkOptions {
  /** Backoff between full rounds of failed attempts. Default { minMs: 200, maxMs: 10000 }. */
  backoff?: BackoffOptions;
}

interface LinkConfig extends LookupLinkOptions {
  addresses: string[];
  dial: LookupDialer;
  log: Logger;
  /** Runs one session on a connected server; resolves or throws when the session is over. */
  session: (conn: LookupConnection) => Promise<void>;
  onState: () => void;
}

export class LookupLink {
  /** Highest revision seen on any server (revisions are the controller's, shared by replicas). */
  revision = 0;
  sessions = 0;
  private conn: LookupConnection | undefined;
  private isDegraded = false;
  private closed = false;
  private running: Promise<void> | undefined;
  private vnidVersion = 0;
  private vnidWaiters: Array<() => void> = [];
  private sleeper: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private lastAddress = '';
  private held = false;
  private holdWaiters: Array<() => void> = [];

  constructor(private readonly c: LinkConfig) {}

  get connected(): boolean {
    return this.conn !== undefined;
  }

  /** The server of the current (or last) session. */
  get address(): string {
    return this.conn?.address ?? this.lastAddress;
  }

  get degraded(): boolean {
    return this.isDegraded;
  }

  get current(): LookupConnection | undefined {
    return this.conn;
  }

  start(): void {
    if (this.running || this.closed) return;
    if (this.c.addresses.length === 0) {
      this.isDegraded = true;
      return;
    }
    this.running = this.loop();
  }

  /** Drops the current connection and dials nothing until release(). */
  async hold(): Promise<void> {
    this.held = true;
    this.wakeVnidWaiters();
    await this.conn?.close();
  }

  release(): void {
    this.held = false;
    const w = this.holdWaiters;
    this.holdWaiters = [];
    for (const f of w) f();
  }

  get onHold(): boolean {
    return this.held;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.release();
    this.wakeVnidWaiters();
    if (this.sleeper) {
      clearTimeout(this.sleeper.timer);
      this.sleeper.wake();
    }
    await this.conn?.close();
    await this.running;
  }

  /** The set of local networks changed: the session resubscribes. */
  vnidsChanged(): void {
    this.vnidVersion++;
    this.wakeVnidWaiters();
  }

  /** Counts vnidsChanged() calls. */
  get vnidsVersion(): number {
    return this.vnidVersion;
  }

  /** Resolves once vnidsVersion differs from `since` (or at close). */
  waitVnidsChanged(since: number): Promise<void> {
    if (this.closed || since !== this.vnidVersion) return Promise.resolve();
    return new Promise((resolve) => this.vnidWaiters.push(resolve));
  }

  private wakeVnidWaiters(): void {
    const w = this.vnidWaiters;
    this.vnidWaiters = [];
    for (const f of w) f();
  }

  private setDegraded(on: boolean): void {
    if (this.isDegraded === on) return;
    this.isDegraded = on;
    this.c.log[on ? 'warn' : 'info']({ servers: this.c.addresses }, on ? 'no lookup server reachable: degraded, keeping programmed entries' : 'lookup reachable again');
    this.c.onState();
  }

  private async loop(): Promise<void> {
    const n = this.c.addresses.length;
    let next = 0;
    let failedInRound = 0;
    let rounds = 0;
    while (!this.closed) {
      if (this.held) {
        await new Promise<void>((resolve) => this.holdWaiters.push(resolve));
        continue;
      }
      const address = this.c.addresses[next % n]!;
      next++;
      let conn: LookupConnection;
      try {
        conn = await this.c.dial(address);
      } catch (e) {
        this.c.log.debug({ address, err: (e as Error).message }, 'lookup dial failed');
        failedInRound++;
        if (failedInRound >= n) {
          failedInRound = 0;
          rounds++;
          this.setDegraded(true);
          await this.sleep(backoffDelay(rounds, { minMs: 200, maxMs: 10_000, ...this.c.backoff }));
        }
        continue;
      }
      if (this.closed || this.held) {
        await conn.close();
        continue;
      }
      failedInRound = 0;
      rounds = 0;
      this.conn = conn;
      this.lastAddress = address;
      this.sessions++;
      this.setDegraded(false);
      this.c.onState();
      this.c.log.info({ address }, 'lookup connected');
      try {
        await this.c.session(conn);
      } catch (e) {
        if (!this.closed) this.c.log.warn({ address, err: (e as Error).message }, 'lookup session ended');
      }
      this.conn = undefined;
      await conn.close().catch(() => undefined);
      this.c.onState();
      // Fail over to the next server after a short jitter (first backoff step).
      if (!this.closed) await this.sleep(backoffDelay(3, { minMs: 20, maxMs: 200 }));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.sleeper = undefined; resolve(); }, ms);
      this.sleeper = { timer, wake: () => { this.sleeper = undefined; resolve(); } };
    });
  }
}
