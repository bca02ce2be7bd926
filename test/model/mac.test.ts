import t from 'tap';
import { MacAllocator, macToNumber, numberToMac, parseMac } from '../../src/model/mac.js';
import { throwsVx } from './expect-error.js';

t.test('mac - parseMac accepts colon and dash forms in any case, returns lowercase colons', async (t) => {
  t.equal(parseMac('02:00:00:0A:0b:0C'), '02:00:00:0a:0b:0c');
  t.equal(parseMac('52-54-00-12-34-56'), '52:54:00:12:34:56');
  t.equal(parseMac('00:1B:21:aa:bb:cc'), '00:1b:21:aa:bb:cc', 'universally administered unicast is fine');
});

t.test('mac - parseMac rejects garbage, multicast, all-zero and broadcast', async (t) => {
  for (const bad of ['', '02:00:00:0a:0b', '02:00:00:0a:0b:0c:0d', '02:00:00-0a:0b:0c', '0200.000a.0b0c', 'g2:00:00:0a:0b:0c', '2:0:0:a:b:c', ' 02:00:00:0a:0b:0c']) {
    throwsVx(t, () => parseMac(bad, 'nics[0].mac'), 'INVALID_ARGUMENT', { field: 'nics[0].mac', value: bad }, JSON.stringify(bad));
  }
  throwsVx(t, () => parseMac('01:00:5e:00:00:01'), 'INVALID_ARGUMENT', { field: 'mac', message: /multicast/ });
  throwsVx(t, () => parseMac('33:33:00:00:00:01'), 'INVALID_ARGUMENT', { message: /multicast/ });
  throwsVx(t, () => parseMac('00:00:00:00:00:00'), 'INVALID_ARGUMENT', { message: /all-zero/ });
  throwsVx(t, () => parseMac('FF:FF:FF:FF:FF:FF'), 'INVALID_ARGUMENT', { message: /broadcast/ });
});

t.test('mac - number conversions round-trip', async (t) => {
  t.equal(macToNumber('00:00:00:00:00:01'), 1);
  t.equal(macToNumber('ff:ff:ff:ff:ff:ff'), 2 ** 48 - 1);
  t.equal(macToNumber('01:00:5e:00:00:01'), 0x01005e000001, 'any well-formed MAC converts');
  t.equal(numberToMac(0x0200000a0b0c), '02:00:00:0a:0b:0c');
  t.equal(numberToMac(2 ** 48 - 1), 'ff:ff:ff:ff:ff:ff');
  t.equal(numberToMac(macToNumber('aa-bb-cc-dd-ee-0f')), 'aa:bb:cc:dd:ee:0f');
  t.throws(() => numberToMac(2 ** 48), RangeError);
  t.throws(() => numberToMac(-1), RangeError);
  throwsVx(t, () => macToNumber('nope'), 'INVALID_ARGUMENT', { field: 'mac' });
});

t.test('mac - allocator prefix must be 1-5 octets, unicast and locally administered', async (t) => {
  t.equal(new MacAllocator().prefix, '02:00:00');
  t.equal(new MacAllocator('0A-BC').prefix, '0a:bc');
  t.equal(new MacAllocator('06').size, 2 ** 40);
  t.equal(new MacAllocator('02:00:00:00:01').size, 256);
  for (const bad of ['', '02:00:00:00:00:00', '2', '02:0', '02:00-00', 'zz']) {
    throwsVx(t, () => new MacAllocator(bad), 'INVALID_ARGUMENT', { field: 'mac-prefix', value: bad }, JSON.stringify(bad));
  }
  throwsVx(t, () => new MacAllocator('03:00:00'), 'INVALID_ARGUMENT', { message: /multicast/ });
  throwsVx(t, () => new MacAllocator('00:1b:21'), 'INVALID_ARGUMENT', { message: /not locally administered/ });
});

t.test('mac - allocator skips taken MACs, wraps, and reports exhaustion', async (t) => {
  const a = new MacAllocator('02:00:00:00:01');
  const taken = new Set(['02:00:00:00:01:00', '02:00:00:00:01:02']);
  const isTaken = (m: string): boolean => taken.has(m);
  const first = a.allocate(isTaken);
  t.equal(first, '02:00:00:00:01:01');
  taken.add(first);
  t.equal(a.allocate(isTaken), '02:00:00:00:01:03', 'skips a taken one');
  // Fill the rest of the space as the caller would.
  taken.add('02:00:00:00:01:03');
  let n = 0;
  for (;;) {
    let mac: string;
    try {
      mac = a.allocate(isTaken);
    } catch (e) {
      throwsVx(t, () => { throw e; }, 'RESOURCE_EXHAUSTED', { field: 'mac', value: '02:00:00:00:01' });
      break;
    }
    t.equal(taken.has(mac), false, `fresh ${mac}`);
    t.equal(parseMac(mac), mac, 'every allocated MAC is a valid endpoint MAC');
    taken.add(mac);
    n++;
    if (n > 300) break;
  }
  t.equal(taken.size, 256, 'every MAC under the prefix handed out once');
  taken.delete('02:00:00:00:01:80');
  t.equal(a.allocate(isTaken), '02:00:00:00:01:80', 'a freed MAC is found after wrapping');
});

t.test('mac - consecutive allocations differ even before the caller records them', async (t) => {
  const a = new MacAllocator();
  const never = (): boolean => false;
  t.not(a.allocate(never), a.allocate(never));
});

t.test('mac - observe moves the counter past existing MACs under the prefix only', async (t) => {
  const a = new MacAllocator('02:aa:00');
  t.equal(a.observe('02:aa:00:00:00:10'), true);
  t.equal(a.observe('02:aa:00:00:00:05'), true, 'lower one does not move it back');
  t.equal(a.observe('52:54:00:00:00:ff'), false, 'other prefix is ignored');
  t.equal(a.allocate(() => false), '02:aa:00:00:00:11');
});
