// The fabric's X.509: a CA that issues every vxfab certificate, ECDSA P-256 keys, CSRs, and reading
// a certificate back into the identity it names.
//
// Why @peculiar/x509: Node can verify and parse certificates (crypto.X509Certificate) but cannot
// create or sign them, nor build a CSR. @peculiar/x509 is the maintained TypeScript X.509 library
// that runs on WebCrypto (Node's built-in webcrypto here, so no OpenSSL binding of its own), and it
// installs with no scripts. Keys are made with node:crypto (fast, PEM out of the box) and imported
// into WebCrypto only to sign.
//
// Every issued certificate carries exactly one vxfab identity as a subjectAltName URI
// (src/model/identity.ts), EKU serverAuth + clientAuth, so one certificate serves as either end of a
// connection; the policy decides what each identity may do. The identity always comes from the CA's
// caller (an enrollment token, an admin request), never from what a CSR asks for.

import { createHash, createPublicKey, generateKeyPairSync, randomBytes, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect
// metadata API; the library asks for this polyfill, imported before it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { invalid, VxfabError } from '../model/errors.js';
import { identityUri, parseIdentityUri, IDENTITY_SCHEME, type Identity } from '../model/identity.js';
import { normalizeSerial } from './cert-identity.js';
import type { Credentials } from './credentials.js';

// The library takes its crypto from a global provider; Node's webcrypto is a full implementation.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** Issued certificates start a minute in the past, so a host whose clock runs behind accepts them. */
const BACKDATE_MS = 60_000;
const CA_TTL_MS = 10 * 365 * 24 * 3600_000;

export interface KeyPair {
  /** PKCS#8 PEM ("PRIVATE KEY"). */
  keyPem: string;
  /** SPKI PEM ("PUBLIC KEY"). */
  publicKeyPem: string;
}

export interface IssueRequest {
  identity: Identity;
  /** A PKCS#10 request; its signature must verify (proof that the caller holds the key). */
  csrPem?: string;
  /** Or a public key directly, for keys the issuer made itself (serve's own certificate). */
  publicKeyPem?: string;
  ttlMs: number;
  /** IP and DNS subject alternative names, for server certificates. */
  ips?: string[];
  dns?: string[];
}

export interface Issued {
  certPem: string;
  /** Lowercase hex, no leading zeros: the form normalizeSerial gives any serial. */
  serial: string;
  /** Milliseconds since the epoch. */
  notAfter: number;
}

export interface CertInfo {
  identity: Identity;
  serial: string;
  notBefore: number;
  notAfter: number;
}

export function newKeyPair(): Promise<KeyPair> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return Promise.resolve({
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
}

/** A CSR for `identity` signed with `keyPem`. The subject is informative only: the CA decides the identity. */
export async function makeCsr(keyPem: string, identity: Identity): Promise<string> {
  const keys = await importKeys(keyPem, 'keyPem');
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${identityUri(identity)}`,
    keys,
    signingAlgorithm: SIGNING,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identityUri(identity) }])],
  });
  return csr.toString('pem');
}

export { normalizeSerial };

export class FabricCa {
  readonly certPem: string;
  readonly keyPem: string;
  /** SHA-256 of the CA certificate's DER, lowercase hex: what a joining agent pins. */
  readonly fingerprint: string;
  readonly name: string;
  private readonly cert: x509.X509Certificate;
  private readonly signingKey: webcrypto.CryptoKey;

  private constructor(cert: x509.X509Certificate, keyPem: string, signingKey: webcrypto.CryptoKey) {
    this.cert = cert;
    this.certPem = cert.toString('pem');
    this.keyPem = keyPem;
    this.signingKey = signingKey;
    this.fingerprint = caFingerprint(this.certPem);
    this.name = cert.subjectName.getField('CN')[0] ?? cert.subject;
  }

  /** A new self-signed CA, valid ten years, that can sign only leaf certificates (pathLen 0). */
  static async create(name = 'vxfab fabric CA'): Promise<FabricCa> {
    const pair = await newKeyPair();
    const keys = await importKeys(pair.keyPem, 'keyPem');
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: newSerial(),
      name: `CN=${name.replace(/[,=+<>#;"\\]/g, ' ')}`,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + CA_TTL_MS),
      keys,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new FabricCa(cert, pair.keyPem, keys.privateKey);
  }

  /** An existing CA (the data dir's, or an operator's): the key must match the certificate, which must be a CA. */
  static async fromPem(certPem: string, keyPem: string): Promise<FabricCa> {
    const cert = parseCert(certPem, 'ca.crt');
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    if (!bc || !bc.ca) throw invalid('ca.crt', cert.subject, 'is not a CA certificate (basicConstraints CA:TRUE missing)');
    const keys = await importKeys(keyPem, 'ca.key');
    const certSpki = Buffer.from(cert.publicKey.rawData);
    const keySpki = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
    if (!certSpki.equals(keySpki)) throw invalid('ca.key', 'private key', 'does not belong to the CA certificate');
    return new FabricCa(cert, keyPem, keys.privateKey);
  }

  /**
   * A leaf certificate naming `req.identity`, for the key in the CSR (whose signature must verify)
   * or in `publicKeyPem`. The CSR's own subject and extensions are ignored.
   */
  async issue(req: IssueRequest): Promise<Issued> {
    if (!Number.isFinite(req.ttlMs) || req.ttlMs <= 0) throw invalid('ttlMs', req.ttlMs, 'must be a positive number of milliseconds');
    const uri = identityUri(req.identity);
    parseIdentityUri(uri, 'identity'); // names follow the model's rules
    const publicKey = await this.requestKey(req);
    const now = Date.now();
    const notAfter = now + req.ttlMs;
    const names: x509.JsonGeneralName[] = [{ type: 'url', value: uri }];
    for (const ip of req.ips ?? []) names.push({ type: 'ip', value: ip });
    for (const dns of req.dns ?? []) names.push({ type: 'dns', value: dns });
    const serial = newSerial();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: `CN=${uri}`,
      issuer: this.cert.subject,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(notAfter),
      publicKey,
      signingKey: this.signingKey,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension(names, false),
        await x509.AuthorityKeyIdentifierExtension.create(this.cert),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
      ],
    });
    // Dates in certificates have a one-second resolution.
    return { certPem: cert.toString('pem'), serial: normalizeSerial(serial), notAfter: cert.notAfter.getTime() };
  }

  private async requestKey(req: IssueRequest): Promise<x509.PublicKey> {
    if ((req.csrPem === undefined) === (req.publicKeyPem === undefined)) {
      throw invalid('csr', req.csrPem === undefined ? '' : 'csr and publicKey', 'give exactly one of a CSR or a public key');
    }
    let key: x509.PublicKey;
    if (req.csrPem !== undefined) {
      let csr: x509.Pkcs10CertificateRequest;
      try {
        csr = new x509.Pkcs10CertificateRequest(req.csrPem);
      } catch (e) {
        throw new VxfabError('INVALID_ARGUMENT', `csr: not a PKCS#10 certificate request (${errText(e)})`, { field: 'csr', value: '', cause: e });
      }
      let ok = false;
      try {
        ok = await csr.verify();
      } catch {
        ok = false;
      }
      if (!ok) throw invalid('csr', 'signature', 'the request\'s signature does not verify with its own key');
      key = csr.publicKey;
    } else {
      try {
        key = new x509.PublicKey(req.publicKeyPem as string);
      } catch (e) {
        throw new VxfabError('INVALID_ARGUMENT', `publicKey: not an SPKI public key (${errText(e)})`, { field: 'publicKey', value: '', cause: e });
      }
    }
    const alg = key.algorithm as { name?: string; namedCurve?: string };
    if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') {
      throw invalid('csr', `${alg.name ?? '?'} ${alg.namedCurve ?? ''}`.trim(), 'vxfab keys are ECDSA P-256');
    }
    return key;
  }
}

/** A new key and a certificate for `identity` from `ca`, as credentials (for keys made where the
 *  CA is: serve's own certificate, its admin credentials, the simulator's hosts). */
export async function issueCredentials(ca: FabricCa, identity: Identity,
  options: { ttlMs: number; ips?: string[]; dns?: string[] }): Promise<Credentials & { serial: string; notAfter: number }> {
  const { keyPem, publicKeyPem } = await newKeyPair();
  const issued = await ca.issue({ identity, publicKeyPem, ...options });
  return { certPem: issued.certPem, keyPem, caPem: ca.certPem, serial: issued.serial, notAfter: issued.notAfter };
}

/** The identity, serial and validity of a vxfab certificate (PEM). Synchronous: no signature check here. */
export function certInfo(certPem: string): CertInfo {
  return infoOf(parseCert(certPem, 'certificate'));
}

/** certInfo for the DER a TLS socket hands over (peer certificate `raw`). */
export function certInfoFromDer(der: Uint8Array): CertInfo {
  return infoOf(parseCert(der, 'certificate'));
}

/** SHA-256 hex of a certificate's DER: the CA pin. */
export function caFingerprint(certPem: string): string {
  return createHash('sha256').update(new NodeX509(certPem).raw).digest('hex');
}

function infoOf(cert: x509.X509Certificate): CertInfo {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const uris = (san?.names.items ?? []).filter((n) => n.type === 'url' && n.value.startsWith(IDENTITY_SCHEME)).map((n) => n.value);
  if (uris.length !== 1) {
    throw invalid('certificate.subjectAltName', uris.join(' '), `must name exactly one ${IDENTITY_SCHEME} identity, names ${uris.length}`);
  }
  return {
    identity: parseIdentityUri(uris[0], 'certificate.subjectAltName'),
    serial: normalizeSerial(cert.serialNumber),
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
  };
}

function parseCert(pem: string | Uint8Array, field: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch (e) {
    throw new VxfabError('INVALID_ARGUMENT', `${field}: not an X.509 certificate (${errText(e)})`, { field, value: '', cause: e });
  }
}

async function importKeys(keyPem: string, field: string): Promise<{ privateKey: webcrypto.CryptoKey; publicKey: webcrypto.CryptoKey }> {
  let pkcs8: Buffer;
  let spki: Buffer;
  try {
    const pub = createPublicKey(keyPem);
    spki = pub.export({ type: 'spki', format: 'der' });
    const m = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(keyPem);
    if (!m) throw new Error('expected a PKCS#8 "PRIVATE KEY" PEM block');
    pkcs8 = Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
  } catch (e) {
    throw new VxfabError('INVALID_ARGUMENT', `${field}: not a private key (${errText(e)})`, { field, value: '', cause: e });
  }
  try {
    const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, EC_P256, false, ['sign']);
    const publicKey = await webcrypto.subtle.importKey('spki', spki, EC_P256, true, ['verify']);
    return { privateKey, publicKey };
  } catch (e) {
    throw new VxfabError('INVALID_ARGUMENT', `${field}: not an ECDSA P-256 key (${errText(e)})`, { field, value: '', cause: e });
  }
}

/** 16 random bytes with the top bit clear (serials are positive) and the first byte non-zero (no leading zero to disagree on). */
function newSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x7f) | 0x01;
  return b.toString('hex');
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
