// The shared suite against the kernel, each test in a fresh network namespace with a veth underlay.
import t from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { LinuxDataPlane } from '../../src/dataplane/linux/linux-dataplane.js';
import { bridgeDeviceName, vxlanDeviceName } from '../../src/dataplane/names.js';
import { Namespaces, netnsUnavailable, sh, underlayHost } from './netns.js';
import { dataplaneSuite } from './suite.js';

const reason = await netnsUnavailable();
if (reason !== undefined) {
  t.plan(0, `skipping linux data plane tests: ${reason}`);
} else {
  const nss = new Namespaces('vxt-dp-suite');
  await nss.cleanStale();
  t.teardown(() => nss.cleanup());
  let n = 0;

  dataplaneSuite(t, 'linux', async () => {
    const ns = await underlayHost(nss, `h${n++}`);
    const dp = new LinuxDataPlane({ netns: ns, logger: pino({ level: 'silent' }) });
    return {
      dp,
      local: '198.18.0.1',
      underlayDev: 'u0',
      watchWrites: (vnid) => watchWrites(ns, vnid),
      async lookupIp(vnid, ip) {
        await nss.ip(ns, 'addr', 'replace', '100.64.0.1/24', 'dev', bridgeDeviceName(vnid));
        await sh('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', ip]).catch(() => undefined);
      },
      async cleanup() {
        await dp.close();
        await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
      },
    };
  });
}

/** Records neighbour and FDB notifications of a namespace (`ip monitor neigh` shows both). A marker
 * entry written and seen at start and at stop brackets the window, so no event is missed or late. */
async function watchWrites(ns: string, vnid: number): Promise<() => Promise<string[]>> {
  const dev = vxlanDeviceName(vnid);
  const mon = spawn('ip', ['-n', ns, 'monitor', 'neigh'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: mon.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w();
  });
  const mark = async (ip: string): Promise<number> => {
    for (let i = 0; i < 100; i++) {
      await sh('ip', ['-n', ns, 'neigh', 'replace', ip, 'lladdr', '02:ff:ff:ff:ff:fe', 'dev', dev, 'nud', 'permanent']);
      await sh('ip', ['-n', ns, 'neigh', 'del', ip, 'dev', dev]);
      const at = lines.findIndex((l) => l.includes(ip));
      if (at >= 0) return at;
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 20);
      });
      const later = lines.findIndex((l) => l.includes(ip));
      if (later >= 0) return later;
    }
    throw new Error(`monitor in ${ns} never showed marker ${ip}`);
  };
  const from = (await mark('100.127.255.254')) + 1;
  return async () => {
    const to = await mark('100.127.255.253');
    mon.kill();
    return lines.slice(from, to).filter((l) => !l.includes('100.127.255.25'));
  };
}
