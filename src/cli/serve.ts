// `vxfab serve`: the controller and the lookup service in one process, on one port, over the
// embedded LevelDB store.
import { pino, type Logger } from 'pino';
import { LevelStore } from '../store/level-store.js';
import { Controller } from '../controller/controller.js';
import { RpcServer } from '../wire/transport/server.js';
import { startLocalLookup, type LocalLookup, type LocalLookupOptions } from '../lookup/local-feed.js';
import { registerLookup } from '../lookup/service.js';
import type { HostPort } from '../model/hostport.js';
import { parseHostPortOption } from './context.js';
import type { Credentials } from '../security/credentials.js';
import type { FabricCa } from '../security/pki.js';
import { serveSecurity, type ServeSecurity } from './serve-security.js';

export interface ServeOptions {
  listen: string;
  dataDir: string;
  /** Subscription hub bounds of the in-process lookup service. */
  lookupHub?: LocalLookupOptions['hub'];
  logger?: Logger;
  /** The fabric CA (enrollment) and this server's own credentials (mutual TLS); without
   *  credentials the server speaks plain TCP and every peer is the administrator. */
  ca?: FabricCa;
  credentials?: Credentials;
  /** Node and replica certificate lifetime. */
  memberCertTtlMs?: number;
}

export interface RunningServer {
  host: string;
  port: number;
  controller: Controller;
  lookup: LocalLookup;
  security: ServeSecurity;
  close(): Promise<void>;
}

/** A listen address: the model's host:port rule (port 0: any free port), as a usage error. */
export function parseListen(text: string, flag = '--listen'): HostPort {
  return parseHostPortOption(flag, text, { allowAnyPort: true });
}

export async function startServe(options: ServeOptions): Promise<RunningServer> {
  const log = options.logger ?? pino({ name: 'vxfab' });
  const { host, port } = parseListen(options.listen);
  // A data dir in use, damaged or missing acknowledged writes fails here, with a message that
  // names the directory or file; vxfab serve prints it and exits non-zero.
  const store = await LevelStore.open(options.dataDir, { logger: log });
  let controller: Controller;
  let lookup: LocalLookup;
  let server: RpcServer;
  let security: ServeSecurity;
  let address: { host: string; port: number };
  try {
    controller = await Controller.open(store);
    // The lookup index is complete before the port opens: no lookup is ever answered from half an index.
    lookup = await startLocalLookup(store, { hub: options.lookupHub, logger: log });
    security = await serveSecurity({ store, controller, lookup, ca: options.ca, logger: log, memberCertTtlMs: options.memberCertTtlMs });
    server = new RpcServer({
      identity: 'vxfab-serve', logger: log, authorize: security.authorize,
      tls: options.credentials === undefined ? undefined
        : { credentials: options.credentials, anonymousMethods: security.anonymousMethods, isRevoked: security.isRevoked },
    });
    security.register(server);
    registerLookup(server, lookup, { logger: log });
    address = await server.listen(host, port);
  } catch (err) {
    // Release the data dir's lock so the caller (or a retry) is not left with a held directory.
    await store.close().catch(() => undefined);
    throw err;
  }
  log.info({ listen: `${address.host}:${address.port}`, data: options.dataDir, revision: store.revision,
    mappings: lookup.index.mappings }, 'vxfab serving');
  return {
    host: address.host, port: address.port, controller, lookup, security,
    async close() {
      await server.close();
      security.close();
      await controller.idle();
      lookup.close();
      await store.close();
    },
  };
}
