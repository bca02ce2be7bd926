// "host:port" addresses, as command lines and configuration write them: an IPv4 address, a DNS
// hostname, or "[IPv6 address]", then a decimal port. One parser for the CLI (--server,
// --listen, --lookup), the transport and the simulator, so they accept the same text.

import { invalid } from './errors.js';
import { parseIp } from './ip.js';
import { PORT_MAX, PORT_MIN } from './limits.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface HostPortOptions {
  /** Accept port 0 ("any free port", for listening). Default false. */
  allowAnyPort?: boolean;
}

const FORM = /^(?:\[([^\]]*)\]|([^:[\]]*)):([0-9]+)$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Parses "host:port" or "[v6]:port"; INVALID_ARGUMENT naming `field` and saying what is wrong. */
export function parseHostPort(text: string, field = 'address', options: HostPortOptions = {}): HostPort {
  const m = typeof text === 'string' ? FORM.exec(text) : null;
  if (m === null) throw invalid(field, text, 'expected HOST:PORT or [IPv6]:PORT, e.g. 127.0.0.1:4800');
  const [, v6, name, portText] = m;
  const min = options.allowAnyPort ? 0 : PORT_MIN;
  const port = portText!.length <= 5 ? Number(portText) : NaN;
  if (!(port >= min && port <= PORT_MAX) || (portText!.length > 1 && portText!.startsWith('0'))) {
    throw invalid(field, text, `port must be a whole number from ${min} to ${PORT_MAX}`);
  }
  if (v6 !== undefined) {
    parseIp(v6, field, 6);
    return { host: v6, port };
  }
  const host = name!;
  if (/^[0-9.]+$/.test(host)) {
    parseIp(host, field, 4);
    return { host, port };
  }
  if (!HOSTNAME.test(host)) throw invalid(field, text, 'host must be an IPv4 address, a hostname, or [an IPv6 address]');
  return { host, port };
}

/** The text parseHostPort reads back: IPv6 hosts in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
