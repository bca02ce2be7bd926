// Property test: random batches of node and NIC writes; after each batch every VL2 / VL3 / flood /
// bulk answer equals a naive model computed from the current objects, and a client that only
// applies the emitted events holds exactly the model's endpoints and flood lists.
import t from 'tap';
import fc from 'fast-check';
import { LookupIndex } from '../../src/lookup/index.js';
import { EventKind, type EndpointInfo, type FloodMemberInfo, type KeyChangeLike } from '../../src/lookup/types.js';
import { delNic, delNode, putNic, putNode, type NicSpec } from './fixtures.js';

const NODES = ['a', 'b', 'c'];
const UNDERLAYS = ['198.18.0.1', '198.18.0.2', '198.18.1.1'];
const PORTS = [4789, 4790];
const IDS = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'];
const VNIDS = [1, 2, 3];
const MACS = ['02:00:00:00:00:01', '02:00:00:00:00:02', '02:00:00:00:00:03', '02:00:00:00:00:04', '0a:bb:cc:dd:ee:ff'];
const IPS = ['100.64.0.1', '100.64.0.2', '100.64.0.3', '100.64.1.1', 'fd00:0:0:0:0:0:0:1', 'fd00:0:0:0:0:0:0:2'];

type Op =
  | { op: 'putNode'; name: string; underlay: string; port: number }
  | { op: 'delNode'; name: string }
  | { op: 'putNic'; nic: NicSpec }
  | { op: 'delNic'; id: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('putNode' as const), name: fc.constantFrom(...NODES), underlay: fc.constantFrom(...UNDERLAYS), port: fc.constantFrom(...PORTS) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delNode' as const), name: fc.constantFrom(...NODES) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('putNic' as const),
      nic: fc.record({
        id: fc.constantFrom(...IDS), vnid: fc.constantFrom(...VNIDS), node: fc.constantFrom(...NODES),
        mac: fc.constantFrom(...MACS), ips: fc.uniqueArray(fc.constantFrom(...IPS), { maxLength: 3 }),
      }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delNic' as const), id: fc.constantFrom(...IDS) }) },
);

class Model {
  nodes = new Map<string, { underlay: string; port: number }>();
  nics = new Map<string, NicSpec>();

  /** Applies an op unless it breaks the controller's invariants (unique MAC and IPs per vnid);
   *  returns the change to feed, or undefined when skipped. */
  apply(o: Op): KeyChangeLike | undefined {
    switch (o.op) {
      case 'putNode':
        this.nodes.set(o.name, { underlay: o.underlay, port: o.port });
        return putNode(o.name, o.underlay, o.port);
      case 'delNode':
        this.nodes.delete(o.name);
        return delNode(o.name);
      case 'delNic':
        this.nics.delete(o.id);
        return delNic(o.id);
      case 'putNic': {
        const n = o.nic;
        for (const other of this.nics.values()) {
          if (other.id === n.id || other.vnid !== n.vnid) continue;
          if (other.mac === n.mac || other.ips.some((ip) => n.ips.includes(ip))) return undefined;
        }
        this.nics.set(n.id, n);
        return putNic(n);
      }
    }
  }

  visible(vnid: number): EndpointInfo[] {
    const out: EndpointInfo[] = [];
    for (const n of this.nics.values()) {
      const node = this.nodes.get(n.node);
      if (n.vnid === vnid && node !== undefined) {
        out.push({ mac: n.mac, ips: n.ips, underlay: node.underlay, port: node.port, node: n.node, nicId: n.id });
      }
    }
    return out.sort((x, y) => x.mac.localeCompare(y.mac));
  }

  flood(vnid: number): FloodMemberInfo[] {
    const names = [...new Set(this.visible(vnid).map((e) => e.node))].sort();
    return names.map((name) => ({ node: name, ...(this.nodes.get(name) as { underlay: string; port: number }) }));
  }
}

/** What an agent subscribed to every vnid would hold after applying the events. */
class EventView {
  endpoints = new Map<number, Map<string, EndpointInfo>>();
  floods = new Map<number, FloodMemberInfo[]>();
  lastRevision = 0;

  apply(events: ReturnType<LookupIndex['apply']>): string | undefined {
    for (const e of events) {
      if (e.revision < this.lastRevision) return `revision went back: ${e.revision}`;
      this.lastRevision = e.revision;
      let eps = this.endpoints.get(e.vnid);
      if (eps === undefined) this.endpoints.set(e.vnid, (eps = new Map()));
      const ep = e.endpoint as EndpointInfo;
      switch (e.kind) {
        case EventKind.ENDPOINT_ADDED:
          if (eps.has(ep.mac)) return `ADDED for a known MAC ${ep.mac}`;
          eps.set(ep.mac, ep);
          break;
        case EventKind.ENDPOINT_REMOVED:
          if (!eps.delete(ep.mac)) return `REMOVED for an unknown MAC ${ep.mac}`;
          break;
        case EventKind.ENDPOINT_MOVED: {
          const old = eps.get(ep.mac);
          if (old === undefined) return `MOVED for an unknown MAC ${ep.mac}`;
          if (old.underlay !== e.oldUnderlay || old.node !== e.oldNode || old.port !== e.oldPort) return `MOVED with a wrong old place`;
          eps.set(ep.mac, ep);
          break;
        }
        case EventKind.FLOOD_CHANGED:
          this.floods.set(e.vnid, e.flood as FloodMemberInfo[]);
          break;
        default:
          return `unexpected kind ${e.kind}`;
      }
    }
    return undefined;
  }
}

const sortEps = (eps: Iterable<EndpointInfo>) => [...eps].map((e) => ({ ...e })).sort((x, y) => x.mac.localeCompare(y.mac));

t.test('lookup index - random batches agree with a naive model, and events rebuild it', async (t) => {
  let runs = 0;
  fc.assert(
    fc.property(fc.array(fc.array(opArb, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 25 }), fc.boolean(), (batches, snapshotFirst) => {
      runs++;
      const model = new Model();
      const index = new LookupIndex({ initialCapacity: 16 });
      const view = new EventView();
      let revision = 0;
      for (const [b, ops] of batches.entries()) {
        const changes = ops.map((o) => model.apply(o)).filter((c): c is KeyChangeLike => c !== undefined);
        revision++;
        if (b === 0 && snapshotFirst) {
          index.applySnapshot(revision, changes);
          // A client starting from a snapshot takes it whole (as Bulk + Flood would give it).
          for (const v of VNIDS) {
            view.endpoints.set(v, new Map(model.visible(v).map((e) => [e.mac, e])));
            view.floods.set(v, model.flood(v));
          }
        } else {
          const problem = view.apply(index.apply(revision, changes));
          if (problem !== undefined) throw new Error(`batch ${b}: ${problem}`);
        }
        for (const v of VNIDS) {
          const expected = model.visible(v);
          for (const mac of MACS) {
            const e = expected.find((x) => x.mac === mac);
            const got = index.vl2(v, mac);
            const want = e === undefined ? undefined : { underlay: e.underlay, port: e.port, node: e.node };
            if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`vl2(${v}, ${mac}): ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
            const fast = index.vl2Node(v, mac);
            if ((fast >= 0) !== (e !== undefined)) throw new Error(`vl2Node(${v}, ${mac}) = ${fast}`);
          }
          for (const ip of IPS) {
            const e = expected.find((x) => x.ips.includes(ip));
            const got = index.vl3(v, ip);
            const want = e === undefined ? undefined : { mac: e.mac, underlay: e.underlay, port: e.port, node: e.node };
            if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`vl3(${v}, ${ip}): ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
          }
          const flood = JSON.stringify(model.flood(v));
          if (JSON.stringify(index.flood(v).map((m) => ({ node: m.node, underlay: m.underlay, port: m.port }))) !== flood) throw new Error(`flood(${v})`);
          if (JSON.stringify(sortEps(index.bulk(v))) !== JSON.stringify(sortEps(expected))) throw new Error(`bulk(${v})`);
          if (JSON.stringify(sortEps(view.endpoints.get(v)?.values() ?? [])) !== JSON.stringify(sortEps(expected))) throw new Error(`event view of ${v}`);
          const viewFlood = (view.floods.get(v) ?? []).map((m) => ({ node: m.node, underlay: m.underlay, port: m.port }));
          if (JSON.stringify(viewFlood) !== flood) throw new Error(`event view flood of ${v}`);
        }
        if (index.mappings !== model.nics.size) throw new Error(`mappings ${index.mappings} != ${model.nics.size}`);
      }
    }),
    { numRuns: 300 },
  );
  t.equal(runs, 300, 'every generated history checked');
});
