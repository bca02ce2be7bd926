import t from 'tap';
import {
  DEFAULT_MTU,
  DEFAULT_UNDERLAY_MTU,
  DEFAULT_VTEP_PORT,
  MTU_MAX,
  MTU_MIN,
  VXLAN_OVERHEAD_V4,
  VXLAN_OVERHEAD_V6,
  parseMtu,
  parsePort,
} from '../../src/model/limits.js';
import { throwsVx } from './expect-error.js';

t.test('limits - constants relate as documented', async (t) => {
  t.equal(DEFAULT_MTU, DEFAULT_UNDERLAY_MTU - VXLAN_OVERHEAD_V4);
  t.equal(DEFAULT_MTU, 1450);
  t.equal(VXLAN_OVERHEAD_V6 - VXLAN_OVERHEAD_V4, 20, 'IPv6 header is 20 bytes longer');
  t.equal(DEFAULT_VTEP_PORT, 4789);
  t.ok(MTU_MIN <= DEFAULT_MTU && DEFAULT_MTU <= MTU_MAX);
});

t.test('limits - parseMtu accepts 576..9000 as number or text', async (t) => {
  t.equal(parseMtu(576), 576);
  t.equal(parseMtu('9000'), 9000);
  t.equal(parseMtu(1450, 'network.mtu'), 1450);
  throwsVx(t, () => parseMtu(575), 'INVALID_ARGUMENT', { field: 'mtu', value: '575', message: /576 to 9000|576 .* 9000/ });
  throwsVx(t, () => parseMtu(9001, 'network.mtu'), 'INVALID_ARGUMENT', { field: 'network.mtu', message: /out of range/ });
  for (const bad of [1500.5, '1500 ', 'abc', '', null, Infinity]) {
    throwsVx(t, () => parseMtu(bad), 'INVALID_ARGUMENT', { field: 'mtu' }, JSON.stringify(bad));
  }
});

t.test('limits - parsePort accepts 1..65535', async (t) => {
  t.equal(parsePort(1), 1);
  t.equal(parsePort('65535'), 65535);
  t.equal(parsePort(DEFAULT_VTEP_PORT, 'vtep-port'), 4789);
  throwsVx(t, () => parsePort(0), 'INVALID_ARGUMENT', { field: 'port', value: '0' });
  throwsVx(t, () => parsePort(65536, 'vtep-port'), 'INVALID_ARGUMENT', { field: 'vtep-port' });
  throwsVx(t, () => parsePort('-1'), 'INVALID_ARGUMENT', { message: /out of range/ });
  throwsVx(t, () => parsePort('0x10'), 'INVALID_ARGUMENT');
});
