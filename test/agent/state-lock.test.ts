// One agent per state directory: the lock file, and `vxfab agent` refusing to start beside a
// running one (real processes, each in a network namespace of its own making, so the agents'
// data planes see only an empty namespace).
import t from 'tap';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCK_FILE, lockStateDir } from '../../src/agent/state-lock.js';
import { SOCKET_NAME } from '../../src/agent/control-socket.js';
import { isVxfabError } from '../../src/model/errors.js';
import { Namespaces, netnsUnavailable } from '../dataplane/netns.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

async function tmpDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vxfab-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A process that lives until killed (a stand-in holder), and one that has exited. */
function sleeper(t: { teardown(fn: () => unknown): void }): ChildProcess {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => { child.kill('SIGKILL'); });
  return child;
}

async function deadPid(): Promise<number> {
  const child = spawn('true', [], { stdio: 'ignore' });
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

t.test('state lock - taken, refused while its holder lives, taken over from a dead one', async (t) => {
  const dir = await tmpDir(t);
  const holder = sleeper(t);
  const lock = await lockStateDir(dir, holder.pid);
  t.equal(await readFile(join(dir, LOCK_FILE), 'utf8'), `${holder.pid}\n`, 'the lock holds the pid');
  try {
    await lockStateDir(dir);
    t.fail('a second lock was granted');
  } catch (e) {
    t.ok(isVxfabError(e, 'ALREADY_EXISTS'), 'ALREADY_EXISTS');
    t.match((e as Error).message, `agent already running, pid ${holder.pid}`);
    t.equal(isVxfabError(e) ? e.field : '', 'state-dir');
  }
  t.equal(await readFile(join(dir, LOCK_FILE), 'utf8'), `${holder.pid}\n`, 'the refusal left the lock alone');
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  const mine = await lockStateDir(dir);
  t.equal(await readFile(join(dir, LOCK_FILE), 'utf8'), `${process.pid}\n`, 'a dead holder\'s lock is taken over');
  await lock.release();
  t.ok(await stat(join(dir, LOCK_FILE)).then(() => true, () => false), 'the old holder\'s release does not remove our lock');
  await mine.release();
  t.equal(await stat(join(dir, LOCK_FILE)).then(() => true, () => false), false, 'released');

  await writeFile(join(dir, LOCK_FILE), `${await deadPid()}\n`);
  await (await lockStateDir(dir)).release();
  await writeFile(join(dir, LOCK_FILE), 'garbage');
  await (await lockStateDir(dir)).release();
  t.pass('a dead pid and an unreadable lock are taken over');
});

const reason = await netnsUnavailable();
if (reason !== undefined) {
  t.comment(`skipping the two-process state lock test: ${reason}`);
} else {
  t.test('state lock - a second vxfab agent on the same state dir refuses and leaves the first alone', async (t) => {
    const nss = new Namespaces('vxt-lock');
    await nss.cleanStale();
    t.teardown(() => nss.cleanup());
    const ns = await nss.add('h');
    await nss.ip(ns, 'link', 'set', 'lo', 'up');
    const dir = await tmpDir(t);
    // Nothing listens on the controller's port: registration fails and retries; the agent runs.
    const argv = (node: string) => ['netns', 'exec', ns, process.execPath, CLI, '--server', '127.0.0.1:1', 'agent', '--node', node,
      '--underlay', '198.18.0.1', '--state-dir', dir, '--log-level', 'warn'];
    const first = spawn('ip', argv('h1'), { stdio: ['ignore', 'pipe', 'pipe'] });
    const firstExit = new Promise<number | null>((r) => first.once('exit', (code) => r(code)));
    t.teardown(() => { first.kill('SIGKILL'); });
    // Its control socket is up before it tries the (absent) controller.
    const deadline = Date.now() + 30_000;
    while (!(await stat(join(dir, SOCKET_NAME)).then(() => true, () => false))) {
      if (Date.now() > deadline) throw new Error('first agent\'s socket not there in 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const lockText = await readFile(join(dir, LOCK_FILE), 'utf8');
    const identity = await readFile(join(dir, 'agent.json'), 'utf8');
    const socketBefore = await stat(join(dir, SOCKET_NAME));

    const second = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile('ip', argv('other'), { encoding: 'utf8', timeout: 20_000 }, (err, _o, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stderr });
      });
    });
    t.equal(second.code, 3, 'the second agent exits with REFUSED');
    const pid = lockText.trim();
    t.match(second.stderr, `agent already running, pid ${pid}`, second.stderr);
    t.equal(await readFile(join(dir, 'agent.json'), 'utf8'), identity, 'the identity file is the first agent\'s');
    t.equal(await readFile(join(dir, LOCK_FILE), 'utf8'), lockText, 'and the lock');
    t.equal((await stat(join(dir, SOCKET_NAME))).ino, socketBefore.ino, 'its control socket is still there');
    const status = await new Promise<string>((resolve) => {
      execFile('ip', ['netns', 'exec', ns, process.execPath, CLI, '-o', 'json', 'agent', 'status', '--state-dir', dir],
        { encoding: 'utf8', timeout: 20_000 }, (_e, stdout) => resolve(stdout));
    });
    t.equal((JSON.parse(status) as { node: string }).node, 'h1', 'the first agent still answers on it');

    first.kill('SIGTERM');
    t.equal(await firstExit, 0, 'the first agent stops cleanly');
    t.equal(await stat(join(dir, LOCK_FILE)).then(() => true, () => false), false, 'and releases the lock');
  });
}
