// The joining side of enrollment (kubeadm join style), for agents and lookup replicas:
//
//   1. The token carries the SHA-256 of the fabric CA's certificate. The host has no CA yet, so it
//      opens one TLS connection that verifies nothing, takes the CA certificate the server sends
//      with its own, and keeps it only if its fingerprint is the pin. An attacker in the path can
//      show another CA but not one with that fingerprint, and the token is not sent on that
//      connection at all.
//   2. A new P-256 key is made here (it never leaves the host); its CSR and the token go to Enroll
//      over TLS verified against the pinned CA.
//   3. Certificate + key + CA go to STATE_DIR/<file> (0600). Later starts read them; a certificate
//      past two thirds of its life is renewed (Renew, authenticated by the current one).
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { VxfabError } from '../model/errors.js';
import { describeIdentity, identityUri, type Identity } from '../model/identity.js';
import { vxfab } from '../wire/gen/proto.js';
import { Controller } from '../wire/gen/services.js';
import { RpcClient } from '../wire/transport/client.js';
import { readCredentials, writeCredentials, type Credentials } from './credentials.js';
import { certInfo, makeCsr, newKeyPair } from './pki.js';
import { parseToken } from './token.js';

const CONNECT_TIMEOUT_MS = 10_000;

/** The fraction of a certificate's life after which it is renewed. */
export const RENEW_AFTER = 2 / 3;

function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/**
 * The fabric CA's certificate as the server at `address` presents it (its chain), accepted only when
 * its SHA-256 is `pin`. PERMISSION_DENIED when the server shows no certificate with that pin.
 */
export function fetchPinnedCa(address: string, pin: string): Promise<string> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve, reject) => {
    // Verification is off on purpose: the pin, checked below, is the trust anchor here.
    const socket = tlsConnect({ host, port, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    const timer = setTimeout(() => socket.destroy(new Error('timed out')), CONNECT_TIMEOUT_MS);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      let cert = socket.getPeerCertificate(true);
      const seen = new Set<string>();
      let found: string | undefined;
      while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        if (cert.fingerprint256.replace(/:/g, '').toLowerCase() === pin) {
          found = new X509Certificate(cert.raw).toString();
          break;
        }
        cert = cert.issuerCertificate;
      }
      socket.destroy();
      if (found) resolve(found);
      else {
        reject(new VxfabError('PERMISSION_DENIED',
          `the server at ${address} does not present the CA the token pins (sha256 ${pin.slice(0, 16)}…): wrong server, or someone in between`,
          { field: 'token', value: address }));
      }
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(new VxfabError('UNAVAILABLE', `cannot reach ${address} to enroll: ${e.message}`, { field: 'server', value: address, cause: e }));
    });
  });
}

export interface EnrollOptions {
  server: string;
  token: string;
  /** Who joins: the token must bind this identity's name. */
  identity: Identity;
  role: number;
}

/** Enrolls with a one-time token: new key, CSR, Enroll; returns the credentials (not yet stored). */
export async function enroll(o: EnrollOptions): Promise<Credentials> {
  const tok = parseToken(o.token);
  const caPem = await fetchPinnedCa(o.server, tok.caPin);
  const keys = await newKeyPair();
  const csrPem = await makeCsr(keys.keyPem, o.identity);
  const name = o.identity.kind === 'node' ? o.identity.node : o.identity.kind === 'replica' ? o.identity.name : '';
  const client = new RpcClient({
    address: o.server, role: o.role, identity: name, timeoutMs: CONNECT_TIMEOUT_MS, reconnect: false, failFast: true,
    tls: { caPem },
  });
  try {
    await client.connect();
    const r = await client.call(Controller.Enroll, { token: o.token.trim(), name, csrPem });
    return { certPem: r.certPem, keyPem: keys.keyPem, caPem: r.caPem };
  } finally {
    await client.close();
  }
}

/** A fresh certificate for the identity of `current`, over a connection authenticated by it. */
export async function renew(server: string, current: Credentials, role: number): Promise<Credentials> {
  const identity = certInfo(current.certPem).identity;
  const keys = await newKeyPair();
  const csrPem = await makeCsr(keys.keyPem, identity);
  const client = new RpcClient({
    address: server, role, identity: identityUri(identity), timeoutMs: CONNECT_TIMEOUT_MS, reconnect: false, failFast: true,
    tls: { caPem: current.caPem, credentials: current },
  });
  try {
    await client.connect();
    const r = await client.call(Controller.Renew, { csrPem });
    return { certPem: r.certPem, keyPem: keys.keyPem, caPem: r.caPem };
  } finally {
    await client.close();
  }
}

/** When a certificate is due for renewal (ms since the epoch). */
export function renewAt(c: Credentials): number {
  const info = certInfo(c.certPem);
  return info.notBefore + (info.notAfter - info.notBefore) * RENEW_AFTER;
}

export interface MemberCredentialsOptions {
  stateDir: string;
  /** File name in stateDir: node.credentials, replica.credentials. */
  file: string;
  server: string;
  identity: Identity;
  role: number;
  /** A one-time token; needed only when stateDir holds no credentials yet. */
  token?: string;
  logger: Logger;
}

/**
 * The credentials of a node or replica: the stored ones (renewed first when due), or new ones from
 * the token, stored 0600. Stored credentials of another identity are refused (the --node changed).
 */
export async function memberCredentials(o: MemberCredentialsOptions): Promise<{ credentials: Credentials; file: string }> {
  const file = join(o.stateDir, o.file);
  const exists = await access(file).then(() => true, () => false);
  if (!exists) {
    if (o.token === undefined) {
      throw new VxfabError('PERMISSION_DENIED',
        `${file} holds no credentials yet: enroll with --join TOKEN (from \`vxfab token create\`)`, { field: 'credentials', value: file });
    }
    const credentials = await enroll({ server: o.server, token: o.token, identity: o.identity, role: o.role });
    await writeCredentials(file, credentials);
    o.logger.info({ file, identity: identityUri(o.identity) }, 'enrolled; credentials stored');
    return { credentials, file };
  }
  let credentials = await readCredentials(file);
  const have = certInfo(credentials.certPem).identity;
  if (identityUri(have) !== identityUri(o.identity)) {
    throw new VxfabError('PERMISSION_DENIED', `${file} holds the credentials of ${describeIdentity(have)}, not ${describeIdentity(o.identity)}`,
      { field: 'credentials', value: file });
  }
  if (Date.now() >= renewAt(credentials)) credentials = await renewStored(o, file, credentials);
  return { credentials, file };
}

async function renewStored(o: MemberCredentialsOptions, file: string, current: Credentials): Promise<Credentials> {
  const next = await renew(o.server, current, o.role);
  await writeCredentials(file, next);
  o.logger.info({ file, notAfter: new Date(certInfo(next.certPem).notAfter).toISOString() }, 'certificate renewed');
  return next;
}

/**
 * Renews the certificate in `tls.credentials` whenever it is due, storing each new one and
 * putting it in place for the next connection (live ones carry on until the server ends them at
 * the old certificate's expiry, and the client redials with the new one). Returns a stop function.
 */
export function keepRenewed(o: MemberCredentialsOptions, file: string, tls: { credentials?: Credentials }): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (): void => {
    if (stopped || tls.credentials === undefined) return;
    const wait = Math.max(1000, Math.min(renewAt(tls.credentials) - Date.now(), 2 ** 31 - 1));
    timer = setTimeout(() => {
      const current = tls.credentials;
      if (current === undefined || Date.now() < renewAt(current)) { schedule(); return; }
      renewStored(o, file, current).then((next) => { tls.credentials = next; schedule(); }, (e: unknown) => {
        o.logger.warn({ err: (e as Error).message }, 'certificate renewal failed; retrying in 30 s');
        timer = setTimeout(schedule, 30_000);
        timer.unref();
      });
    }, wait);
    timer.unref();
  };
  schedule();
  return () => { stopped = true; clearTimeout(timer); };
}

export const ROLE_AGENT = vxfab.v1.Role.ROLE_AGENT;
export const ROLE_REPLICA = vxfab.v1.Role.ROLE_LOOKUP_REPLICA;

/**
 * The client TLS of a node agent or replica started with `--join TOKEN` or with credentials already
 * in its state dir: enrolls or loads (renewing when due), then keeps them renewed. Undefined (plain
 * TCP, for an --insecure server) when there is neither a token nor stored credentials.
 */
export async function memberTls(o: MemberCredentialsOptions): Promise<{ tls: { caPem: string; credentials?: Credentials }; stop: () => void } | undefined> {
  const file = join(o.stateDir, o.file);
  if (o.token === undefined && !(await access(file).then(() => true, () => false))) return undefined;
  const { credentials } = await memberCredentials(o);
  const tls = { caPem: credentials.caPem, credentials };
  return { tls, stop: keepRenewed(o, file, tls) };
}
