// `vxfab serve`: the controller and the lookup service in one process, on one port, over the
// embedded LevelDB store. Mutual TLS by default, with the fabric CA and credentials kept in the
// data directory (security/serve-pki.ts); plain TCP only with `insecure`, and only on loopback.
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
import { UsageError } from './exit-codes.js';
import { daemonRegistry, startMetricsListener, type MetricsListener } from '../metrics/http.js';
import { registerLookupMetrics } from '../metrics/lookup.js';

/** serve's name: its hello identity, and its certificate's vxfab://server/<name>. */
export const SERVE_NAME = 'vxfab-serve';

export interface ServeOptions {
  listen: string;
  dataDir: string;
  /** Subscription hub bounds of the in-process lookup service. */
  lookupHub?: LocalLookupOptions['hub'];
  logger?: Logger;
  /** Plain TCP, every client an administrator; refused unless the listen address is loopback. */
  insecure?: boolean;
  /** An operator-provided CA (both or neither); default: the data directory's own. */
  caCertFile?: string;
  caKeyFile?: string;
  /** Tests and benches: this CA and server certificate instead of the data directory's. */
  ca?: FabricCa;
  credentials?: Credentials;
  /** Node and replica certificate lifetime. */
  memberCertTtlMs?: number;
  /** host:port of the Prometheus /metrics, /healthz, /readyz listener; none when absent. */
  metrics?: string;
}

export interface RunningServer {
  host: string;
  port: number;
  controller: Controller;
  lookup: LocalLookup;
  security: ServeSecurity;
  /** The fabric CA (undefined when insecure). */
  ca?: FabricCa;
  /** The administrator credentials file this start created (a new data directory), if any. */
  adminCreated?: string;
  /** The metrics listener's bound address, when `metrics` was given. */
  metrics?: { host: string; port: number };
  close(): Promise<void>;
}

/** Loopback addresses and names: the only places plain TCP may listen. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** A listen address: the model's host:port rule (port 0: any free port), as a usage error. */
export function parseListen(text: string, flag = '--listen'): HostPort {
  return parseHostPortOption(flag, text, { allowAnyPort: true });
}

export async function startServe(options: ServeOptions): Promise<RunningServer> {
  const log = options.logger ?? pino({ name: 'vxfab' });
  const { host, port } = parseListen(options.listen);
  if (options.insecure && !isLoopback(host)) {
    throw new UsageError(`--insecure: plain TCP listens on loopback only (127.0.0.1, ::1, localhost), not ${host}; drop --insecure to serve over TLS`);
  }
  if (options.insecure && (options.caCertFile !== undefined || options.caKeyFile !== undefined)) {
    throw new UsageError('--insecure makes no use of --ca-cert/--ca-key: choose one');
  }
  // Loaded here, not at the top: the X.509 library costs every other CLI command's start ~0.3 s.
  const pki = options.insecure ? undefined : options.credentials !== undefined && options.ca !== undefined
    ? { ca: options.ca, server: options.credentials, adminCreated: undefined }
    : await (await import('../security/serve-pki.js')).loadOrCreateServePki({
      dataDir: options.dataDir, name: SERVE_NAME, listenHost: host, logger: log,
      ...(options.caCertFile === undefined ? {} : { caCertFile: options.caCertFile }),
      ...(options.caKeyFile === undefined ? {} : { caKeyFile: options.caKeyFile }),
    });
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
    security = await serveSecurity({ store, controller, lookup, ca: pki?.ca, logger: log, memberCertTtlMs: options.memberCertTtlMs });
    server = new RpcServer({
      identity: SERVE_NAME, logger: log, authorize: security.authorize,
      ...(pki ? { tls: { credentials: pki.server, anonymousMethods: security.anonymousMethods, isRevoked: security.isRevoked } } : {}),
    });
    security.register(server);
    registerLookup(server, lookup, { logger: log });
    address = await server.listen(host, port);
  } catch (err) {
    // Release the data dir's lock so the caller (or a retry) is not left with a held directory.
    await store.close().catch(() => undefined);
    throw err;
  }
  let metrics: MetricsListener | undefined;
  let closed = false;
  if (options.metrics !== undefined) {
    const registry = daemonRegistry('serve');
    registerLookupMetrics(registry, lookup, () => store.revision);
    try {
      metrics = await startMetricsListener({ listen: options.metrics, registry, ready: () => !closed });
    } catch (err) {
      await server.close(); security.close(); lookup.close(); await store.close().catch(() => undefined);
      throw err;
    }
    log.info({ metrics: `${metrics.host}:${metrics.port}` }, 'metrics listening');
  }
  if (!pki) log.warn({ listen: `${address.host}:${address.port}` }, 'INSECURE: plain TCP, no authentication: every client is an administrator');
  log.info({ listen: `${address.host}:${address.port}`, data: options.dataDir, revision: store.revision,
    mappings: lookup.index.mappings }, 'vxfab serving');
  return {
    host: address.host, port: address.port, controller, lookup, security,
    ...(pki ? { ca: pki.ca } : {}), ...(pki?.adminCreated ? { adminCreated: pki.adminCreated } : {}),
    ...(metrics ? { metrics: { host: metrics.host, port: metrics.port } } : {}),
    async close() {
      closed = true;
      await metrics?.close();
      await server.close();
      security.close();
      await controller.idle();
      lookup.close();
      await store.close();
    },
  };
}
