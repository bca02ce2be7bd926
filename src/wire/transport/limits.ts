// What an RpcServer allows one connection and all of them, and the helpers that enforce it without
// costing the hot path: a peer's key for the per-peer count, the process's file-descriptor limit
// (the total cap must stay below it, or a flood of connections locks out everyone, the server's
// own files included), and a log that says "this happened" once per window instead of per event
// (20,000 refused connections must not become 20,000 log lines).
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { VxfabError } from '../../model/errors.js';

/** The limits of RpcServerOptions, all set. */
export interface ConnectionLimits {
  maxOutputBytes: number;
  stallTimeoutMs: number;
  maxCallsInFlight: number;
  idleTimeoutMs: number;
  frameTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerPeer: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = {
  maxOutputBytes: 4 << 20,
  stallTimeoutMs: 60_000,
  maxCallsInFlight: 4096,
  idleTimeoutMs: 300_000,
  frameTimeoutMs: 30_000,
  maxConnections: 10_000,
  // Not 1,000: the simulator runs 1,000 agents in one process, all from 127.0.0.1, against one
  // controller (plus its operator and replicas).
  maxConnectionsPerPeer: 2_000,
};

/** File descriptors kept free of connections for everything else (store files, logs, dials). */
const FD_RESERVE_MIN = 128;

/** The process's soft limit of open files, from /proc (Linux), or undefined where unknown. */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The total cap that fits below an fd limit: a tenth of it, at least FD_RESERVE_MIN, stays free. */
export function capBelowFdLimit(cap: number, fdLimit: number | undefined): number {
  if (fdLimit === undefined) return cap;
  const room = fdLimit - Math.max(FD_RESERVE_MIN, Math.ceil(fdLimit / 10));
  return Math.max(1, Math.min(cap, room));
}

/** The key a connection counts under for the per-peer cap: its IP, with IPv4-mapped IPv6
 *  ("::ffff:198.18.0.1", what a dual-stack listener reports) the same peer as the IPv4 address. */
export function peerKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return '?';
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
}

/** Checks a limit option: a positive integer (or Infinity, for "no limit"). */
export function checkLimit(name: string, v: number): number {
  if (!(v === Infinity || (Number.isInteger(v) && v > 0))) {
    throw new VxfabError('INVALID_ARGUMENT', `${name} ${v}: must be a positive integer`, { field: name, value: String(v) });
  }
  return v;
}

/**
 * Logs the first event of a kind at once, then counts the next ones and logs their number once
 * per window (from the caller's tick). Kinds are few and fixed (a message each).
 */
export class LogLimiter {
  private readonly kinds = new Map<string, { since: number; more: number; fields: object }>();

  constructor(private readonly log: Logger, private readonly windowMs = 10_000) {}

  warn(msg: string, fields: object, now = Date.now()): void {
    const k = this.kinds.get(msg);
    if (k === undefined) {
      this.kinds.set(msg, { since: now, more: 0, fields });
      this.log.warn(fields, msg);
      return;
    }
    k.more++;
    k.fields = fields;
    this.tick(now);
  }

  /** Logs the counts of windows that are over; a kind quiet for a whole window starts afresh. */
  tick(now = Date.now()): void {
    for (const [msg, k] of this.kinds) {
      if (now - k.since < this.windowMs) continue;
      if (k.more === 0) {
        this.kinds.delete(msg);
        continue;
      }
      this.log.warn({ ...k.fields, more: k.more, windowMs: now - k.since }, `${msg} (${k.more} more in the last ${Math.round((now - k.since) / 1000)} s)`);
      k.since = now;
      k.more = 0;
    }
  }
}
