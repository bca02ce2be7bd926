// Parsing of command-line values that must be numbers or references before anything is sent.
// Everything else (CIDRs, addresses, MACs, names) is validated by the server, so there is one
// set of rules and one set of messages.
import { UsageError } from './exit-codes.js';

export function parseIntOption(flag: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag} "${text}": expected a whole number`);
  return Number(text);
}

/** "TENANT/NAME" → its parts. */
export function parseNetworkRef(flag: string, text: string): { tenant: string; name: string } {
  const parts = text.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new UsageError(`${flag} "${text}": expected TENANT/NETWORK, e.g. acme/web`);
  }
  return { tenant: parts[0], name: parts[1] };
}

/** Commander collector for repeatable options. */
export const repeatable = (value: string, previous: string[] = []): string[] => [...previous, value];

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "15m", "1h", "7d", "500ms" → milliseconds; anything else is a usage error naming the flag. */
export function parseDuration(flag: string, text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  const ms = m ? Number(m[1]) * DURATION_UNITS[m[2]] : NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new UsageError(`${flag} "${text}": expected a duration like 30m, 1h or 7d`);
  return ms;
}
