// The controller's side of enrollment and revocation: one-time tokens, the certificates the fabric
// CA issues through them (and through Renew and IssueCredentials), and the revocation records a
// node's deletion writes. Every write goes through the controller's group committer, as one atomic
// batch, like every other write of the store.
//
// Records (src/model/keys.ts): k/<id> TokenRecord (the secret's SHA-256 only), c/<serial>
// CertRecord (who holds which serial, so deleting a node can revoke all of its certificates),
// r/<serial> Revocation (in the change feed, for replicas). Tokens and certificate records never
// leave the controller: the feed leaves them out.
import type { Logger } from 'pino';
import { VxfabError, invalid } from '../model/errors.js';
import { describeIdentity, identityUri, parseIdentityUri, type Identity } from '../model/identity.js';
import { CERT_PREFIX, TOKEN_PREFIX, certKey, revocationKey, tokenKey } from '../model/keys.js';
import { validateNodeName } from '../model/names.js';
import type { Store, StoreOp } from '../store/store.js';
import type { FabricCa } from '../security/pki.js';
import { newToken, parseToken, hashSecret, secretMatches } from '../security/token.js';
import { vxfab } from '../wire/gen/proto.js';

export const DEFAULT_TOKEN_TTL_MS = 3600_000;
/** Longest token life: a token is a bearer secret, so it should not lie around for long. */
export const MAX_TOKEN_TTL_MS = 7 * 24 * 3600_000;
/** Node and replica certificates: short, since agents renew them on their own. */
export const DEFAULT_MEMBER_CERT_TTL_MS = 30 * 24 * 3600_000;
/** Administrator and tenant-operator credentials (made by hand): a year. */
export const DEFAULT_CREDENTIALS_TTL_MS = 365 * 24 * 3600_000;

export type TokenKindName = 'node' | 'replica';

export interface IssuedCertificate {
  certPem: string;
  caPem: string;
  serial: string;
  notAfterMs: number;
  identity: string;
}

/** The controller's group committer (group-commit.ts), as far as this service uses it. */
export interface Committer {
  submit(write: { build(revision: number): StoreOp[] }): Promise<number>;
}

export interface SecurityServiceOptions {
  logger: Logger;
  memberCertTtlMs?: number;
  now?: () => number;
}

const { TokenKind } = vxfab.v1;

const denied = (message: string, field: string, value: string): VxfabError =>
  new VxfabError('PERMISSION_DENIED', message, { field, value });

function identityOfToken(kind: TokenKindName, name: string): Identity {
  return kind === 'node' ? { kind: 'node', node: name } : { kind: 'replica', name };
}

export class SecurityService {
  private readonly tokens = new Map<string, vxfab.v1.TokenRecord>();
  /** identity URI → serial → notAfter, of every certificate issued and not revoked. */
  private readonly certs = new Map<string, Map<string, number>>();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly memberTtl: number;

  private constructor(private readonly committer: Committer, readonly ca: FabricCa, options: SecurityServiceOptions) {
    this.log = options.logger.child({ module: 'security' });
    this.now = options.now ?? Date.now;
    this.memberTtl = options.memberCertTtlMs ?? DEFAULT_MEMBER_CERT_TTL_MS;
  }

  static async open(store: Store, committer: Committer, ca: FabricCa, options: SecurityServiceOptions): Promise<SecurityService> {
    const s = new SecurityService(committer, ca, options);
    for await (const [, v] of store.scan(TOKEN_PREFIX)) {
      const t = vxfab.v1.TokenRecord.decode(v);
      s.tokens.set(t.id, t);
    }
    for await (const [, v] of store.scan(CERT_PREFIX)) {
      const c = vxfab.v1.CertRecord.decode(v);
      s.remember(c.identity, c.serial, Number(c.notAfterMs));
    }
    return s;
  }

  private remember(identity: string, serial: string, notAfter: number): void {
    let m = this.certs.get(identity);
    if (!m) this.certs.set(identity, (m = new Map()));
    m.set(serial, notAfter);
  }

  /** A one-time token binding a node or replica name. */
  async createToken(kind: TokenKindName, name: string, ttlMs = DEFAULT_TOKEN_TTL_MS): Promise<{ token: string; expiresMs: number; identity: string }> {
    validateNodeName(name, 'name');
    if (!Number.isInteger(ttlMs) || ttlMs <= 0 || ttlMs > MAX_TOKEN_TTL_MS) {
      throw invalid('ttl', ttlMs, `must be between 1 ms and ${MAX_TOKEN_TTL_MS / 3600_000} h`);
    }
    const t = newToken(this.ca.fingerprint);
    const now = this.now();
    const rec = vxfab.v1.TokenRecord.create({
      id: t.id, kind: kind === 'node' ? TokenKind.TOKEN_KIND_NODE : TokenKind.TOKEN_KIND_REPLICA,
      name, secretSha256: hashSecret(t.secret), expiresMs: now + ttlMs, createdMs: now, usedMs: 0,
    });
    this.tokens.set(t.id, rec);
    try {
      await this.committer.submit({ build: () => [{ type: 'put', key: tokenKey(t.id), value: vxfab.v1.TokenRecord.encode(rec).finish() }] });
    } catch (e) {
      this.tokens.delete(t.id);
      throw e;
    }
    const identity = identityUri(identityOfToken(kind, name));
    this.log.info({ token: t.id, identity, expiresMs: now + ttlMs }, 'enrollment token created');
    return { token: t.text, expiresMs: now + ttlMs, identity };
  }

  /**
   * Trades a token and a CSR for a certificate of the identity the token binds. Refused
   * (PERMISSION_DENIED, nothing written) for an unknown, wrong, used or expired token, a token of
   * another fabric, and a name other than the token's.
   */
  async enroll(tokenText: string, name: string, csrPem: string): Promise<IssuedCertificate> {
    const tok = parseToken(tokenText, 'token');
    if (tok.caPin !== this.ca.fingerprint) {
      throw denied(`token ${tok.id} is for another fabric (its CA pin is not this CA's)`, 'token', tok.id);
    }
    const rec = this.tokens.get(tok.id);
    if (!rec || !secretMatches(tok.secret, rec.secretSha256)) throw denied(`token ${tok.id} is not valid here`, 'token', tok.id);
    if (Number(rec.usedMs) !== 0) throw denied(`token ${tok.id} was already used`, 'token', tok.id);
    if (this.now() >= Number(rec.expiresMs)) {
      throw denied(`token ${tok.id} expired at ${new Date(Number(rec.expiresMs)).toISOString()}`, 'token', tok.id);
    }
    const kind: TokenKindName = rec.kind === TokenKind.TOKEN_KIND_REPLICA ? 'replica' : 'node';
    if (name !== '' && name !== rec.name) {
      throw denied(`token ${tok.id} enrolls ${kind} ${rec.name}, not ${name}`, 'name', name);
    }
    // Used from here on, before the CA's await: a second Enroll with the same token, racing this
    // one, is refused. A bad CSR gives the token back (nothing was issued).
    rec.usedMs = this.now();
    let issued: IssuedCertificate;
    try {
      issued = await this.issue(identityOfToken(kind, rec.name), csrPem, this.memberTtl,
        [{ type: 'put', key: tokenKey(rec.id), value: vxfab.v1.TokenRecord.encode(rec).finish() }]);
    } catch (e) {
      rec.usedMs = 0;
      throw e;
    }
    this.log.info({ token: rec.id, identity: issued.identity, serial: issued.serial }, 'enrolled');
    return issued;
  }

  /** A fresh certificate of the caller's own identity (a node or replica renewing before expiry). */
  async renew(who: Identity, csrPem: string): Promise<IssuedCertificate> {
    if (who.kind !== 'node' && who.kind !== 'replica') {
      throw denied(`${describeIdentity(who)} may not renew: only nodes and replicas do`, 'identity', identityUri(who));
    }
    const issued = await this.issue(who, csrPem, this.memberTtl, []);
    this.log.info({ identity: issued.identity, serial: issued.serial }, 'certificate renewed');
    return issued;
  }

  /** Credentials for any identity but a server's (an administrator's request). */
  async issueCredentials(identityText: string, csrPem: string, ttlMs = DEFAULT_CREDENTIALS_TTL_MS): Promise<IssuedCertificate> {
    const who = parseIdentityUri(identityText, 'identity');
    if (who.kind === 'server') {
      throw invalid('identity', identityText, 'server certificates are made by vxfab serve itself, not issued to clients');
    }
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw invalid('ttl', ttlMs, 'must be a positive number of milliseconds');
    return this.issue(who, csrPem, ttlMs, []);
  }

  private async issue(who: Identity, csrPem: string, ttlMs: number, alsoWrite: StoreOp[]): Promise<IssuedCertificate> {
    if (typeof csrPem !== 'string' || csrPem.trim() === '') throw invalid('csr_pem', '', 'a PEM certificate request is required');
    const cert = await this.ca.issue({ identity: who, csrPem, ttlMs });
    const identity = identityUri(who);
    const record = vxfab.v1.CertRecord.create({ serial: cert.serial, identity, notAfterMs: cert.notAfter, issuedMs: this.now() });
    await this.committer.submit({ build: () => [
      ...alsoWrite,
      { type: 'put', key: certKey(cert.serial), value: vxfab.v1.CertRecord.encode(record).finish() },
    ] });
    this.remember(identity, cert.serial, cert.notAfter);
    return { certPem: cert.certPem, caPem: this.ca.certPem, serial: cert.serial, notAfterMs: cert.notAfter, identity };
  }

  /**
   * The revocations of every certificate of `who`, as store ops to commit in the same batch as
   * what causes them (a node's deletion): the node and its credentials go together or not at all.
   * The in-memory list is updated when the batch commits (RevocationList follows the store).
   */
  revocationOps(who: Identity): StoreOp[] {
    const identity = identityUri(who);
    const mine = this.certs.get(identity);
    if (!mine) return [];
    const now = this.now();
    const ops: StoreOp[] = [];
    for (const [serial, notAfter] of mine) {
      const rev = vxfab.v1.Revocation.create({ serial, identity, revokedMs: now, notAfterMs: notAfter });
      ops.push({ type: 'put', key: revocationKey(serial), value: vxfab.v1.Revocation.encode(rev).finish() });
      ops.push({ type: 'del', key: certKey(serial) });
    }
    return ops;
  }

  /** After the batch of revocationOps(who) committed: forget its certificates. */
  revoked(who: Identity): void {
    this.certs.delete(identityUri(who));
  }
}
