// metrics - `vxfab lookup serve --metrics`: a real replica process following a real serve exports
// its own registry (daemon="lookup") and is ready once it follows the controller.
import t from 'tap';
import { spawn } from 'node:child_process';
import { startServe, CLI, credentialsFor } from '../helpers/serve-process.js';

const serve = await startServe(t);
const creds = credentialsFor(serve.address);
const child = spawn(process.execPath, [CLI, 'lookup', 'serve', '--controller', serve.address, '--listen', '127.0.0.1:0', '--log-level', 'warn',
  '--insecure', '--metrics', '127.0.0.1:0'], {
  stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(creds === undefined ? {} : { VXFAB_CREDENTIALS: creds }) },
});
const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
let stderr = '';
child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
const metricsAddress = await new Promise<string>((resolve, reject) => {
  let out = '';
  const timer = setTimeout(() => reject(new Error(`no metrics line in 15 s: ${stderr}`)), 15_000);
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /^metrics (\S+)$/m.exec(out);
    if (m) { clearTimeout(timer); resolve(m[1]!); }
  });
  void exited.then((code) => { clearTimeout(timer); reject(new Error(`lookup serve exited ${code}: ${stderr}`)); });
});

await t.test('metrics - lookup serve exports its own registry and is ready', async (t) => {
  const text = await (await fetch(`http://${metricsAddress}/metrics`)).text();
  t.match(text, /^vxfab_lookup_index_mappings\{daemon="lookup"\} \d+$/m);
  t.match(text, /^vxfab_lookup_subscribers\{daemon="lookup"\} 0$/m);
  t.equal((await fetch(`http://${metricsAddress}/readyz`)).status, 200);
  t.equal((await fetch(`http://${metricsAddress}/healthz`)).status, 200);
});

await t.test('metrics - lookup serve stops cleanly with its listener', async (t) => {
  child.kill('SIGTERM');
  t.equal(await exited, 0);
});
