// Paging by encoded size (model/limits.ts): encodedSizeBound never under-estimates what the wire
// encoder writes (property-tested on the messages streams carry), pages keep to the budget, and
// the frame limit named in model agrees with the one the wire enforces.
import fc from 'fast-check';
import t from 'tap';
import { splitChanges } from '../../src/controller/feed.js';
import { VxfabError } from '../../src/model/errors.js';
import { encodedSizeBound, FRAME_LIMIT_BYTES, pagesBySize, STREAM_PAGE_BYTES } from '../../src/model/limits.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../../src/wire/frame-decoder.js';
import { vxfab } from '../../src/wire/gen/proto.js';

const text = fc.string({ unit: 'binary', maxLength: 80 });
const nicArb = fc.record({
  id: text, tenant: text, network: text, vnid: fc.integer({ min: 0, max: 0xffffff }), node: text, mac: text,
  ips: fc.array(text, { maxLength: 70 }), revision: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
});
const endpointArb = fc.record({
  mac: text, ips: fc.array(text, { maxLength: 70 }), underlay: text, port: fc.integer({ min: 0, max: 65535 }), node: text, nicId: text,
});
const changeArb = fc.record({ key: text, value: fc.uint8Array({ maxLength: 3000 }), deleted: fc.boolean() });

t.test('stream pages - encodedSizeBound is an upper bound of the encoding', async (t) => {
  fc.assert(fc.property(nicArb, (nic) => encodedSizeBound(nic) >= vxfab.v1.Nic.encode(nic).finish().length));
  fc.assert(fc.property(endpointArb, (ep) => encodedSizeBound(ep) >= vxfab.v1.Endpoint.encode(ep).finish().length));
  fc.assert(fc.property(changeArb, (c) => encodedSizeBound(c) >= vxfab.v1.KeyChange.encode(c).finish().length));
  // As a page: the items' bounds add up to at least the page's encoding.
  fc.assert(fc.property(fc.array(nicArb, { maxLength: 20 }), (nics) =>
    nics.reduce((n, nic) => n + encodedSizeBound(nic), 0) >= vxfab.v1.NicPage.encode({ nics }).finish().length));
  t.pass('checked');
});

t.test('stream pages - pages keep to the count and the byte budget; a big item gets a page of its own', async (t) => {
  const items = Array.from({ length: 100 }, (_, i) => ({ id: `n${i}`, blob: new Uint8Array(i === 50 ? STREAM_PAGE_BYTES + 10 : 10_000) }));
  const pages = [...pagesBySize(items, 40, encodedSizeBound, (x) => x.id)];
  t.same(pages.flat().map((x) => x.id), items.map((x) => x.id), 'every item once, in order');
  for (const p of pages) t.ok(p.length === 1 || p.reduce((n, x) => n + encodedSizeBound(x), 0) <= STREAM_PAGE_BYTES, 'within the budget');
  t.ok(pages.some((p) => p.length === 1 && p[0]!.id === 'n50'), 'the big one alone');
  t.same([...pagesBySize(Array.from({ length: 95 }, (_, i) => i), 40, () => 1, String)].map((p) => p.length), [40, 40, 15], 'by count');
  t.same([...pagesBySize([], 40, () => 1, String)], [], 'no items, no pages');
  let caught: unknown;
  try {
    [...pagesBySize([{ id: 'x', blob: new Uint8Array(FRAME_LIMIT_BYTES) }], 40, encodedSizeBound, (x) => x.id)];
  } catch (e) {
    caught = e;
  }
  t.ok(caught instanceof VxfabError && caught.code === 'RESOURCE_EXHAUSTED' && caught.value === 'x', 'one too big for a frame is refused by name');
});

t.test('stream pages - a batch too big for a frame splits into parts under the budget', async (t) => {
  const changes = Array.from({ length: 300 }, (_, i) => ({ key: `i/n${i}`, value: new Uint8Array(3000) }));
  const parts = splitChanges(changes);
  t.ok(parts.length >= 4);
  t.same(parts.flat(), changes);
  for (const p of parts) t.ok(vxfab.v1.ChangeBatch.encode({ revision: 1e12, changes: p, last: true }).finish().length <= STREAM_PAGE_BYTES + 64);
  t.same(splitChanges([]), [[]], 'an empty batch is one empty part');
});

t.test('stream pages - the model names the frame limit the wire enforces', async (t) => {
  t.equal(FRAME_LIMIT_BYTES, DEFAULT_MAX_FRAME_BYTES);
  t.ok(STREAM_PAGE_BYTES * 3 < FRAME_LIMIT_BYTES);
});
