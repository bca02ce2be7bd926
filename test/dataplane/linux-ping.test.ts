// Real packets: two namespaced hosts on a veth underlay (198.18.0.1, 198.18.0.2), each with the
// network's VXLAN device and bridge made by LinuxDataPlane and one endpoint namespace plugged into
// the bridge (100.64.1.1, 100.64.1.2). With FDB, neighbour and flood entries programmed a ping
// crosses; with them removed it does not. Every ping is bounded (-c, -W).
import t from 'tap';
import { pino } from 'pino';
import { LinuxDataPlane } from '../../src/dataplane/linux/linux-dataplane.js';
import { bridgeDeviceName } from '../../src/dataplane/names.js';
import { Namespaces, netnsUnavailable, sh } from './netns.js';

const VNID = 4242;
const MTU = 1450;

const reason = await netnsUnavailable();
if (reason !== undefined) {
  t.plan(0, `skipping linux data plane ping test: ${reason}`);
} else {
  const nss = new Namespaces('vxt-dp-ping');
  await nss.cleanStale();
  t.teardown(() => nss.cleanup());

  t.test('dataplane linux - ping crosses VXLAN between two hosts only while entries are programmed', async (t) => {
    const ha = await nss.add('ha');
    const hb = await nss.add('hb');
    await nss.ip(ha, 'link', 'add', 'ua', 'type', 'veth', 'peer', 'name', 'ub', 'netns', hb);
    await nss.ip(ha, 'addr', 'add', '198.18.0.1/24', 'dev', 'ua');
    await nss.ip(hb, 'addr', 'add', '198.18.0.2/24', 'dev', 'ub');
    await nss.ip(ha, 'link', 'set', 'ua', 'up');
    await nss.ip(hb, 'link', 'set', 'ub', 'up');

    const hosts = [
      { ns: ha, under: 'ua', local: '198.18.0.1', ep: await nss.add('ea'), ip: '100.64.1.1', mac: '02:00:00:64:01:01' },
      { ns: hb, under: 'ub', local: '198.18.0.2', ep: await nss.add('eb'), ip: '100.64.1.2', mac: '02:00:00:64:01:02' },
    ] as const;
    const dps = hosts.map((h) => new LinuxDataPlane({ netns: h.ns, logger: pino({ level: 'silent' }) }));
    t.teardown(() => Promise.all(dps.map((d) => d.close())));

    for (const [i, h] of hosts.entries()) {
      await dps[i]!.ensureNetwork({ vnid: VNID, mtu: MTU, local: h.local, underlayDev: h.under, port: 4789, learningMisses: false });
      await nss.ip(h.ns, 'link', 'add', 'pe', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ep);
      await nss.ip(h.ns, 'link', 'set', 'pe', 'mtu', String(MTU), 'master', bridgeDeviceName(VNID), 'up');
      await nss.ip(h.ep, 'link', 'set', 'eth0', 'address', h.mac, 'mtu', String(MTU), 'up');
      await nss.ip(h.ep, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0');
    }
    const program = async (on: boolean): Promise<void> => {
      for (const [i, h] of hosts.entries()) {
        const peer = hosts[1 - i]!;
        await dps[i]!.apply(
          VNID,
          on
            ? { fdbSet: [{ mac: peer.mac, dst: peer.local }], floodAdd: [peer.local], neighSet: [{ ip: peer.ip, mac: peer.mac }] }
            : { fdbDel: [peer.mac], floodDel: [peer.local], neighDel: [peer.ip] },
        );
      }
    };
    const ping = (): Promise<boolean> =>
      sh('ip', ['netns', 'exec', hosts[0].ep, 'ping', '-c', '3', '-W', '1', '-i', '0.2', hosts[1].ip]).then(
        () => true,
        () => false,
      );

    t.equal(await ping(), false, 'no entries: no ping');
    await program(true);
    t.equal(await ping(), true, 'entries programmed: ping -c 3 crosses');
    t.same((await dps[0]!.read(VNID)).neigh.get(hosts[1].ip), hosts[1].mac);
    await program(false);
    // The endpoint's ARP cache still holds the peer: the drop must come from the VXLAN tables.
    t.equal(await ping(), false, 'entries removed: no ping');
  });
}
