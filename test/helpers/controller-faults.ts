// Test kit for store faults under the controller: a MemoryStore whose chosen batches fail or are
// held in flight, a model of what the caller was told (acknowledged writes), and the invariants
// every controller must keep whatever the store does.
import { Controller } from '../../src/controller/controller.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { StoreOp } from '../../src/store/store.js';
import { VxfabError } from '../../src/model/errors.js';
import { FabricState } from '../../src/controller/state.js';

/** A MemoryStore whose chosen batches (by call number, 1-based) fail, and whose next batch can be
 *  held in flight until released, so that pipelined requests queue behind it. */
export class FaultyStore extends MemoryStore {
  calls = 0;
  private readonly failing = new Set<number>();
  private readonly misreporting = new Set<number>();
  private gate: Promise<void> | undefined;
  /** The errors thrown, in order: a failed write must reject with one of these, not another. */
  readonly injected: VxfabError[] = [];

  /** The nth batch from now fails (1: the next one). */
  failBatch(n = 1): void {
    this.failing.add(this.calls + n);
  }

  /** The nth batch from now is committed but reports a revision one too high (a second writer). */
  misreportBatch(n = 1): void {
    this.misreporting.add(this.calls + n);
  }

  /** Holds the next batch in flight until the returned function is called. */
  holdNext(): () => void {
    let open!: () => void;
    this.gate = new Promise<void>((r) => { open = r; });
    return open;
  }

  override async batch(ops: StoreOp[]): Promise<number> {
    const n = ++this.calls;
    const gate = this.gate;
    this.gate = undefined;
    if (gate) await gate;
    if (this.failing.delete(n)) {
      const e = new VxfabError('UNAVAILABLE', `injected: batch ${n} failed`);
      this.injected.push(e);
      throw e;
    }
    const revision = await super.batch(ops);
    return this.misreporting.delete(n) ? revision + 1 : revision;
  }
}

/** Let queued microtasks and immediates run, so pipelined requests reach the committer. */
export const tick = () => new Promise<void>((r) => setImmediate(r));

export interface NicFacts { node: string; ips: string[]; mac: string }

/** What the callers were told: acknowledged writes applied in acknowledgement order. */
export class Model {
  readonly tenants = new Set<string>();
  readonly networks = new Map<string, number>();
  readonly nodes = new Map<string, string>();
  readonly nics = new Map<string, NicFacts>();

  static of(c: Controller): Model {
    const m = new Model();
    for (const t of c.listTenants()) m.tenants.add(t.name);
    for (const n of c.listNetworks()) m.networks.set(`${n.tenant}/${n.name}`, n.vnid);
    for (const n of c.listNodes()) m.nodes.set(n.name, n.underlay);
    for (const n of c.listNics()) m.nics.set(n.id, { node: n.node, ips: [...n.ips], mac: n.mac });
    return m;
  }

  same(t: Asserts, other: Model, what: string): void {
    t.same([...other.tenants].sort(), [...this.tenants].sort(), `${what}: tenants`);
    t.same(sorted(other.networks), sorted(this.networks), `${what}: networks`);
    t.same(sorted(other.nodes), sorted(this.nodes), `${what}: nodes`);
    t.same(sorted(other.nics), sorted(this.nics), `${what}: NICs`);
  }
}

function sorted<V>(m: Map<string, V>): Array<[string, V]> {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The assertions the checks need: a tap Test, or a collector inside a fast-check property. */
export interface Asserts {
  equal(found: unknown, wanted: unknown, message: string): unknown;
  same(found: unknown, wanted: unknown, message: string): unknown;
  fail(message: string): unknown;
}

/** Collects assertions inside a fast-check property, which must throw to fail. */
export class Collector implements Asserts {
  readonly failures: string[] = [];
  equal(found: unknown, wanted: unknown, message = 'equal') {
    if (found !== wanted) this.failures.push(`${message}: ${String(found)} !== ${String(wanted)}`);
  }
  same(found: unknown, wanted: unknown, message = 'same') {
    if (JSON.stringify(found) !== JSON.stringify(wanted)) this.failures.push(`${message}: ${JSON.stringify(found)} vs ${JSON.stringify(wanted)}`);
  }
  fail(message: string) {
    this.failures.push(message);
  }
}

/** The indexes and allocator counts of a state, in a comparable form. */
function shape(s: FabricState) {
  const sets = (m: Map<string, Set<string>>) => sorted(new Map([...m].map(([k, v]) => [k, [...v].sort()])));
  return {
    networksByTenant: sets(s.networksByTenant),
    nicsByNode: sets(s.nicsByNode),
    nodeByUnderlay: sorted(s.nodeByUnderlay),
    macUse: sorted(s.macUse),
    vnidsUsed: s.vnids.used,
    networks: sorted(new Map([...s.networks].map(([ref, e]) => [ref, {
      vnid: e.net.vnid, nics: [...e.nics].sort(), macs: [...e.macs].sort(),
      used4: e.pool4?.used ?? 0, used6: e.pool6?.used ?? 0,
    }]))),
  };
}

/**
 * Once every write has settled: the live controller equals one freshly opened on the same store
 * (which also proves the store still opens), no address, MAC or VNID is held twice, no write is
 * left pending, and the store holds exactly what was acknowledged.
 */
export async function checkInvariants(t: Asserts, c: Controller, store: MemoryStore, acked?: Model): Promise<void> {
  await c.idle();
  t.equal(c.pendingWrites, 0, 'no write left pending');
  let fresh: Controller;
  try {
    fresh = await Controller.open(store);
  } catch (e) {
    t.fail(`the store no longer opens: ${(e as Error).message}`);
    return;
  }
  const live = Model.of(c);
  live.same(t, Model.of(fresh), 'memory equals the reopened store');
  t.same(shape(c.state), shape(fresh.state), 'indexes and allocators equal the reopened store\'s');
  if (acked) acked.same(t, live, 'the store holds exactly the acknowledged writes');

  const vnids = [...live.networks.values()];
  t.equal(new Set(vnids).size, vnids.length, 'no VNID held twice');
  const macs = [...live.nics.values()].map((n) => n.mac);
  t.equal(new Set(macs).size, macs.length, 'no MAC held twice');
  const addrs = new Map<string, string[]>();
  for (const [id, n] of live.nics) {
    const net = c.getNic(id);
    for (const ip of n.ips) {
      const key = `${net.tenant}/${net.network} ${ip}`;
      addrs.set(key, [...addrs.get(key) ?? [], id]);
    }
  }
  const twice = [...addrs].filter(([, ids]) => ids.length > 1);
  t.same(twice, [], 'no address held twice');
  // Every address a NIC holds is taken in its pool, and nothing else is.
  for (const [ref, e] of c.state.networks) {
    let count4 = 0;
    let count6 = 0;
    for (const id of e.nics) {
      for (const ip of c.getNic(id).ips) {
        if (!FabricState.poolFor(e, ip)?.isAllocated(ip)) t.fail(`${ip} of ${id} is not taken in ${ref}`);
        if (ip.includes(':')) count6++; else count4++;
      }
    }
    if ((e.pool4?.used ?? 0) !== count4 || (e.pool6?.used ?? 0) !== count6) {
      t.fail(`${ref}: pools hold ${e.pool4?.used ?? 0}+${e.pool6?.used ?? 0} addresses, NICs ${count4}+${count6}`);
    }
  }
}

/** Settles a request: 'ok' with its value, or the error's code (and the error). */
export async function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; code: string; error: unknown }> {
  try {
    return { ok: true, value: await p };
  } catch (e) {
    return { ok: false, code: e instanceof VxfabError ? e.code : `untyped: ${String(e)}`, error: e };
  }
}

/** The controller's writes, recording each acknowledged one in a model (in acknowledgement order). */
export class Tracked {
  constructor(readonly c: Controller, readonly model: Model = new Model()) {}

  async createTenant(name: string) {
    const r = await this.c.createTenant(name);
    this.model.tenants.add(name);
    return r;
  }

  async deleteTenant(name: string) {
    await this.c.deleteTenant(name);
    this.model.tenants.delete(name);
  }

  async createNetwork(input: Parameters<Controller['createNetwork']>[0]) {
    const r = await this.c.createNetwork(input);
    this.model.networks.set(`${r.tenant}/${r.name}`, r.vnid);
    return r;
  }

  async deleteNetwork(tenant: string, name: string) {
    await this.c.deleteNetwork(tenant, name);
    this.model.networks.delete(`${tenant}/${name}`);
  }

  async addNode(name: string, underlay: string) {
    const r = await this.c.addNode(name, underlay);
    this.model.nodes.set(name, r.underlay);
    return r;
  }

  async registerNode(name: string, underlay: string) {
    const r = await this.c.registerNode(name, underlay);
    this.model.nodes.set(name, r.underlay);
    return r;
  }

  async deleteNode(name: string) {
    await this.c.deleteNode(name);
    this.model.nodes.delete(name);
  }

  async createNic(input: Parameters<Controller['createNic']>[0]) {
    const r = await this.c.createNic(input);
    this.model.nics.set(r.id, { node: r.node, ips: [...r.ips], mac: r.mac });
    return r;
  }

  async moveNic(id: string, node: string) {
    const r = await this.c.moveNic(id, node);
    const facts = this.model.nics.get(id);
    if (facts) facts.node = r.node;
    return r;
  }

  async deleteNic(id: string) {
    await this.c.deleteNic(id);
    this.model.nics.delete(id);
  }
}
