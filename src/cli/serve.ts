// `vxfab serve`: the controller and the lookup service in one process, on one port, over the
// embedded LevelDB store.
import { pino, type Logger } from 'pino';
import { LevelStore } from '../store/level-store.js';
import { Controller } from '../controller/controller.js';
import { registerController } from '../controller/service.js';
import { RpcServer } from '../wire/transport/server.js';

export interface ServeOptions {
  listen: string;
  dataDir: string;
  logger?: Logger;
}

export interface RunningServer {
  host: string;
  port: number;
  controller: Controller;
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
  const server = new RpcServer({ identity: 'vxfab-serve', logger: log.child({ module: 'wire' }) });
  registerController(server, controller);
  const address = await server.listen(host, port);
  log.info({ listen: `${address.host}:${address.port}`, data: options.dataDir, revision: store.revision }, 'vxfab serving');
  return {
    host: address.host, port: address.port, controller,
    async close() {
      await server.close();
      await controller.idle();
      await store.close();
    },
  };
}
