// A credentials file: ONE PEM file holding, in this order, a certificate, its private key (PKCS#8)
// and the fabric CA's certificate. One file, in that order, because `openssl s_client -cert F -key F
// -CAfile F`, Python's `ssl.load_cert_chain(F)` + `load_verify_locations(F)` and curl all read it as
// it is, so an outside client needs no conversion step.

import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { VxfabError } from '../model/errors.js';

/** The administrator's credentials file in serve's data directory. */
export const ADMIN_CREDENTIALS_FILE = 'admin.credentials';

export interface Credentials {
  /** The holder's certificate (PEM). */
  certPem: string;
  /** Its private key, PKCS#8 PEM. */
  keyPem: string;
  /** The fabric CA certificate (PEM): what the other end's certificate must chain to. */
  caPem: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

export function formatCredentials(c: Credentials): string {
  return `${c.certPem.trim()}\n${c.keyPem.trim()}\n${c.caPem.trim()}\n`;
}

/**
 * Parses and checks a credentials file's text: the three blocks in order, the key belongs to the
 * certificate, and the certificate was signed by the CA. Every error is INVALID_ARGUMENT with the
 * file as its value, so the user knows which file to fix.
 */
export function parseCredentials(text: string, file: string): Credentials {
  const blocks = [...text.matchAll(BLOCK)].map((m) => ({ label: m[1], pem: m[0] }));
  const labels = blocks.map((b) => b.label).join(', ');
  if (blocks.length !== 3 || blocks[0].label !== 'CERTIFICATE' || blocks[1].label !== 'PRIVATE KEY' || blocks[2].label !== 'CERTIFICATE') {
    throw bad(file, `expected CERTIFICATE, PRIVATE KEY, CERTIFICATE in that order, found ${labels === '' ? 'no PEM blocks' : labels}`);
  }
  const [certPem, keyPem, caPem] = blocks.map((b) => `${b.pem}\n`);
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    ca = new X509Certificate(caPem);
  } catch (e) {
    throw bad(file, `a certificate does not parse (${errText(e)})`, e);
  }
  let keySpki: Buffer;
  try {
    keySpki = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  } catch (e) {
    throw bad(file, `the private key does not parse (${errText(e)})`, e);
  }
  if (!keySpki.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))) {
    throw bad(file, 'the private key does not belong to its certificate (the first block)');
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    throw bad(file, 'its certificate was not issued by its CA certificate (the third block)');
  }
  return { certPem, keyPem, caPem };
}

export async function readCredentials(file: string): Promise<Credentials> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new VxfabError(code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_ARGUMENT', `credentials file ${file}: cannot read it (${errText(e)})`,
      { field: 'credentials', value: file, cause: e });
  }
  return parseCredentials(text, file);
}

/** Writes atomically (temp file in the same directory, fsync, rename), mode 0600 from creation on. */
export async function writeCredentials(file: string, c: Credentials): Promise<void> {
  await writeSecretFile(file, formatCredentials(c));
}

/** A private file (keys, credentials): 0600 from its first byte, replaced atomically. */
export async function writeSecretFile(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(text);
    await fh.chmod(0o600); // the umask cannot widen it, but an inherited ACL default could
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(tmp, file);
}

function bad(file: string, why: string, cause?: unknown): VxfabError {
  return new VxfabError('INVALID_ARGUMENT', `credentials file ${file}: ${why}`, { field: 'credentials', value: file, cause });
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
