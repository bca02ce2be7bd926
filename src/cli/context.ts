// What every command gets: the parsed global options, a connected client, the output writer.
import { RpcClient } from '../wire/transport/client.js';
import { vxfab } from '../wire/gen/proto.js';
import { Output, type OutputFormat } from './output.js';
import { UsageError } from './exit-codes.js';
import { VxfabError, isVxfabError } from '../model/errors.js';
import { parseHostPort, type HostPort, type HostPortOptions } from '../model/hostport.js';
import { clientTls, credentialsFile } from './credentials.js';

export const DEFAULT_SERVER = '127.0.0.1:4800';
const CALL_TIMEOUT_MS = 30_000;

export interface GlobalOptions {
  server?: string;
  output?: string;
  /** The credentials file (see credentials.ts). */
  credentials?: string;
}

/** A host:port option by the model's rule (src/model/hostport.ts), refused as a usage error
 *  (exit 2) that names the flag and says what is wrong. */
export function parseHostPortOption(flag: string, text: string, options: HostPortOptions = {}): HostPort {
  try {
    return parseHostPort(text, flag, options);
  } catch (e) {
    if (!isVxfabError(e)) throw e;
    throw new UsageError(`${flag} ${JSON.stringify(text)}: ${e.message.slice(e.message.indexOf(': ') + 2)}`);
  }
}

/** A server address for the CLI (the text, once checked). */
export function parseServer(text: string, flag = '--server'): string {
  parseHostPortOption(flag, text);
  return text;
}

export function outputFormat(text: string | undefined): OutputFormat {
  const f = text ?? 'table';
  if (f !== 'table' && f !== 'json') throw new UsageError(`--output "${f}": expected table or json`);
  return f;
}

export class CliContext {
  private client?: RpcClient;
  readonly out: Output;
  readonly server: string;
  /** The credentials file this command uses, if any. */
  readonly credentialsFile: string | undefined;

  constructor(options: GlobalOptions) {
    this.server = parseServer(options.server ?? process.env.VXFAB_SERVER ?? DEFAULT_SERVER);
    this.out = new Output(outputFormat(options.output));
    this.credentialsFile = credentialsFile(options, true);
  }

  /** A connected client; fails with UNAVAILABLE when the server cannot be reached. */
  async connect(): Promise<RpcClient> {
    if (this.client) return this.client;
    const tls = await clientTls(this.credentialsFile);
    const client = new RpcClient({
      address: this.server, role: vxfab.v1.Role.ROLE_CLI, identity: 'cli',
      timeoutMs: CALL_TIMEOUT_MS, reconnect: false, ...(tls ? { tls } : {}),
    });
    try {
      await client.connect();
    } catch (e) {
      await client.close();
      const how = this.credentialsFile === undefined
        ? ' (no credentials: pass --credentials FILE or set VXFAB_CREDENTIALS unless the server runs --insecure)'
        : ` (with credentials ${this.credentialsFile})`;
      const code = e instanceof VxfabError && e.code === 'PERMISSION_DENIED' ? 'PERMISSION_DENIED' : 'UNAVAILABLE';
      throw new VxfabError(code, `cannot reach the vxfab server at ${this.server}${how}: ${e instanceof Error ? e.message : String(e)}`,
        { field: 'server', value: this.server, cause: e });
    }
    this.client = client;
    return client;
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}
