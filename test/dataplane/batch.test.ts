// The batch runner against a real `ip -batch` inside a namespace: per-line errors, and the lines
// that make iproute2 exit despite -force.
import t from 'tap';
import { pino } from 'pino';
import { BatchProcess } from '../../src/dataplane/linux/batch.js';
import { Namespaces, netnsUnavailable } from './netns.js';

const reason = await netnsUnavailable();
if (reason !== undefined) {
  t.plan(0, `skipping batch process tests: ${reason}`);
} else {
  const nss = new Namespaces('vxt-dp-batch');
  await nss.cleanStale();
  t.teardown(() => nss.cleanup());
  const log = pino({ level: 'silent' });

  t.test('dataplane batch - reports failed lines and goes on', async (t) => {
    const ns = await nss.add('a');
    const ip = new BatchProcess({ tool: 'ip', netns: ns, log });
    t.teardown(() => ip.close());
    const r = await ip.run(['link add d0 type bridge', 'link add d0 type bridge', 'link del nope0', 'link set d0 up']);
    t.equal(r[0], undefined);
    t.match(r[1], /File exists/);
    t.match(r[2], /Cannot find device "nope0"|does not exist/);
    t.equal(r[3], undefined);
    const [a, b] = await Promise.all([ip.run(['link add d1 type bridge']), ip.run(['link add d1 type bridge'])]);
    t.same([a[0], typeof b[0]], [undefined, 'string'], 'overlapping runs are kept apart and in order');
    t.same(ip.stats.deaths, 0);
    t.match(await nss.ip(ns, 'link', 'show', 'd0'), /UP/);
  });

  t.test('dataplane batch - survives lines that make ip exit, and finds them', async (t) => {
    const ns = await nss.add('b');
    const ip = new BatchProcess({ tool: 'ip', netns: ns, log });
    t.teardown(() => ip.close());
    await ip.run(['link add d0 type bridge']);
    const r = await ip.run([
      'neigh replace 100.64.0.2 lladdr 02:00:00:00:00:02 dev d0 nud permanent',
      'neigh del 100.64.0.9 dev d0',
      'link add vx0 type vxlan id 1 dstport 4789 dev nosuchdev',
      'neigh replace 100.64.0.3 lladdr 02:00:00:00:00:03 dev d0 nud permanent',
    ]);
    t.equal(r[0], undefined);
    t.match(r[1], /No such file or directory/, 'neigh del of a missing entry: ip exited');
    t.match(r[2], /nosuchdev/, 'link add on a missing device: ip exited');
    t.equal(r[3], undefined, 'the line after a fatal one still ran');
    t.ok(ip.stats.deaths >= 2, `deaths counted (${ip.stats.deaths})`);
    const neigh = await nss.ip(ns, 'neigh', 'show', 'dev', 'd0');
    t.match(neigh, /100\.64\.0\.2 /);
    t.match(neigh, /100\.64\.0\.3 /);
    t.same(await ip.run(['link set d0 up']), [undefined], 'usable afterwards');
  });

  t.test('dataplane batch - a process that cannot start fails the run, once', async (t) => {
    const ip = new BatchProcess({ tool: 'ip', netns: `vxt-dp-batch-${process.pid}-missing`, log });
    t.teardown(() => ip.close());
    await t.rejects(ip.run(['link show', 'link show', 'link show']), { code: 'UNAVAILABLE' });
    t.equal(ip.stats.spawns, 1);
  });
}
