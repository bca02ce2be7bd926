// Subscription hub bounds from the command line or the environment, for `vxfab serve` and
// `vxfab lookup serve`. Operators rarely change them; tests set a tiny history to exercise
// COMPACTED without writing thousands of batches.
//   --lookup-history N / VXFAB_LOOKUP_HISTORY   batches of events kept for Subscribe replay
//   --lookup-queue N   / VXFAB_LOOKUP_QUEUE     events a slow subscriber may have queued before RESYNC
import type { SubscriptionHubOptions } from '../lookup/subscriptions.js';
import { UsageError } from './exit-codes.js';

export type HubBounds = Pick<SubscriptionHubOptions, 'historyBatches' | 'queueLimit'>;

function positive(flag: string, text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${flag} "${text}": expected a whole number ≥ 1`);
  return Number(text);
}

export function hubBounds(options: { lookupHistory?: string; lookupQueue?: string }, env = process.env): HubBounds {
  const out: HubBounds = {};
  const history = positive('--lookup-history', options.lookupHistory ?? env.VXFAB_LOOKUP_HISTORY);
  const queue = positive('--lookup-queue', options.lookupQueue ?? env.VXFAB_LOOKUP_QUEUE);
  if (history !== undefined) out.historyBatches = history;
  if (queue !== undefined) out.queueLimit = queue;
  return out;
}
