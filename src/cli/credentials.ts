// Which credentials file a command uses: --credentials FILE, else VXFAB_CREDENTIALS, else (for
// commands an administrator runs) ./vxfab-data/admin.credentials when it exists, so that the
// README's `vxfab serve` followed by `vxfab tenant create …` in the same directory just works.
// With none, the command speaks plain TCP (to an --insecure server).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_CREDENTIALS_FILE, readCredentials } from '../security/credentials.js';
import type { ClientTlsOptions } from '../wire/transport/tls.js';

export const DEFAULT_DATA_DIR = './vxfab-data';
export const DEFAULT_CREDENTIALS = join(DEFAULT_DATA_DIR, ADMIN_CREDENTIALS_FILE);

export interface CredentialsChoice {
  credentials?: string;
}

/** The file to use, or undefined. `adminDefault`: fall back to ./vxfab-data/admin.credentials
 *  (not for agents and replicas, which must never act as the administrator by accident). */
export function credentialsFile(options: CredentialsChoice, adminDefault: boolean, env = process.env): string | undefined {
  const given = options.credentials ?? env.VXFAB_CREDENTIALS;
  if (given !== undefined && given !== '') return given;
  if (adminDefault && existsSync(DEFAULT_CREDENTIALS)) return DEFAULT_CREDENTIALS;
  return undefined;
}

/** The client TLS options for `file` (errors name it), or undefined for plain TCP. */
export async function clientTls(file: string | undefined): Promise<ClientTlsOptions | undefined> {
  if (file === undefined) return undefined;
  const credentials = await readCredentials(file);
  return { credentials, caPem: credentials.caPem };
}
