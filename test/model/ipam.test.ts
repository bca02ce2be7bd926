import t from 'tap';
import { SubnetPool, defaultGateway, parseCidr } from '../../src/model/ipam.js';
import { throwsVx } from './expect-error.js';

function pool(cidr: string, gateway?: 'default' | string): SubnetPool {
  const c = parseCidr(cidr, 'subnet');
  return new SubnetPool(c, gateway === 'default' ? defaultGateway(c) : gateway);
}

function drain(p: SubnetPool): string[] {
  const out: string[] = [];
  for (;;) {
    try {
      out.push(p.allocate());
    } catch {
      return out;
    }
  }
}

t.test('ipam - IPv4 /24 never hands out network, broadcast or gateway', async (t) => {
  const p = pool('100.64.7.0/24', 'default');
  t.equal(p.gateway, '100.64.7.1');
  t.equal(p.capacity, 253n);
  const got = drain(p);
  t.equal(got.length, 253);
  t.equal(got[0], '100.64.7.2', 'first after the gateway');
  t.equal(got[252], '100.64.7.254', 'last before broadcast');
  t.equal(new Set(got).size, 253, 'no duplicates');
  t.notOk(got.includes('100.64.7.0') || got.includes('100.64.7.1') || got.includes('100.64.7.255'));
  throwsVx(t, () => p.allocate(), 'RESOURCE_EXHAUSTED', { field: 'subnet4', value: '100.64.7.0/24', message: /100\.64\.7\.0\/24: no free addresses/ });
  t.equal(p.used, 253);
});

t.test('ipam - IPv4 explicit claims: inside, outside, reserved, taken, wrong family', async (t) => {
  const p = pool('100.64.7.0/24', '100.64.7.254');
  p.claim('100.64.7.10');
  t.equal(p.isAllocated('100.64.7.10'), true);
  throwsVx(t, () => p.claim('100.64.7.10', 'ips[2]'), 'ALREADY_EXISTS', { field: 'ips[2]', value: '100.64.7.10' });
  throwsVx(t, () => p.claim('100.64.8.1'), 'INVALID_ARGUMENT', { field: 'ips', message: /outside subnet 100\.64\.7\.0\/24/ });
  throwsVx(t, () => p.claim('100.64.7.0'), 'INVALID_ARGUMENT', { message: /network address/ });
  throwsVx(t, () => p.claim('100.64.7.255'), 'INVALID_ARGUMENT', { message: /broadcast address/ });
  throwsVx(t, () => p.claim('100.64.7.254'), 'INVALID_ARGUMENT', { message: /gateway/ });
  throwsVx(t, () => p.claim('2001:db8::1'), 'INVALID_ARGUMENT', { message: /is IPv6, expected IPv4/ });
  throwsVx(t, () => p.claim('100.64.7.300'), 'INVALID_ARGUMENT', { value: '100.64.7.300' });
  t.equal(p.used, 1, 'failed claims change nothing');
  t.equal(p.allocate(), '100.64.7.1', 'no gateway at .1 here, so .1 is a host');
});

t.test('ipam - gateway must be a usable host inside the subnet', async (t) => {
  const c4 = parseCidr('10.1.0.0/24', 'subnet4');
  throwsVx(t, () => new SubnetPool(c4, '10.2.0.1'), 'INVALID_ARGUMENT', { field: 'gateway4', message: /outside subnet/ });
  throwsVx(t, () => new SubnetPool(c4, '10.1.0.0'), 'INVALID_ARGUMENT', { field: 'gateway4', message: /network address/ });
  throwsVx(t, () => new SubnetPool(c4, '10.1.0.255'), 'INVALID_ARGUMENT', { field: 'gateway4', message: /broadcast/ });
  throwsVx(t, () => new SubnetPool(c4, 'fd00::1'), 'INVALID_ARGUMENT', { field: 'gateway4' });
  const c6 = parseCidr('fd00:1::/64', 'subnet6');
  throwsVx(t, () => new SubnetPool(c6, 'fd00:1::'), 'INVALID_ARGUMENT', { field: 'gateway6', message: /subnet-router anycast/ });
  throwsVx(t, () => new SubnetPool(c6, '10.1.0.1'), 'INVALID_ARGUMENT', { field: 'gateway6' });
  t.equal(new SubnetPool(c6, 'FD00:1::FFFF').gateway, 'fd00:1::ffff', 'canonical gateway text');
});

t.test('ipam - IPv4 /30 has two hosts, one left after the gateway', async (t) => {
  const p = pool('10.0.0.4/30', 'default');
  t.same(drain(p), ['10.0.0.6']);
  const q = pool('10.0.0.4/30');
  t.same(drain(q), ['10.0.0.5', '10.0.0.6']);
});

t.test('ipam - IPv4 /31 uses both addresses (RFC 3021), /32 its only one', async (t) => {
  const p31 = pool('10.0.0.8/31');
  t.equal(p31.capacity, 2n);
  t.same(drain(p31), ['10.0.0.8', '10.0.0.9']);
  const p31gw = pool('10.0.0.8/31', '10.0.0.8');
  t.same(drain(p31gw), ['10.0.0.9'], 'a /31 gateway may be either address');
  const p32 = pool('10.0.0.9/32');
  t.same(drain(p32), ['10.0.0.9']);
  throwsVx(t, () => p32.allocate(), 'RESOURCE_EXHAUSTED', { value: '10.0.0.9/32' });
  const q32 = pool('10.0.0.9/32');
  q32.claim('10.0.0.9');
  throwsVx(t, () => q32.claim('10.0.0.9'), 'ALREADY_EXISTS');
  throwsVx(t, () => q32.claim('10.0.0.8'), 'INVALID_ARGUMENT', { message: /outside/ });
});

t.test('ipam - IPv6 /64 works sparsely and reserves the subnet-router anycast address', async (t) => {
  const p = pool('2001:db8:1::/64', 'default');
  t.equal(p.capacity, (1n << 64n) - 2n);
  t.same([p.allocate(), p.allocate()], ['2001:db8:1::2', '2001:db8:1::3']);
  p.claim('2001:db8:1::ffff:ffff:ffff:ffff');
  t.equal(p.isAllocated('2001:db8:1:0:ffff:ffff:ffff:ffff'), true, 'lookup by non-canonical text');
  throwsVx(t, () => p.claim('2001:db8:1::'), 'INVALID_ARGUMENT', { message: /subnet-router anycast/ });
  throwsVx(t, () => p.claim('2001:db8:1::1'), 'INVALID_ARGUMENT', { message: /gateway/ });
  throwsVx(t, () => p.claim('2001:db8:2::1'), 'INVALID_ARGUMENT', { message: /outside subnet 2001:db8:1::\/64/ });
  throwsVx(t, () => p.claim('10.0.0.1'), 'INVALID_ARGUMENT', { message: /is IPv4, expected IPv6/ });
  for (let i = 0; i < 10_000; i++) p.allocate();
  t.equal(p.used, 10_003);
});

t.test('ipam - addresses near and far from the subnet start are each in use exactly once', async (t) => {
  // The pool keeps small offsets as numbers and large ones (IPv6 only) as bigints: either kind
  // must claim, answer, refuse twice and release like the other.
  const p = pool('2001:db8:5::/64');
  // Offsets from the first host (::1): 0, 2^30 - 2 and 2^30 - 1, then 2^30, 2^32 - 1 and 2^64 - 3.
  const near = ['2001:db8:5::1', '2001:db8:5::3fff:ffff', '2001:db8:5::4000:0'];
  const far = ['2001:db8:5::4000:1', '2001:db8:5::1:0:0', '2001:db8:5::ffff:ffff:ffff:fffe'];
  for (const ip of [...near, ...far]) p.claim(ip);
  t.equal(p.used, 6);
  for (const ip of [...near, ...far]) {
    t.equal(p.isAllocated(ip), true, `${ip} is in use`);
    throwsVx(t, () => p.claim(ip), 'ALREADY_EXISTS');
  }
  t.equal(p.isAllocated('2001:db8:5::4000:2'), false, 'a far neighbour is free');
  t.equal(p.isAllocated('2001:db8:6::1'), false, 'an address of another subnet is not');
  for (const ip of [...near, ...far]) t.equal(p.release(ip), true, `${ip} released`);
  t.equal(p.used, 0);
  for (const ip of [...near, ...far]) t.equal(p.isAllocated(ip), false);
  const v4 = pool('100.64.0.0/10');
  v4.claim('100.127.255.254');
  t.equal(v4.isAllocated('100.127.255.254'), true, 'the last host of a /10');
  t.equal(v4.release('100.127.255.254'), true);
});

t.test('ipam - IPv6 /126 has three hosts, /127 two (RFC 6164), /128 one', async (t) => {
  t.same(drain(pool('2001:db8::/126')), ['2001:db8::1', '2001:db8::2', '2001:db8::3'], 'no broadcast in IPv6');
  t.same(drain(pool('2001:db8::/126', 'default')), ['2001:db8::2', '2001:db8::3']);
  t.same(drain(pool('2001:db8::/127')), ['2001:db8::', '2001:db8::1']);
  t.same(drain(pool('2001:db8::5/128')), ['2001:db8::5']);
  throwsVx(t, () => pool('2001:db8::5/128').claim('2001:db8::6'), 'INVALID_ARGUMENT', { message: /outside/ });
  const p = pool('2001:db8::/127');
  p.claim('2001:db8::1');
  t.equal(p.allocate(), '2001:db8::');
  throwsVx(t, () => p.allocate(), 'RESOURCE_EXHAUSTED', { field: 'subnet6', value: '2001:db8::/127' });
});

t.test('ipam - released addresses are reused after the cursor wraps', async (t) => {
  const p = pool('10.9.0.0/29', 'default'); // hosts .2 - .6
  t.same(drain(p), ['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
  t.equal(p.release('10.9.0.4'), true);
  t.equal(p.release('10.9.0.4'), false, 'double release is a no-op');
  t.equal(p.release('2001:db8::4'), false, 'other family is never in use');
  t.equal(p.isAllocated('10.9.0.4'), false);
  t.equal(p.allocate(), '10.9.0.4');
  p.release('10.9.0.6');
  p.release('10.9.0.2');
  t.equal(p.allocate(), '10.9.0.6', 'next-fit: after the last one handed out');
  t.equal(p.allocate(), '10.9.0.2', 'then wraps');
  throwsVx(t, () => p.release('nonsense'), 'INVALID_ARGUMENT');
});
