import t from 'tap';
import { parseMissLine } from '../../src/dataplane/linux/miss-monitor.js';
import { parseTables } from '../../src/dataplane/linux/tables.js';
import { parseLink, compareVxlan, toNetworkState } from '../../src/dataplane/linux/link.js';
import { bridgeDeviceName, vnidFromVxlanDevice, vxlanDeviceName } from '../../src/dataplane/names.js';
import { canonicalIp, canonicalMac } from '../../src/dataplane/validate.js';

t.test('dataplane names - derived from the VNID, fit IFNAMSIZ, and map back', async (t) => {
  t.equal(vxlanDeviceName(16777215), 'vx-16777215');
  t.ok(vxlanDeviceName(16777215).length <= 15);
  t.equal(bridgeDeviceName(1), 'br-1');
  // VNID 0 is no vxfab network's (src/model/vnid.ts): the data plane refuses it like the controller.
  t.throws(() => bridgeDeviceName(0), { code: 'INVALID_ARGUMENT', field: 'vnid' });
  t.equal(vnidFromVxlanDevice('vx-5001'), 5001);
  for (const other of ['br-5001', 'vx-05', 'vx-16777216', 'vxlan0', 'vx-1a']) t.equal(vnidFromVxlanDevice(other), undefined, other);
  t.throws(() => vxlanDeviceName(1.5), { code: 'INVALID_ARGUMENT', field: 'vnid' });
});

t.test('dataplane validate - canonical MACs and IPs, with the field named on error', async (t) => {
  t.equal(canonicalMac('02:AB:00:00:00:01'), '02:ab:00:00:00:01');
  t.equal(canonicalIp('FD00:0000::0001'), 'fd00::1');
  t.equal(canonicalIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  t.throws(() => canonicalMac('ff:ff:ff:ff:ff:ff', 'x.mac'), { code: 'INVALID_ARGUMENT', field: 'x.mac' });
  t.throws(() => canonicalIp('100.64.1', 'x.ip'), { code: 'INVALID_ARGUMENT', field: 'x.ip' });
});

t.test('dataplane monitor - parses l2 and l3 miss lines of our devices only', async (t) => {
  t.same(parseMissLine('miss 100.64.1.50 dev vx-10 STALE '), { vnid: 10, kind: 'l3', ip: '100.64.1.50' });
  t.same(parseMissLine('miss fd00::0:5 dev vx-10 STALE'), { vnid: 10, kind: 'l3', ip: 'fd00::5' });
  t.same(parseMissLine('miss dev vx-7 lladdr 02:00:00:00:00:6A STALE '), { vnid: 7, kind: 'l2', mac: '02:00:00:00:00:6a' });
  t.equal(parseMissLine('miss 100.64.1.50 dev eth0 STALE'), undefined, 'not our device');
  t.equal(parseMissLine('100.64.1.60 dev vx-10 lladdr 02:00:00:00:00:60 PERMANENT'), undefined, 'a change, not a miss');
  t.equal(parseMissLine('Deleted 198.18.0.2 dev vx-10 lladdr 00:00:00:00:00:00 NOARP PERMANENT'), undefined);
});

t.test('dataplane linux tables - keeps our permanent self entries, drops bridge and learned ones', async (t) => {
  const fdb = JSON.stringify([
    { mac: 'ea:a6:4f:20:64:49', flags: [], master: 'br-10', state: 'permanent' },
    { mac: '02:00:00:00:00:61', flags: [], master: 'br-10', state: '' },
    { mac: '00:00:00:00:00:00', dst: '198.18.0.2', flags: ['self'], state: 'permanent' },
    { mac: '00:00:00:00:00:00', dst: '198.18.0.3', flags: ['self'], state: 'permanent' },
    { mac: '02:00:00:00:00:01', dst: '198.18.0.2', flags: ['self'], state: 'permanent' },
    { mac: '02:00:00:00:00:02', dst: '198.18.0.2', flags: ['self'], state: '' },
  ]);
  const neigh = JSON.stringify([
    { dst: '100.64.1.2', lladdr: '02:00:00:00:00:01', state: ['PERMANENT'] },
    { dst: 'fd00::2', lladdr: '02:00:00:00:00:01', state: ['PERMANENT'] },
    { dst: '100.64.1.9', state: ['FAILED'] },
  ]);
  const got = parseTables(fdb, neigh);
  t.same([...got.fdb], [['02:00:00:00:00:01', '198.18.0.2']]);
  t.same([...got.flood], ['198.18.0.2', '198.18.0.3']);
  t.same([...got.neigh], [['100.64.1.2', '02:00:00:00:00:01'], ['fd00::2', '02:00:00:00:00:01']]);
  t.same([...parseTables('', '').fdb], []);
});

t.test('dataplane linux link - compares a device to a spec in words, splitting in-place from recreate', async (t) => {
  const v = parseLink({
    ifname: 'vx-10',
    mtu: 1500,
    flags: ['BROADCAST', 'UP'],
    master: 'br-10',
    linkinfo: { info_kind: 'vxlan', info_data: { id: 10, local: '198.18.0.9', link: 'u0', port: 8472, learning: true, proxy: true, l2miss: false, l3miss: false } },
  });
  t.match(toNetworkState(v), { vnid: 10, vxlanDev: 'vx-10', bridgeDev: 'br-10', port: 8472, learning: true, up: true });
  const c = compareVxlan(v, { vnid: 10, mtu: 1450, local: '198.18.0.1', underlayDev: 'u0', port: 4789, learningMisses: false });
  t.same(c.recreate, ['port: have 8472, want 4789']);
  t.same(c.inPlace.map((d) => d.difference), ['local: have 198.18.0.9, want 198.18.0.1', 'learning: have on, want off', 'mtu: have 1500, want 1450']);
  t.same(c.inPlace.map((d) => d.line), ['link set vx-10 type vxlan local 198.18.0.1', 'link set vx-10 type vxlan nolearning', 'link set vx-10 mtu 1450']);
});
