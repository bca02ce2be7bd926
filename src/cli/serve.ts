// `vxfab serve`: the controller and the lookup service in one process, on one port, over the
// embedded LevelDB store.
import { pino, type Logger } from 'pino';
import { LevelStore } from '../store/level-store.js';
import { Controller } from '../controller/controller.js';
import { registerController } from '../controller/service.js';
import { RpcServer } from '../wire/transport/server.js';
import { startLocalLookup, type LocalLookup, type LocalLookupOptions } from '../lookup/local-feed.js';
import { registerLookup } from '../lookup/service.js';

export interface ServeOptions {
  listen: string;
  dataDir: string;
  /** Subscription hub bounds of the in-process lookup service. */
  lookupHub?: LocalLookupOptions['hub'];
  logger?: Logger;
}

export interface RunningServer {
  host: string;
  port: number;
  controller: Controller;
  lookup: LocalLookup;
  close(): Promise<void>;
}

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`--listen "${text}": expected HOST:PORT, e.g. 127.0.0.1:4800`);
  return { host: m[1] ?? m[2]!, port };
}

export async function startServe(options: ServeOptions): Promise<RunningServer> {
  const log = options.logger ?? pino({ name: 'vxfab' });
  const { host, port } = parseListen(options.listen);
  const store = await LevelStore.open(options.dataDir);
  const controller = await Controller.open(store);
  // The lookup index is complete before the port opens: no lookup is ever answered from half an index.
  const lookup = await startLocalLookup(store, { hub: options.lookupHub, logger: log });
  const server = new RpcServer({ identity: 'vxfab-serve', logger: log.child({ module: 'wire' }) });
  registerController(server, controller);
  registerLookup(server, lookup, { logger: log });
  const address = await server.listen(host, port);
  log.info({ listen: `${address.host}:${address.port}`, data: options.dataDir, revision: store.revision,
    mappings: lookup.index.mappings }, 'vxfab serving');
  return {
    host: address.host, port: address.port, controller, lookup,
    async close() {
      await server.close();
      await controller.idle();
      lookup.close();
      await store.close();
    },
  };
}
