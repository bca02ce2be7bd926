// log - the logging root: level from the flag, else VXFAB_LOG_LEVEL, else info; JSON lines or
// readable lines; children carry the module name; a bad level is a usage error of the daemon.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { rootLogger, resolveLogLevel, formatLine } from '../../src/log.js';
import { CLI } from '../helpers/serve-process.js';

t.test('log - level from the flag, else VXFAB_LOG_LEVEL, else info', async (t) => {
  t.equal(resolveLogLevel('debug', { VXFAB_LOG_LEVEL: 'warn' }), 'debug');
  t.equal(resolveLogLevel(undefined, { VXFAB_LOG_LEVEL: 'warn' }), 'warn');
  t.equal(resolveLogLevel(undefined, {}), 'info');
  t.throws(() => resolveLogLevel(undefined, { VXFAB_LOG_LEVEL: 'loud' }), /VXFAB_LOG_LEVEL: "loud" is not a log level/);
});

t.test('log - JSON lines with the module of a child; readable lines on a terminal', async (t) => {
  const lines: string[] = [];
  const json = rootLogger({ name: 'vxfab-agent', level: 'debug', readable: false, out: { write: (s: string) => lines.push(s) } });
  json.child({ module: 'agent' }).debug({ mac: '02:00:00:00:02:01', vnid: 5001, dst: '198.18.0.2' }, 'fdb write');
  const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.match(rec, { name: 'vxfab-agent', module: 'agent', level: 20, msg: 'fdb write', mac: '02:00:00:00:02:01', vnid: 5001 });
  const pretty: string[] = [];
  const readable = rootLogger({ name: 'vxfab', level: 'info', readable: true, out: { write: (s: string) => pretty.push(s) } });
  readable.child({ module: 'wire' }).info({ listen: '127.0.0.1:4800', note: 'two words' }, 'serving');
  readable.debug('hidden at info');
  t.equal(pretty.length, 1);
  t.match(pretty[0]!, /^\d\d:\d\d:\d\d\.\d{3} INFO  vxfab\/wire: serving listen=127\.0\.0\.1:4800 note="two words"\n$/);
  t.equal(formatLine('not json'), 'not json\n');
});

t.test('log - a bad --log-level or VXFAB_LOG_LEVEL is a usage error of serve', async (t) => {
  const flag = spawnSync(process.execPath, [CLI, 'serve', '--insecure', '--listen', '127.0.0.1:0', '--data', '/nonexistent/ob', '--log-level', 'nope'], { encoding: 'utf8' });
  t.equal(flag.status, 2);
  t.match(flag.stderr, /--log-level: "nope" is not a log level/);
  const env = spawnSync(process.execPath, [CLI, 'serve', '--insecure', '--listen', '127.0.0.1:0', '--data', '/nonexistent/ob'],
    { encoding: 'utf8', env: { ...process.env, VXFAB_LOG_LEVEL: 'nope' } });
  t.equal(env.status, 2);
  t.match(env.stderr, /VXFAB_LOG_LEVEL: "nope"/);
});
