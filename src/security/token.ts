// Enrollment tokens: `vxf1.<id>.<secret>.<ca-pin>`.
//   id      12 hex digits: names the token's record (k/<id>) and appears in logs;
//   secret  32 hex digits (128 random bits): only its SHA-256 is stored;
//   ca-pin  the SHA-256 of the fabric CA certificate's DER (64 hex digits): the joining host has
//           no CA yet, so it checks the server's CA against this before it sends the token.
// A token is a bearer credential: whoever holds it may enroll once as the name it binds.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { invalid } from '../model/errors.js';

export const TOKEN_VERSION = 'vxf1';
const FORMAT = /^vxf1\.([0-9a-f]{12})\.([0-9a-f]{32})\.([0-9a-f]{64})$/;

export interface ParsedToken {
  id: string;
  secret: string;
  caPin: string;
}

export function newToken(caPin: string): ParsedToken & { text: string } {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(16).toString('hex');
  return { id, secret, caPin, text: formatToken({ id, secret, caPin }) };
}

export function formatToken(t: ParsedToken): string {
  return `${TOKEN_VERSION}.${t.id}.${t.secret}.${t.caPin}`;
}

/** INVALID_ARGUMENT naming `field` for anything not a token; the value shown never holds the secret. */
export function parseToken(text: string, field = 'token'): ParsedToken {
  const m = FORMAT.exec(typeof text === 'string' ? text.trim() : '');
  if (!m) {
    const shown = typeof text === 'string' ? text.split('.').slice(0, 2).join('.') : '';
    throw invalid(field, shown, 'is not a vxfab enrollment token (vxf1.<id>.<secret>.<ca-pin>, from `vxfab token create`)');
  }
  return { id: m[1], secret: m[2], caPin: m[3] };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Whether `secret` hashes to `sha256hex`, in constant time. */
export function secretMatches(secret: string, sha256hex: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(sha256hex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
