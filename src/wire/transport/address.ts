// "host:port" addresses: the transport's names for the one parser in src/model/hostport.ts.
import { formatHostPort, parseHostPort, type HostPort } from '../../model/hostport.js';

export type { HostPort };

/** Parses "host:port" or "[v6 address]:port" (port 1-65535); INVALID_ARGUMENT naming `field`. */
export function parseAddress(address: string, field = 'address'): HostPort {
  return parseHostPort(address, field);
}

export const formatAddress = formatHostPort;
