import t from 'tap';
import fc from 'fast-check';
import { BAD, checkVnid, formatIp4, formatMac, ip6Key, parseIp4, parseMac } from '../../src/lookup/addr.js';
import { expectError } from './fixtures.js';

t.test('lookup addr - MAC parse and format round trip, either case', async (t) => {
  t.equal(parseMac('02:00:00:00:00:01'), 0x020000000001);
  t.equal(parseMac('FF:ff:Ab:cD:01:9e'), 0xffabcd019e + 0xff0000000000);
  for (const bad of ['', '02:00:00:00:00', '02:00:00:00:00:0g', '02-00:00:00:00:01', '02:00:00:00:00:001', ' 2:00:00:00:00:01']) {
    t.equal(parseMac(bad), BAD, `rejects ${JSON.stringify(bad)}`);
  }
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }), (hi, lo) => {
    const text = formatMac(hi, lo);
    return parseMac(text) === hi * 0x100000000 + lo && parseMac(text.toUpperCase()) === hi * 0x100000000 + lo;
  }));
});

t.test('lookup addr - IPv4 parse is strict dotted quad', async (t) => {
  t.equal(parseIp4('100.64.1.2'), (100 * 2 ** 24) + (64 << 16) + (1 << 8) + 2);
  t.equal(parseIp4('255.255.255.255'), 0xffffffff);
  t.equal(parseIp4('0.0.0.0'), 0);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1..2.3', '1.2.3.', 'a.b.c.d', '1.2.3.4/24']) {
    t.equal(parseIp4(bad), BAD, `rejects ${JSON.stringify(bad)}`);
  }
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => parseIp4(formatIp4(v)) === v));
});

t.test('lookup addr - IPv6 keys are equal for equal addresses however written', async (t) => {
  t.equal(ip6Key('fd00::1'), ip6Key('fd00:0:0:0:0:0:0:1'));
  t.equal(ip6Key('FD00::0001'), ip6Key('fd00::1'));
  t.equal(ip6Key('::'), '0:0:0:0:0:0:0:0');
  t.equal(ip6Key('::1'), '0:0:0:0:0:0:0:1');
  t.equal(ip6Key('1::'), '1:0:0:0:0:0:0:0');
  t.equal(ip6Key('::ffff:100.64.0.1'), '0:0:0:0:0:ffff:6440:1');
  t.not(ip6Key('fd00::1'), ip6Key('fd00::2'));
  for (const bad of ['fd00:::1', '1:2:3:4:5:6:7:8:9', 'fd00::1::2', '12345::', 'g::1', '1:2:3:4:5:6:7', 'fd00::1%eth0', ':1', '1:']) {
    t.equal(ip6Key(bad), undefined, `rejects ${JSON.stringify(bad)}`);
  }
  fc.assert(fc.property(fc.ipV6(), (a) => {
    const k = ip6Key(a);
    return k !== undefined && k.split(':').length === 8;
  }));
});

t.test('lookup addr - vnid range 1..16777215', async (t) => {
  checkVnid(1);
  checkVnid(16777215);
  for (const bad of [0, -1, 16777216, 1.5, Number.NaN]) {
    expectError(t, () => checkVnid(bad), 'INVALID_ARGUMENT', 'vnid', `rejects ${bad}`);
  }
});
