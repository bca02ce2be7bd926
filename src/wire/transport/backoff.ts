// Reconnect delays: exponential backoff with full jitter. Without jitter, every agent that lost
// its lookup server at the same moment would come back at the same moments and stampede it; a
// delay drawn uniformly from the whole window spreads them out.

export interface BackoffOptions {
  /** Smallest delay, and the base of the exponential window. Default 100 ms. */
  minMs?: number;
  /** Largest delay. Default 10000 ms. */
  maxMs?: number;
}

export const DEFAULT_BACKOFF = { minMs: 100, maxMs: 10_000 } as const;

/**
 * Delay before reconnect attempt number `attempt` (1 for the first retry): uniform in
 * [minMs, min(maxMs, minMs * 2^attempt)].
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const minMs = options.minMs ?? DEFAULT_BACKOFF.minMs;
  const maxMs = Math.max(minMs, options.maxMs ?? DEFAULT_BACKOFF.maxMs);
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(minMs + random() * (ceiling - minMs));
}
