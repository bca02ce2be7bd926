// The identity and serial of a certificate as Node's own X.509 parser reports them, without the
// X.509 library (pki.ts): the transport and the CLI read certificates on every connection and at
// every start, and loading @peculiar/x509 costs a short-lived CLI process ~0.3 s of CPU.
import { X509Certificate } from 'node:crypto';
import { invalid } from '../model/errors.js';
import { IDENTITY_SCHEME, parseIdentityUri, type Identity } from '../model/identity.js';

export interface CertIdentity {
  identity: Identity;
  /** Lowercase hex, no leading zeros (normalizeSerial). */
  serial: string;
  notBefore: number;
  notAfter: number;
}

/** Serials as Node's TLS layer and the library print them differ in case and leading zeros. */
export function normalizeSerial(hex: string): string {
  const s = hex.toLowerCase().replace(/[^0-9a-f]/g, '').replace(/^0+/, '');
  return s === '' ? '0' : s;
}

/**
 * The one vxfab identity that a subjectAltName (Node's text form: "URI:vxfab://node/h1, IP
 * Address:…") names. Identity URIs contain no comma, quote or space (names.ts), so splitting
 * the text cannot cut one apart; anything else fails to parse as an identity.
 */
export function identityOfSan(subjectAltName: string | undefined): Identity {
  const uris = (subjectAltName ?? '').split(', ').filter((n) => n.startsWith(`URI:${IDENTITY_SCHEME}`)).map((n) => n.slice(4));
  if (uris.length !== 1) {
    throw invalid('certificate.subjectAltName', uris.join(' '), `must name exactly one ${IDENTITY_SCHEME} identity, names ${uris.length}`);
  }
  return parseIdentityUri(uris[0]!, 'certificate.subjectAltName');
}

/** certInfo (pki.ts) through Node's parser: PEM or DER. */
export function certIdentity(cert: string | Uint8Array): CertIdentity {
  let x: X509Certificate;
  try {
    x = new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert.buffer, cert.byteOffset, cert.byteLength));
  } catch (e) {
    throw invalid('certificate', '', `not an X.509 certificate (${(e as Error).message})`);
  }
  return {
    identity: identityOfSan(x.subjectAltName),
    serial: normalizeSerial(x.serialNumber),
    notBefore: Date.parse(x.validFrom),
    notAfter: Date.parse(x.validTo),
  };
}
