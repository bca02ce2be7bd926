// "host:port" addresses as the command line and configuration files write them.
import { invalid } from '../../model/errors.js';

export interface HostPort {
  host: string;
  port: number;
}

/** Parses "host:port" or "[v6 address]:port". */
export function parseAddress(address: string, field = 'address'): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  if (!m) throw invalid(field, address, 'expected host:port or [ipv6]:port');
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw invalid(field, address, 'port must be from 1 to 65535');
  return { host: (m[1] ?? m[2])!, port };
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
