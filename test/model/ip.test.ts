import t from 'tap';
import { Netmask } from 'netmask';
import {
  cidrContains,
  cidrLast,
  cidrSize,
  cidrsOverlap,
  defaultGateway,
  formatIp,
  parseCidr,
  parseIp,
} from '../../src/model/ipam.js';
import { throwsVx } from './expect-error.js';

t.test('ip - parseIp gives canonical text for both families', async (t) => {
  t.same(parseIp('100.64.0.1', 'ip'), { family: 4, value: 0x64400001n, text: '100.64.0.1' });
  t.same(parseIp('2001:0DB8:0:0:0:0:0:1', 'ip'), { family: 6, value: 0x20010db8000000000000000000000001n, text: '2001:db8::1' });
  t.equal(parseIp('::', 'ip').value, 0n);
  t.equal(parseIp('1:2:3:4:5:6:7::', 'ip', 6).text, '1:2:3:4:5:6:7:0', 'a single zero group is not compressed');
});

t.test('ip - parseIp rejects garbage and the wrong family', async (t) => {
  for (const bad of ['', '1.2.3', '1.2.3.256', '01.2.3.4', ' 1.2.3.4', '1.2.3.4/32', 'fe80::1%eth0', '::1/128', '1::2::3', 'host.example', '[::1]']) {
    throwsVx(t, () => parseIp(bad, 'ips[0]'), 'INVALID_ARGUMENT', { field: 'ips[0]', value: bad }, JSON.stringify(bad));
  }
  throwsVx(t, () => parseIp('2001:db8::1', 'gateway4', 4), 'INVALID_ARGUMENT', { field: 'gateway4', message: /is IPv6, expected IPv4/ });
  throwsVx(t, () => parseIp('10.0.0.1', 'gateway6', 6), 'INVALID_ARGUMENT', { field: 'gateway6', message: /is IPv4, expected IPv6/ });
});

t.test('ip - formatIp round-trips and rejects out-of-range values', async (t) => {
  t.equal(formatIp(4, 0n), '0.0.0.0');
  t.equal(formatIp(4, 0xffffffffn), '255.255.255.255');
  t.equal(formatIp(6, 0x20010db8000000000000000000000000n), '2001:db8::');
  t.throws(() => formatIp(4, 1n << 32n), RangeError);
  t.throws(() => formatIp(6, -1n), RangeError);
  for (const text of ['198.18.3.4', 'fd00::abcd:1', '::ffff:102:304']) {
    const ip = parseIp(text, 'ip');
    t.equal(formatIp(ip.family, ip.value), text);
  }
});

t.test('ip - parseCidr canonicalises and reports host bits with a suggestion', async (t) => {
  t.same(parseCidr('100.64.0.0/10', 'subnet4'), { family: 4, network: 0x64400000n, prefix: 10, text: '100.64.0.0/10' });
  t.same(parseCidr('2001:DB8:0::/64', 'subnet6'), { family: 6, network: 0x20010db8n << 96n, prefix: 64, text: '2001:db8::/64' });
  t.equal(parseCidr('0.0.0.0/0', 's').text, '0.0.0.0/0');
  t.equal(parseCidr('10.1.2.3/32', 's').text, '10.1.2.3/32');
  t.equal(parseCidr('::1/128', 's').text, '::1/128');
  throwsVx(t, () => parseCidr('10.0.0.5/24', 'subnet4'), 'INVALID_ARGUMENT', {
    field: 'subnet4',
    value: '10.0.0.5/24',
    message: /host bits set, did you mean 10\.0\.0\.0\/24\?/,
  });
  throwsVx(t, () => parseCidr('2001:db8::1/64', 'subnet6'), 'INVALID_ARGUMENT', { message: /did you mean 2001:db8::\/64\?/ });
});

t.test('ip - parseCidr rejects garbage, bad prefixes and the wrong family', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['10.0.0.0', /missing prefix length/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/33', /prefix length must be an integer from 0 to 32/],
    ['2001:db8::/129', /from 0 to 128/],
    ['10.0.0.0/-1', /prefix length/],
    ['10.0.0.0/024', /prefix length/],
    ['10.0.0.0/24/', /prefix length/],
    ['10.0.0/24', /not a CIDR block/],
    ['fe80::%eth0/64', /not a CIDR block/],
    ['garbage/8', /not a CIDR block/],
  ];
  for (const [text, message] of bad) {
    throwsVx(t, () => parseCidr(text, 'subnet4'), 'INVALID_ARGUMENT', { field: 'subnet4', value: text, message }, text);
  }
  throwsVx(t, () => parseCidr('2001:db8::/64', 'subnet4', 4), 'INVALID_ARGUMENT', { message: /is IPv6, expected IPv4/ });
  throwsVx(t, () => parseCidr('10.0.0.0/8', 'subnet6', 6), 'INVALID_ARGUMENT', { message: /is IPv4, expected IPv6/ });
});

t.test('ip - cidrContains agrees with netmask for IPv4 and is family-aware', async (t) => {
  const blocks = ['100.64.0.0/10', '198.18.0.0/15', '10.0.0.0/31', '10.0.0.7/32', '0.0.0.0/0'];
  const probes = ['100.63.255.255', '100.64.0.0', '100.127.255.255', '100.128.0.0', '198.19.255.255', '10.0.0.1', '10.0.0.2', '10.0.0.7', '255.255.255.255'];
  for (const b of blocks) {
    const cidr = parseCidr(b, 's');
    const oracle = new Netmask(b);
    for (const p of probes) {
      t.equal(cidrContains(cidr, parseIp(p, 'ip')), oracle.contains(p), `${b} contains ${p}`);
    }
  }
  const v6 = parseCidr('2001:db8::/64', 's');
  t.equal(cidrContains(v6, parseIp('2001:db8::ffff:ffff:ffff:ffff', 'ip')), true);
  t.equal(cidrContains(v6, parseIp('2001:db8:0:1::', 'ip')), false);
  t.equal(cidrContains(parseCidr('0.0.0.0/0', 's'), parseIp('::1', 'ip')), false, 'no cross-family containment');
  t.equal(cidrContains(parseCidr('::/0', 's'), parseIp('0.0.0.1', 'ip')), false);
  t.equal(cidrContains(v6, v6.network), true, 'accepts a bare value');
});

t.test('ip - size and last address', async (t) => {
  t.equal(cidrSize(parseCidr('10.0.0.0/24', 's')), 256n);
  t.equal(cidrSize(parseCidr('2001:db8::/64', 's')), 1n << 64n);
  t.equal(formatIp(4, cidrLast(parseCidr('10.0.0.0/24', 's'))), '10.0.0.255');
  t.equal(formatIp(6, cidrLast(parseCidr('2001:db8::/126', 's'))), '2001:db8::3');
});

t.test('ip - cidrsOverlap across sizes and families', async (t) => {
  const c = (s: string) => parseCidr(s, 's');
  t.equal(cidrsOverlap(c('10.0.0.0/8'), c('10.200.0.0/16')), true, 'nested');
  t.equal(cidrsOverlap(c('10.200.0.0/16'), c('10.0.0.0/8')), true, 'nested, other order');
  t.equal(cidrsOverlap(c('10.0.0.0/24'), c('10.0.0.0/24')), true, 'same');
  t.equal(cidrsOverlap(c('10.0.0.0/24'), c('10.0.1.0/24')), false, 'adjacent');
  t.equal(cidrsOverlap(c('10.0.0.0/31'), c('10.0.0.1/32')), true);
  t.equal(cidrsOverlap(c('10.0.0.2/31'), c('10.0.0.1/32')), false);
  t.equal(cidrsOverlap(c('0.0.0.0/0'), c('203.0.113.0/24')), true);
  t.equal(cidrsOverlap(c('2001:db8::/32'), c('2001:db8:ffff::/48')), true);
  t.equal(cidrsOverlap(c('2001:db8::/64'), c('2001:db8:0:1::/64')), false);
  t.equal(cidrsOverlap(c('::/0'), c('0.0.0.0/0')), false, 'families never overlap');
  t.equal(cidrsOverlap(c('::/96'), c('0.0.0.0/0')), false, 'same bits, other family');
});

t.test('ip - defaultGateway is the first host, none for point-to-point blocks', async (t) => {
  const g = (s: string) => defaultGateway(parseCidr(s, 's'));
  t.equal(g('100.64.1.0/24'), '100.64.1.1');
  t.equal(g('100.64.1.4/30'), '100.64.1.5');
  t.equal(g('100.64.1.0/31'), undefined);
  t.equal(g('100.64.1.0/32'), undefined);
  t.equal(g('2001:db8::/64'), '2001:db8::1');
  t.equal(g('2001:db8::/126'), '2001:db8::1');
  t.equal(g('2001:db8::/127'), undefined);
  t.equal(g('2001:db8::/128'), undefined);
});
