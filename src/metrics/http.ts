// The metrics listener every daemon opens behind --metrics ADDR: Prometheus text on /metrics,
// /healthz (the process answers) and /readyz (the daemon serves: 200 when its ready() says so,
// 503 otherwise). Each daemon passes its own prom-client Registry, never the global one, so several
// daemons in one process (the simulator, tests) keep separate counters.
import { createServer, type Server } from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { parseHostPort } from '../model/hostport.js';

export interface MetricsListenerOptions {
  /** host:port; port 0 picks a free port. Loopback by default (the caller's default flag value). */
  listen: string;
  registry: Registry;
  /** Whether the daemon is serving (store open, agent connected to its controller). */
  ready: () => boolean;
}

export interface MetricsListener {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** A registry for one daemon, with the process metrics (CPU, RSS, event-loop lag) in it. */
export function daemonRegistry(daemon: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ daemon });
  collectDefaultMetrics({ register: registry, prefix: 'vxfab_' });
  return registry;
}

export async function startMetricsListener(options: MetricsListenerOptions): Promise<MetricsListener> {
  const { host, port } = parseHostPort(options.listen, '--metrics', { allowAnyPort: true });
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      options.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': options.registry.contentType });
        res.end(text);
      }, (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`metrics: ${err instanceof Error ? err.message : String(err)}\n`);
      });
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else if (path === '/readyz') {
      const ready = options.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ready ? 'ready\n' : 'not ready\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: /metrics, /healthz, /readyz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port;
  return {
    host, port: boundPort,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
