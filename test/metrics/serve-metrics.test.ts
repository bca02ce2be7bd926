// metrics - vxfab serve's /metrics, /healthz and /readyz, in-process on loopback, and the Grafana
// dashboard in docs/ names only metrics a live serve exports.
import t from 'tap';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startServe } from '../../src/cli/serve.js';

const dataDir = await mkdtemp(join(tmpdir(), 'vxfab-ob-metrics-'));
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const running = await startServe({ listen: '127.0.0.1:0', dataDir, insecure: true, metrics: '127.0.0.1:0', logger: pino({ level: 'silent' }) });
let closed = false;
t.teardown(async () => { if (!closed) await running.close(); });
const base = `http://127.0.0.1:${running.metrics!.port}`;

await t.test('metrics - serve exports lookup gauges and process metrics', async (t) => {
  const res = await fetch(`${base}/metrics`);
  t.equal(res.status, 200);
  const text = await res.text();
  t.match(text, /^vxfab_lookup_index_mappings\{daemon="serve"\} 0$/m);
  t.match(text, /^vxfab_lookup_subscribers\{daemon="serve"\} 0$/m);
  t.match(text, /^vxfab_feed_lag_revisions\{daemon="serve"\} 0$/m);
  t.match(text, /^vxfab_process_resident_memory_bytes\{daemon="serve"\} \d+/m);
  // A write moves the revision gauge.
  const before = Number(/^vxfab_lookup_revision\{daemon="serve"\} (\d+)$/m.exec(text)![1]);
  await running.controller.createTenant('obacme');
  const after = Number(/^vxfab_lookup_revision\{daemon="serve"\} (\d+)$/m.exec(await (await fetch(`${base}/metrics`)).text())![1]);
  t.ok(after > before, `revision ${before} -> ${after}`);
});

await t.test('metrics - healthz, readyz and unknown paths', async (t) => {
  t.equal((await fetch(`${base}/healthz`)).status, 200);
  t.equal((await fetch(`${base}/readyz`)).status, 200);
  t.equal((await fetch(`${base}/nothing`)).status, 404);
});

await t.test('metrics - every metric the Grafana dashboard uses exists on a live serve', async (t) => {
  const dashboard = JSON.parse(await readFile(fileURLToPath(new URL('../../../docs/grafana-dashboard.json', import.meta.url)), 'utf8')) as
    { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
  const text = await (await fetch(`${base}/metrics`)).text();
  const exported = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap((m) =>
    m[2] === 'histogram' ? [`${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]!]));
  const used = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((x) => [...x.expr.matchAll(/\bvxfab_[a-z0-9_]+/g)].map((m) => m[0]))));
  t.ok(used.size > 0, 'the dashboard uses metrics');
  for (const name of used) t.ok(exported.has(name), `${name} is exported`);
});

await t.test('metrics - the listener closes with serve', async (t) => {
  await running.close();
  closed = true;
  await t.rejects(fetch(`${base}/healthz`));
});
