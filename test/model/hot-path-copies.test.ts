// Each fabric rule has one home in src/model/; the fast copies on hot paths (the lookup
// service's parsers, the data plane's canonical forms, the CLI's option checks) must give the
// model's answers. These properties hold every copy against its home, on generated and on
// hostile input.
import t from 'tap';
import fc from 'fast-check';
import { macToNumber, parseMac as modelParseMac } from '../../src/model/mac.js';
import { parseIp } from '../../src/model/ip.js';
import { parseVnid, VNID_MAX, VNID_MIN } from '../../src/model/vnid.js';
import { DEFAULT_VTEP_PORT, VXLAN_OVERHEAD_V4, VXLAN_OVERHEAD_V6 } from '../../src/model/limits.js';
import { NIC_PREFIX, NODE_PREFIX, keyKind, nicKey, nodeKey } from '../../src/model/keys.js';
import { parseHostPort } from '../../src/model/hostport.js';
import * as lookupAddr from '../../src/lookup/addr.js';
import { readVl2Request, vl2Parsed } from '../../src/lookup/vl2-request.js';
import * as dp from '../../src/dataplane/dataplane.js';
import { checkVnid as dpCheckVnid } from '../../src/dataplane/names.js';
import { canonicalIp, canonicalMac } from '../../src/dataplane/validate.js';
import { parseAddress } from '../../src/wire/transport/address.js';
import { parseServer } from '../../src/cli/context.js';
import { parseListen } from '../../src/cli/serve.js';
import { UsageError } from '../../src/cli/exit-codes.js';
import { vxfab } from '../../src/wire/gen/proto.js';

const ok = (fn: () => unknown): boolean => {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
};

const hex2 = fc.integer({ min: 0, max: 255 }).map((b) => b.toString(16).padStart(2, '0'));
/** MAC-like text: six octets in random case, with ':' or '-' (sometimes mixed), sometimes mangled. */
const macText = fc.tuple(fc.array(hex2, { minLength: 6, maxLength: 6 }), fc.constantFrom(':', '-', 'mixed', '.'),
  fc.boolean(), fc.option(fc.string({ maxLength: 3 }), { nil: undefined })).map(([octets, sep, upper, junk]) => {
  const parts = upper ? octets.map((o) => o.toUpperCase()) : octets;
  const text = sep === 'mixed' ? parts.map((p, i) => (i === 0 ? p : (i % 2 ? '-' : ':') + p)).join('') : parts.join(sep);
  return junk === undefined ? text : text.slice(0, 9) + junk + text.slice(9);
});
const anyMac = fc.oneof(macText, fc.string({ maxLength: 20 }));

t.test('rules - constants live in src/model and every role uses them', async (t) => {
  t.equal(dp.VXLAN_PORT, DEFAULT_VTEP_PORT);
  t.equal(dp.VXLAN_OVERHEAD_IPV4, VXLAN_OVERHEAD_V4);
  t.equal(dp.VXLAN_OVERHEAD_IPV6, VXLAN_OVERHEAD_V6);
  t.equal(dp.VNID_MIN, VNID_MIN);
  t.equal(dp.VNID_MAX, VNID_MAX);
  t.equal(lookupAddr.VNID_MIN, VNID_MIN);
  t.equal(lookupAddr.VNID_MAX, VNID_MAX);
  t.equal(keyKind(nicKey('nic-1')), 'nic');
  t.equal(keyKind(nodeKey('h1')), 'node');
  t.ok(nicKey('x').startsWith(NIC_PREFIX) && nodeKey('x').startsWith(NODE_PREFIX));
});

t.test('rules - every VNID check agrees with the model', async (t) => {
  const values = fc.oneof(fc.integer({ min: -5, max: 20 }), fc.integer({ min: VNID_MAX - 5, max: VNID_MAX + 5 }),
    fc.integer(), fc.double(), fc.constantFrom(NaN, Infinity, -0, 0.5));
  fc.assert(fc.property(values, (v) => {
    const want = ok(() => parseVnid(v));
    return ok(() => lookupAddr.checkVnid(v)) === want && ok(() => dpCheckVnid(v)) === want;
  }), { numRuns: 2000 });
});

t.test('rules - the lookup MAC parser gives the model\'s value or refuses what the model refuses', async (t) => {
  fc.assert(fc.property(anyMac, (s) => {
    const fast = lookupAddr.parseMac(s);
    let want: number = lookupAddr.BAD;
    try {
      want = macToNumber(s);
    } catch {
      // refused by the model
    }
    return fast === want;
  }), { numRuns: 5000 });
});

t.test('rules - the data plane\'s canonical MAC is the model\'s endpoint MAC', async (t) => {
  const special = fc.constantFrom('00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '33:33:00:00:00:01', '02-00-00-0A-0B-0C');
  fc.assert(fc.property(fc.oneof(anyMac, special), (s) => {
    const want = ok(() => modelParseMac(s)) ? modelParseMac(s) : undefined;
    const got = ok(() => canonicalMac(s)) ? canonicalMac(s) : undefined;
    return got === want;
  }), { numRuns: 5000 });
});

t.test('rules - the VL2 request reader agrees with the model on what it accepts', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 0, max: VNID_MAX + 10 }), anyMac, (vnid, mac) => {
    const body = vxfab.v1.Vl2Request.encode({ vnid, mac }).finish();
    if (!readVl2Request(body)) return true; // the general path decides, with the model's parsers
    return vl2Parsed.vnid === parseVnid(vnid) && vl2Parsed.hi * 0x100000000 + vl2Parsed.lo === macToNumber(mac);
  }), { numRuns: 3000 });
});

t.test('rules - the lookup and data-plane IP parsers agree with the model', async (t) => {
  const v4ish = fc.oneof(fc.ipV4(), fc.ipV4Extended(), fc.string({ maxLength: 16 }),
    fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)).map((o) => o.join('.')));
  fc.assert(fc.property(v4ish, (s) => {
    const model = ok(() => parseIp(s, 'ip', 4)) ? parseIp(s, 'ip', 4) : undefined;
    const fast = lookupAddr.parseIp4(s);
    if (model === undefined) return fast === lookupAddr.BAD && (s.includes(':') || !ok(() => canonicalIp(s)));
    return fast === Number(model.value) && canonicalIp(s) === model.text;
  }), { numRuns: 3000 });
  const v6ish = fc.oneof(fc.ipV6(), fc.string({ maxLength: 12 }).map((x) => `fd00::${x}`));
  fc.assert(fc.property(v6ish, (s) => {
    const model = ok(() => parseIp(s, 'ip', 6)) ? parseIp(s, 'ip', 6) : undefined;
    const key = lookupAddr.ip6Key(s);
    if (model === undefined) return key === undefined;
    const other = parseIp(model.text, 'ip', 6);
    return key !== undefined && key === lookupAddr.ip6Key(other.text) && canonicalIp(s) === model.text;
  }), { numRuns: 3000 });
});

t.test('rules - host:port has one parser: the transport and the CLI give its answers', async (t) => {
  const hostish = fc.oneof(fc.ipV4(), fc.ipV6().map((a) => `[${a}]`), fc.domain(), fc.string({ maxLength: 10 }), fc.ipV6());
  const portish = fc.oneof(fc.integer({ min: 0, max: 70000 }).map(String), fc.constantFrom('', '0080', '-1', '1e3', '4800'));
  fc.assert(fc.property(hostish, portish, (h, p) => {
    const text = `${h}:${p}`;
    const want = ok(() => parseHostPort(text));
    const wantListen = ok(() => parseHostPort(text, 'listen', { allowAnyPort: true }));
    const cli = (fn: () => unknown): boolean | 'other' => {
      try {
        fn();
        return true;
      } catch (e) {
        return e instanceof UsageError ? false : 'other';
      }
    };
    return ok(() => parseAddress(text)) === want && cli(() => parseServer(text)) === want &&
      cli(() => parseListen(text)) === wantListen;
  }), { numRuns: 3000 });
  t.same(parseHostPort('[fd00::1]:4800'), { host: 'fd00::1', port: 4800 });
  t.same(parseHostPort('node-1.dc:1'), { host: 'node-1.dc', port: 1 });
  t.throws(() => parseListen('127.0.0.1:99999'), UsageError);
  t.same(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  t.throws(() => parseServer('127.0.0.1:0'), UsageError);
});
