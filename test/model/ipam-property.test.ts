// Property: whatever the subnet and the sequence of allocations and releases, a SubnetPool never
// hands out an address twice, never one outside the subnet, and never the network, broadcast or
// gateway address; and it only reports exhaustion when every usable address is in use.
import t from 'tap';
import fc from 'fast-check';
import { type Cidr, SubnetPool, cidrContains, cidrLast, defaultGateway, formatIp, parseCidr, parseIp } from '../../src/model/ipam.js';
import { isVxfabError } from '../../src/model/errors.js';

type Op = { kind: 'alloc' } | { kind: 'release'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Op>({ kind: 'alloc' }) },
  { weight: 1, arbitrary: fc.nat().map((pick): Op => ({ kind: 'release', pick })) },
);

const cidrArb: fc.Arbitrary<Cidr> = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 24, max: 32 })).map(([addr, prefix]) => {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return parseCidr(`${formatIp(4, BigInt((addr & mask) >>> 0))}/${prefix}`, 'subnet4');
  }),
  fc.tuple(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.integer({ min: 120, max: 128 })).map(([addr, prefix]) => {
    const host = (1n << BigInt(128 - prefix)) - 1n;
    return parseCidr(`${formatIp(6, addr & ~host)}/${prefix}`, 'subnet6');
  }),
);

t.test('ipam - property: no duplicates, nothing reserved, exhaustion only when full', async (t) => {
  let runs = 0;
  fc.assert(
    fc.property(cidrArb, fc.boolean(), fc.array(opArb, { maxLength: 400 }), (cidr, withGateway, ops) => {
      runs++;
      const gateway = withGateway ? defaultGateway(cidr) : undefined;
      const gatewayValue = gateway === undefined ? undefined : parseIp(gateway, 'gw').value;
      const pool = new SubnetPool(cidr, gateway);
      const hostBits = (cidr.family === 4 ? 32 : 128) - cidr.prefix;
      const forbidden = new Set<bigint>();
      if (hostBits >= 2) forbidden.add(cidr.network);
      if (hostBits >= 2 && cidr.family === 4) forbidden.add(cidrLast(cidr));
      if (gatewayValue !== undefined) forbidden.add(gatewayValue);
      const usable = (1n << BigInt(hostBits)) - BigInt(forbidden.size);

      const held: bigint[] = [];
      const heldSet = new Set<bigint>();
      for (const op of ops) {
        if (op.kind === 'alloc') {
          let text: string;
          try {
            text = pool.allocate();
          } catch (e) {
            if (!isVxfabError(e, 'RESOURCE_EXHAUSTED')) throw e;
            if (BigInt(heldSet.size) !== usable) throw new Error(`exhausted with ${heldSet.size} of ${usable} in use`);
            continue;
          }
          const v = parseIp(text, 'ip', cidr.family).value;
          if (!cidrContains(cidr, v)) throw new Error(`${text} outside ${cidr.text}`);
          if (forbidden.has(v)) throw new Error(`${text} is reserved in ${cidr.text}`);
          if (heldSet.has(v)) throw new Error(`${text} handed out twice`);
          held.push(v);
          heldSet.add(v);
        } else if (held.length > 0) {
          const i = op.pick % held.length;
          const v = held[i]!;
          held.splice(i, 1);
          heldSet.delete(v);
          if (!pool.release(formatIp(cidr.family, v))) throw new Error(`release of ${formatIp(cidr.family, v)} failed`);
        }
        if (pool.used !== heldSet.size) throw new Error(`used ${pool.used} != ${heldSet.size}`);
      }
    }),
    { numRuns: 300 },
  );
  t.equal(runs >= 300, true, 'ran the property');
});
