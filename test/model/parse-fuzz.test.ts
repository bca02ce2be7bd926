// Parsers of user input: for arbitrary text they either return a canonical value that parses back
// to itself, or throw INVALID_ARGUMENT naming the field. Nothing else (no TypeError, no crash).
import t from 'tap';
import fc from 'fast-check';
import { isVxfabError } from '../../src/model/errors.js';
import { formatIp, parseCidr, parseIp } from '../../src/model/ipam.js';
import { parseMac } from '../../src/model/mac.js';
import { validateName, validateNodeName } from '../../src/model/names.js';

function expectCanonicalOrInvalid(parse: (s: string) => string, input: string): void {
  let out: string;
  try {
    out = parse(input);
  } catch (e) {
    if (isVxfabError(e, 'INVALID_ARGUMENT') && e.field === 'f' && e.value === input) return;
    throw e;
  }
  if (parse(out) !== out) throw new Error(`${JSON.stringify(input)} -> ${out} is not canonical`);
}

// Text drawn from the characters that matter to these parsers, so that near-misses are common.
const addressish = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.-/%x '.split('')), maxLength: 45 });

t.test('parse - fuzz: IP, CIDR, MAC and name parsers return canonical values or INVALID_ARGUMENT', async (t) => {
  let runs = 0;
  fc.assert(
    fc.property(fc.oneof(addressish, fc.string({ maxLength: 40 })), (s) => {
      runs++;
      expectCanonicalOrInvalid((x) => parseIp(x, 'f').text, s);
      expectCanonicalOrInvalid((x) => parseCidr(x, 'f').text, s);
      expectCanonicalOrInvalid((x) => parseMac(x, 'f'), s);
      expectCanonicalOrInvalid((x) => validateName(x, 'f'), s);
      expectCanonicalOrInvalid((x) => validateNodeName(x, 'f'), s);
    }),
    { numRuns: 2000 },
  );
  t.equal(runs >= 2000, true, 'ran the property');
});

t.test('parse - fuzz: every address value formats to text that parses back to it', async (t) => {
  let runs = 0;
  fc.assert(
    fc.property(
      fc.oneof(
        fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }).map((v) => [4, v] as const),
        fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((v) => [6, v] as const),
      ),
      ([family, value]) => {
        runs++;
        const ip = parseIp(formatIp(family, value), 'f', family);
        if (ip.value !== value) throw new Error(`${formatIp(family, value)} parsed to ${ip.value}`);
      },
    ),
    { numRuns: 2000 },
  );
  t.equal(runs >= 2000, true, 'ran the property');
});
