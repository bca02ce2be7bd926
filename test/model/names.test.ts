import t from 'tap';
import { validateName, validateNodeName } from '../../src/model/names.js';
import { throwsVx } from './expect-error.js';

t.test('names - validateName accepts DNS labels', async (t) => {
  for (const ok of ['a', 'blue', 'tenant-1', '9lives', 'a'.repeat(63), 'x-y-z']) {
    t.equal(validateName(ok, 'name'), ok);
  }
});

t.test('names - validateName says what is wrong', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    ['', /must not be empty/],
    ['a'.repeat(64), /64 characters long, at most 63/],
    ['Blue', /must be lowercase/],
    ['blue_net', /contains "_"/],
    ['blue.net', /contains "\."/],
    ['-blue', /must not start with '-'/],
    ['blue-', /must not end with '-'/],
    ['blü', /contains "ü"/],
    [42, /must be text/],
  ];
  for (const [value, message] of cases) {
    throwsVx(t, () => validateName(value, 'network.name'), 'INVALID_ARGUMENT', { field: 'network.name', message }, String(value));
  }
});

t.test('names - validateNodeName accepts hostnames', async (t) => {
  for (const ok of ['host1', 'rack3-node12.dc1.example', 'a.b', `${'a'.repeat(63)}.${'b'.repeat(63)}`]) {
    t.equal(validateNodeName(ok, 'node'), ok);
  }
  const long = Array.from({ length: 4 }, () => 'c'.repeat(63)).join('.'); // 255 chars
  throwsVx(t, () => validateNodeName(long, 'node'), 'INVALID_ARGUMENT', { message: /at most 253/ });
  t.equal(validateNodeName(long.slice(0, 253), 'node').length, 253);
});

t.test('names - validateNodeName says what is wrong', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['', /must not be empty/],
    ['.host', /empty label/],
    ['host.', /empty label/],
    ['a..b', /empty label/],
    ['Host.example', /label "Host" must be lowercase/],
    ['host.-x', /label "-x" must not start with '-'/],
    [`${'a'.repeat(64)}.b`, /64 characters long, at most 63/],
    ['host_1', /contains "_"/],
  ];
  for (const [value, message] of cases) {
    throwsVx(t, () => validateNodeName(value, 'node.name'), 'INVALID_ARGUMENT', { field: 'node.name', value, message }, value);
  }
});
