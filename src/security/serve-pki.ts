// The certificates `vxfab serve` keeps in its data directory:
//   DATA/ca.crt               the fabric CA's certificate
//   DATA/ca.key   (0600)      its private key; absent when the operator brought the CA (--ca-cert/--ca-key)
//   DATA/server.credentials   (0600) serve's own certificate (server/<name>) and key, with the CA
//   DATA/admin.credentials    (0600) an administrator's credentials, made with a new CA
// A new data directory gets all of them; later starts reuse them, and the server certificate is
// renewed when it nears its end, names other addresses than serve now listens on, or was issued
// by another CA.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { VxfabError } from '../model/errors.js';
import { identityUri, type Identity } from '../model/identity.js';
import { FabricCa, certInfo, issueCredentials } from './pki.js';
import { ADMIN_CREDENTIALS_FILE, readCredentials, writeCredentials, writeSecretFile, type Credentials } from './credentials.js';
import { X509Certificate } from 'node:crypto';

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';
export const SERVER_CREDENTIALS_FILE = 'server.credentials';
export { ADMIN_CREDENTIALS_FILE };

const DAY = 24 * 3600_000;
export const SERVER_CERT_TTL_MS = 90 * DAY;
/** Renewed at start when less than this is left. */
export const SERVER_RENEW_BEFORE_MS = 30 * DAY;
export const ADMIN_CERT_TTL_MS = 365 * DAY;

export interface ServePkiOptions {
  dataDir: string;
  /** serve's name in its certificate: vxfab://server/<name>. */
  name: string;
  /** The listen host, named in the certificate's IP or DNS names (besides 127.0.0.1 and ::1). */
  listenHost: string;
  /** An operator's CA instead of one made here: both files, or neither. */
  caCertFile?: string;
  caKeyFile?: string;
  logger: Logger;
}

export interface ServePki {
  ca: FabricCa;
  /** serve's own certificate and key. */
  server: Credentials;
  /** Set when this start wrote the administrator's credentials file (a new data directory). */
  adminCreated?: string;
  adminFile: string;
}

export async function loadOrCreateServePki(o: ServePkiOptions): Promise<ServePki> {
  const log = o.logger.child({ module: 'security.serve-pki' });
  const caCrt = join(o.dataDir, CA_CERT_FILE);
  const caKey = join(o.dataDir, CA_KEY_FILE);
  const adminFile = join(o.dataDir, ADMIN_CREDENTIALS_FILE);
  let ca: FabricCa;
  let newCa = false;
  if ((o.caCertFile === undefined) !== (o.caKeyFile === undefined)) {
    throw new VxfabError('INVALID_ARGUMENT', 'an operator CA needs both --ca-cert and --ca-key',
      { field: o.caCertFile === undefined ? 'ca-cert' : 'ca-key', value: '' });
  }
  if (o.caCertFile !== undefined && o.caKeyFile !== undefined) {
    ca = await FabricCa.fromPem(await readText(o.caCertFile, 'ca-cert'), await readText(o.caKeyFile, 'ca-key'));
    if (await exists(caCrt)) {
      const kept = await readFile(caCrt, 'utf8');
      if (new X509Certificate(kept).fingerprint256 !== new X509Certificate(ca.certPem).fingerprint256) {
        throw new VxfabError('CONFLICT', `--ca-cert ${o.caCertFile} is not the CA of ${o.dataDir} (${caCrt}): every certificate of this fabric would stop working`,
          { field: 'ca-cert', value: o.caCertFile });
      }
    } else {
      await writeSecretFile(caCrt, ca.certPem);
      newCa = true;
    }
  } else if (await exists(caKey)) {
    ca = await FabricCa.fromPem(await readText(caCrt, CA_CERT_FILE), await readText(caKey, CA_KEY_FILE));
  } else if (await exists(caCrt)) {
    throw new VxfabError('INVALID_ARGUMENT', `${o.dataDir} has a CA certificate but no key: it uses an operator CA, pass --ca-cert and --ca-key`,
      { field: 'ca-key', value: caKey });
  } else {
    ca = await FabricCa.create(`vxfab fabric CA (${o.name})`);
    await writeSecretFile(caKey, ca.keyPem);
    await writeSecretFile(caCrt, ca.certPem);
    newCa = true;
    log.info({ fingerprint: ca.fingerprint, file: caCrt }, 'created the fabric CA');
  }
  const server = await serverCredentials(o, ca, log);
  let adminCreated: string | undefined;
  if (newCa && !(await exists(adminFile))) {
    const admin: Identity = { kind: 'admin', name: 'admin' };
    await writeCredentials(adminFile, await issueCredentials(ca, admin, { ttlMs: ADMIN_CERT_TTL_MS }));
    adminCreated = adminFile;
    log.info({ file: adminFile, identity: identityUri(admin) }, 'wrote the administrator credentials');
  }
  return { ca, server, adminFile, ...(adminCreated === undefined ? {} : { adminCreated }) };
}

/** The addresses a server certificate names: the listen host (unless a wildcard) and loopback. */
export function serverNames(listenHost: string): { ips: string[]; dns: string[] } {
  const ips = new Set(['127.0.0.1', '::1']);
  const dns = new Set<string>(['localhost']);
  if (isIP(listenHost) !== 0) {
    if (listenHost !== '0.0.0.0' && listenHost !== '::') ips.add(listenHost);
  } else {
    dns.add(listenHost);
  }
  return { ips: [...ips], dns: [...dns] };
}

async function serverCredentials(o: ServePkiOptions, ca: FabricCa, log: Logger): Promise<Credentials> {
  const file = join(o.dataDir, SERVER_CREDENTIALS_FILE);
  const identity: Identity = { kind: 'server', name: o.name };
  const names = serverNames(o.listenHost);
  if (await exists(file)) {
    const why = await renewalReason(file, ca, identity, names);
    if (why === undefined) return readCredentials(file);
    log.info({ file, why }, 'renewing the server certificate');
  }
  const creds = await issueCredentials(ca, identity, { ttlMs: SERVER_CERT_TTL_MS, ...names });
  const kept: Credentials = { certPem: creds.certPem, keyPem: creds.keyPem, caPem: creds.caPem };
  await writeCredentials(file, kept);
  return kept;
}

/** Why the stored server certificate must be replaced, or undefined when it is good. */
async function renewalReason(file: string, ca: FabricCa, identity: Identity, names: { ips: string[]; dns: string[] }): Promise<string | undefined> {
  let c: Credentials;
  try {
    c = await readCredentials(file);
  } catch (e) {
    return (e as Error).message;
  }
  const x = new X509Certificate(c.certPem);
  if (!x.checkIssued(new X509Certificate(ca.certPem)) || !x.verify(new X509Certificate(ca.certPem).publicKey)) return 'issued by another CA';
  const info = certInfo(c.certPem);
  if (identityUri(info.identity) !== identityUri(identity)) return `names ${identityUri(info.identity)}`;
  if (info.notAfter - Date.now() < SERVER_RENEW_BEFORE_MS) return 'near its end';
  for (const ip of names.ips) if (!x.checkIP(ip)) return `does not name ${ip}`;
  for (const dns of names.dns) if (x.checkHost(dns, { wildcards: false }) === undefined) return `does not name ${dns}`;
  return undefined;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

async function readText(file: string, field: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new VxfabError('INVALID_ARGUMENT', `${field} ${file}: cannot read it (${(e as Error).message})`, { field, value: file, cause: e });
  }
}
