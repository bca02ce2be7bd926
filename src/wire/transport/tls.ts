// The TLS seam of the transport: mutual TLS 1.3 around the unchanged frame stream.
//
// Server: the listener stays a plain net.Server (so connection limits and accounting see every
// socket the same way); each accepted socket is handed to a tls.Server that never listens itself
// (`emit('connection')`, Node's documented way to feed it sockets). The handshake asks for a client
// certificate but does not fail without one: an enrolling agent has none yet, and a client refused
// with a typed PERMISSION_DENIED on its first call knows what went wrong, where a failed handshake
// says only "alert". Whether the certificate verified against the fabric CA (and is not revoked)
// decides the connection's principal; a connection without one reaches only anonymousMethods.
//
// Client: tls.connect with the fabric CA as the only trust anchor. Host names are not checked (the
// CA is private and issues no certificate to anyone outside the fabric); instead the server's
// certificate must name a `server` or `replica` identity, so an agent's certificate, signed by the
// same CA, cannot stand in for a server.
//
// Reads: TLS sockets cannot take Node's `onread` option (slab-reads.ts), so a TLS connection reads
// through 'data' events, each decrypted chunk a fresh buffer; plain TCP keeps its slab reads.
import { Server as TlsServer, connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { VxfabError } from '../../model/errors.js';
import { identityUri, type Identity } from '../../model/identity.js';
import type { Credentials } from '../../security/credentials.js';
import { certIdentity } from '../../security/cert-identity.js';

export interface ServerTlsOptions {
  /** The server's own certificate and key, and the fabric CA that client certificates must chain to. */
  credentials: Credentials;
  /** Methods a connection without a valid client certificate may call (enrollment). */
  anonymousMethods?: string[];
  /** A verified certificate whose serial (normalizeSerial form) this says is revoked counts as none. */
  isRevoked?: (serial: string) => boolean;
}

export interface ClientTlsOptions {
  /** This client's certificate and key; absent when enrolling (no client certificate is sent). */
  credentials?: Credentials;
  /** The fabric CA the server's certificate must chain to. */
  caPem: string;
}

/** Who a TLS connection's client proved to be, or why it counts as anonymous. */
export type Verified =
  | { principal: Identity; serial: string; notAfter: number }
  | { principal: undefined; reason: string };

/** The principal of every connection to a server without TLS (`--insecure`): whoever can reach
 *  a plain port is trusted with everything, which is why plain TCP listens on loopback only. */
export const INSECURE_PRINCIPAL: Identity = { kind: 'admin', name: 'insecure' };

/** Handshake time allowed to a new TLS connection before it is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export class TlsAcceptor {
  private readonly server: TlsServer;
  readonly anonymousMethods: ReadonlySet<string>;
  private readonly isRevoked: ((serial: string) => boolean) | undefined;

  constructor(options: ServerTlsOptions, onSecure: (socket: TLSSocket) => void, log: Logger) {
    const c = options.credentials;
    this.anonymousMethods = new Set(options.anonymousMethods ?? []);
    this.isRevoked = options.isRevoked;
    this.server = new TlsServer({
      key: c.keyPem, cert: c.certPem, ca: c.caPem,
      minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3',
      requestCert: true, rejectUnauthorized: false,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    this.server.on('secureConnection', onSecure);
    this.server.on('tlsClientError', (e, socket) => {
      log.debug({ err: e.message, remote: `${socket.remoteAddress}:${socket.remotePort}` }, 'TLS handshake failed');
    });
  }

  /** Starts the handshake on a freshly accepted (paused) TCP socket. */
  accept(raw: Socket): void {
    this.server.emit('connection', raw);
  }

  /** The client's identity from its verified certificate; anonymous when it sent none, it does
   *  not chain to the fabric CA (another CA, expired, not yet valid), it names no vxfab identity,
   *  or it is revoked. */
  verify(socket: TLSSocket): Verified {
    if (!socket.authorized) {
      const err = socket.authorizationError;
      return { principal: undefined, reason: err === null || err === undefined ? 'no client certificate' : String(err) };
    }
    const cert = socket.getPeerCertificate();
    if (cert === null || cert.raw === undefined) return { principal: undefined, reason: 'no client certificate' };
    let info;
    try {
      info = certIdentity(cert.raw);
    } catch (e) {
      return { principal: undefined, reason: (e as Error).message };
    }
    if (this.isRevoked?.(info.serial)) return { principal: undefined, reason: `certificate ${info.serial} is revoked` };
    return { principal: info.identity, serial: info.serial, notAfter: info.notAfter };
  }
}

/** Dials a TLS 1.3 connection that trusts only the fabric CA and only server/replica identities. */
export function connectTls(host: string, port: number, options: ClientTlsOptions, localAddress?: string): TLSSocket {
  const c = options.credentials;
  return tlsConnect({
    host, port,
    ...(localAddress === undefined ? {} : { localAddress }),
    ca: options.caPem,
    ...(c === undefined ? {} : { key: c.keyPem, cert: c.certPem }),
    minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3',
    rejectUnauthorized: true,
    // SNI cannot carry an IP address; a name is sent for names only (the certificate is not matched to it).
    ...(isIp(host) ? {} : { servername: host }),
    checkServerIdentity: (_host, cert) => {
      try {
        const id = certIdentity(cert.raw).identity;
        if (id.kind === 'server' || id.kind === 'replica') return undefined;
        return new Error(`the server's certificate names ${identityUri(id)}, not a vxfab server or replica`);
      } catch (e) {
        return e as Error;
      }
    },
  });
}

/** A client's typed error for a TLS failure: the server's certificate is not one we trust. */
export function tlsError(address: string, e: Error): VxfabError {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  const untrusted = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS_CERT/.test(code) || /server's certificate/.test(e.message);
  return new VxfabError(untrusted ? 'PERMISSION_DENIED' : 'UNAVAILABLE',
    untrusted ? `the server at ${address} is not trusted: ${e.message}` : `TLS connection to ${address} failed: ${e.message}`,
    { field: 'address', value: address, cause: e });
}

function isIp(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':');
}
