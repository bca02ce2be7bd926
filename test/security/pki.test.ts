import t from 'tap';
import type { Test } from 'tap';
import { X509Certificate, createHash } from 'node:crypto';
import { FabricCa, certInfo, certInfoFromDer, makeCsr, newKeyPair, normalizeSerial } from '../../src/security/pki.js';
import { identityUri, type Identity } from '../../src/model/identity.js';
import { VxfabError, type ErrorCode } from '../../src/model/errors.js';

async function rejectsVx(t: Test, p: Promise<unknown>, code: ErrorCode, field: string, what: string): Promise<void> {
  try {
    await p;
    t.fail(`${what}: expected ${code}, resolved`);
  } catch (e) {
    t.ok(e instanceof VxfabError, `${what}: a VxfabError (${String(e)})`);
    t.same({ code: (e as VxfabError).code, field: (e as VxfabError).field }, { code, field }, what);
  }
}

const node1: Identity = { kind: 'node', node: 'h1' };

t.test('pki - the CA is a P-256 CA whose fingerprint is the SHA-256 of its DER', async (t) => {
  const ca = await FabricCa.create('test CA');
  const x = new X509Certificate(ca.certPem);
  t.ok(x.ca, 'basicConstraints CA:TRUE');
  t.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.ok(x.verify(x.publicKey), 'self-signed');
  t.equal(ca.fingerprint, createHash('sha256').update(x.raw).digest('hex'));
  t.match(x.subject, /CN=test CA/);
});

t.test('pki - a CSR gets a certificate naming the caller\'s identity, not the CSR\'s', async (t) => {
  const ca = await FabricCa.create();
  const { keyPem, publicKeyPem } = await newKeyPair();
  const csr = await makeCsr(keyPem, { kind: 'admin', name: 'mallory' }); // asks for admin
  const issued = await ca.issue({ identity: node1, csrPem: csr, ttlMs: 3600_000 });
  const x = new X509Certificate(issued.certPem);
  t.ok(x.verify(new X509Certificate(ca.certPem).publicKey), 'signed by the CA');
  t.ok(x.checkIssued(new X509Certificate(ca.certPem)));
  t.equal(x.subjectAltName, `URI:${identityUri(node1)}`, 'only the identity the caller gave');
  t.equal(x.publicKey.export({ type: 'spki', format: 'pem' }).toString(), publicKeyPem, 'for the CSR\'s key');
  t.notOk(x.ca);
  t.same(x.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], 'EKU serverAuth + clientAuth');
  const info = certInfo(issued.certPem);
  t.same(info.identity, node1);
  t.equal(info.serial, issued.serial);
  t.equal(info.serial, normalizeSerial(x.serialNumber), 'the same serial Node\'s TLS layer reports');
  t.equal(info.notAfter, issued.notAfter);
  t.ok(Math.abs(info.notAfter - (Date.now() + 3600_000)) < 5000, 'notAfter = now + ttl');
  t.ok(info.notBefore <= Date.now(), 'valid from now (backdated for skew)');
  t.same(certInfoFromDer(x.raw), info);
});

t.test('pki - server certificates carry IP and DNS names; serials differ', async (t) => {
  const ca = await FabricCa.create();
  const { publicKeyPem } = await newKeyPair();
  const a = await ca.issue({ identity: { kind: 'server', name: 'serve' }, publicKeyPem, ttlMs: 60_000, ips: ['127.0.0.1', '::1'], dns: ['localhost'] });
  const b = await ca.issue({ identity: { kind: 'server', name: 'serve' }, publicKeyPem, ttlMs: 60_000 });
  const san = new X509Certificate(a.certPem).subjectAltName ?? '';
  t.match(san, /URI:vxfab:\/\/server\/serve/);
  t.match(san, /IP Address:127\.0\.0\.1/);
  t.match(san, /IP Address:0:0:0:0:0:0:0:1/);
  t.match(san, /DNS:localhost/);
  t.not(a.serial, b.serial);
  t.ok(new X509Certificate(a.certPem).checkIP('127.0.0.1'));
});

t.test('pki - a CSR whose signature does not verify is refused', async (t) => {
  const ca = await FabricCa.create();
  const { keyPem } = await newKeyPair();
  const csr = await makeCsr(keyPem, node1);
  // Flip one bit near the end of the DER (inside the signature).
  const b64 = csr.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  const der = Buffer.from(b64, 'base64');
  der[der.length - 3] ^= 0x01;
  const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
  await rejectsVx(t, ca.issue({ identity: node1, csrPem: forged, ttlMs: 60_000 }), 'INVALID_ARGUMENT', 'csr', 'bad signature');
  await rejectsVx(t, ca.issue({ identity: node1, csrPem: 'junk', ttlMs: 60_000 }), 'INVALID_ARGUMENT', 'csr', 'not a CSR');
  await rejectsVx(t, ca.issue({ identity: node1, ttlMs: 60_000 }), 'INVALID_ARGUMENT', 'csr', 'no key at all');
  await rejectsVx(t, ca.issue({ identity: node1, csrPem: csr, ttlMs: 0 }), 'INVALID_ARGUMENT', 'ttlMs', 'zero ttl');
  await rejectsVx(t, ca.issue({ identity: { kind: 'node', node: 'Bad Name' }, csrPem: csr, ttlMs: 60_000 }), 'INVALID_ARGUMENT', 'identity', 'bad identity');
});

t.test('pki - fromPem round-trips and refuses a key that is not the CA\'s, or a leaf as CA', async (t) => {
  const ca = await FabricCa.create();
  const again = await FabricCa.fromPem(ca.certPem, ca.keyPem);
  t.equal(again.fingerprint, ca.fingerprint);
  const { keyPem, publicKeyPem } = await newKeyPair();
  const leaf = await again.issue({ identity: node1, publicKeyPem, ttlMs: 60_000 });
  t.ok(new X509Certificate(leaf.certPem).verify(new X509Certificate(ca.certPem).publicKey), 'reloaded CA signs as the original');
  await rejectsVx(t, FabricCa.fromPem(ca.certPem, keyPem), 'INVALID_ARGUMENT', 'ca.key', 'foreign key');
  await rejectsVx(t, FabricCa.fromPem(leaf.certPem, keyPem), 'INVALID_ARGUMENT', 'ca.crt', 'leaf as CA');
  await rejectsVx(t, FabricCa.fromPem('nope', ca.keyPem), 'INVALID_ARGUMENT', 'ca.crt', 'not a cert');
  await rejectsVx(t, FabricCa.fromPem(ca.certPem, 'nope'), 'INVALID_ARGUMENT', 'ca.key', 'not a key');
});

t.test('pki - certInfo refuses a certificate with no vxfab identity', async (t) => {
  const ca = await FabricCa.create();
  t.throws(() => certInfo(ca.certPem), { code: 'INVALID_ARGUMENT', field: 'certificate.subjectAltName' });
  t.throws(() => certInfo('garbage'), { code: 'INVALID_ARGUMENT', field: 'certificate' });
});

t.test('pki - normalizeSerial agrees across case and leading zeros', async (t) => {
  t.equal(normalizeSerial('00AB:CD'), 'abcd');
  t.equal(normalizeSerial('abcd'), 'abcd');
  t.equal(normalizeSerial('000'), '0');
});
