// Loads a topology file (docs/topologies.md) into a TopologyFile: shape and values are checked
// here, each problem reported with file, line, column and path. References between objects (a NIC
// naming its network) are checked when the file is expanded (expand.ts).
import { readFile } from 'node:fs/promises';
import { isScalar, isSeq, type Node as YamlNode } from 'yaml';
import { invalid, isVxfabError } from '../model/errors.js';
import { parseCidr, parseIp } from '../model/ipam.js';
import { parseMac } from '../model/mac.js';
import { validateName, validateNodeName } from '../model/names.js';
import { parseVnid, VNID_MAX, VNID_MIN } from '../model/vnid.js';
import type {
  AgentMode, CheckpointDecl, HostDecl, HostGenerator, NetworkDecl, NicDecl, NicGenerator, PairDecl, Step,
  TenantDecl, TenantGenerator, TopologyFile,
} from './topology.js';
import { join, Reader, TopologyError, type Fields } from './yaml-reader.js';

const TOP_KEYS = ['name', 'description', 'seed', 'lookup', 'defaults', 'hosts', 'tenants', 'nics', 'timeline'] as const;
const MODES: readonly AgentMode[] = ['push', 'on-demand'];
export const DEFAULT_SETTLE_TIMEOUT_MS = 15_000;
/** Upper bounds that keep a typo (count: 2000000) from eating the machine. */
const MAX_HOSTS = 10_000;
const MAX_NICS = 1_000_000;

export async function loadTopologyFile(file: string): Promise<TopologyFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new TopologyError(file, [{ path: '', line: 0, col: 0, message: `cannot read: ${(e as Error).message}` }]);
  }
  return parseTopology(text, file);
}

/** Parses and checks a topology; throws TopologyError listing every problem. */
export function parseTopology(text: string, file = '<topology>'): TopologyFile {
  const r = new Reader(file);
  const root = r.parse(text);
  const out = root === undefined ? undefined : readTop(r, root, file);
  if (r.problems.length > 0 || out === undefined) throw new TopologyError(file, r.problems);
  return out;
}

/** Runs a model validator (which throws VxfabError) and turns its refusal into a problem. */
function checked<T>(r: Reader, f: Fields, key: string, check: (text: string, field: string) => T, required = false): T | undefined {
  const text = r.str(f, key, required);
  if (text === undefined) return undefined;
  try {
    return check(text, join(f.path, key));
  } catch (e) {
    if (!isVxfabError(e)) throw e;
    return r.fail(f.entries.get(key), join(f.path, key), e.message);
  }
}

const name = (text: string, field: string) => validateName(text, field);
const nodeName = (text: string, field: string) => validateNodeName(text, field);
const ip = (text: string, field: string) => parseIp(text, field).text;
const cidr4 = (text: string, field: string) => parseCidr(text, field, 4).text;
const cidr6 = (text: string, field: string) => parseCidr(text, field, 6).text;
const mac = (text: string, field: string) => parseMac(text, field);
const networkRefText = (text: string, field: string) => {
  const parts = text.split('/');
  if (parts.length !== 2) throw invalid(field, text, 'expected TENANT/NETWORK');
  validateName(parts[0], field);
  validateName(parts[1], field);
  return text;
};
function mode(r: Reader, f: Fields): AgentMode | undefined {
  const m = r.str(f, 'mode');
  if (m === undefined) return undefined;
  if (!(MODES as readonly string[]).includes(m)) return r.fail(f.entries.get('mode'), join(f.path, 'mode'), `"${m}": expected push or on-demand`);
  return m as AgentMode;
}

function readTop(r: Reader, root: YamlNode, file: string): TopologyFile | undefined {
  const top = r.map(root, '', TOP_KEYS);
  if (top === undefined) return undefined;
  const t: TopologyFile = {
    file,
    name: checked(r, top, 'name', name, true) ?? '',
    description: r.str(top, 'description') ?? '',
    seed: r.int(top, 'seed', 0, 0xffffffff) ?? 1,
    lookups: ['lookup-1'],
    defaultMode: 'push',
    settleTimeoutMs: DEFAULT_SETTLE_TIMEOUT_MS,
    hosts: [], tenants: [], nics: [], timeline: [],
  };
  const lookup = top.entries.get('lookup');
  if (lookup !== undefined) {
    const f = r.map(lookup, 'lookup', ['replicas']);
    const n = f === undefined ? undefined : r.int(f, 'replicas', 1, 16);
    if (n !== undefined) t.lookups = Array.from({ length: n }, (_, i) => `lookup-${i + 1}`);
  }
  const defaults = top.entries.get('defaults');
  if (defaults !== undefined) {
    const f = r.map(defaults, 'defaults', ['mode', 'settle-timeout-ms']);
    if (f !== undefined) {
      t.defaultMode = mode(r, f) ?? 'push';
      t.settleTimeoutMs = r.int(f, 'settle-timeout-ms', 100, 600_000) ?? DEFAULT_SETTLE_TIMEOUT_MS;
    }
  }
  for (const item of r.seq(top.entries.get('hosts'), 'hosts')) {
    const h = readHost(r, item.node, item.path);
    if (h) t.hosts.push(h);
  }
  for (const item of r.seq(top.entries.get('tenants'), 'tenants')) {
    const x = readTenant(r, item.node, item.path);
    if (x) t.tenants.push(x);
  }
  for (const item of r.seq(top.entries.get('nics'), 'nics')) {
    const x = readNicItem(r, item.node, item.path);
    if (x) t.nics.push(x);
  }
  for (const item of r.seq(top.entries.get('timeline'), 'timeline')) {
    const x = readStep(r, item.node, item.path);
    if (x) t.timeline.push(x);
  }
  if (t.hosts.length === 0) r.fail(top.node, 'hosts', 'at least one host is required');
  return t;
}

function readHost(r: Reader, node: YamlNode | undefined, path: string): HostDecl | HostGenerator | undefined {
  const f = r.map(node, path, ['name', 'underlay', 'mode', 'generate']);
  if (f === undefined) return undefined;
  const where = r.where(node, path);
  const gen = f.entries.get('generate');
  if (gen !== undefined) {
    if (f.entries.size > 1) return r.fail(node, path, 'a "generate" item has no other keys');
    const g = r.map(gen, join(path, 'generate'), ['count', 'prefix', 'underlay', 'mode']);
    if (g === undefined) return undefined;
    const count = r.int(g, 'count', 1, MAX_HOSTS, true);
    const prefix = checked(r, g, 'prefix', (s, fld) => (validateName(s + '1', fld), s), true);
    const underlay = checked(r, g, 'underlay', ip, true);
    const m = mode(r, g);
    if (count === undefined || prefix === undefined || underlay === undefined) return undefined;
    return { kind: 'generate', count, prefix, underlay, ...(m ? { mode: m } : {}), where };
  }
  const n = checked(r, f, 'name', nodeName, true);
  const underlay = checked(r, f, 'underlay', ip, true);
  const m = mode(r, f);
  if (n === undefined || underlay === undefined) return undefined;
  return { kind: 'host', name: n, underlay, ...(m ? { mode: m } : {}), where };
}

function readTenant(r: Reader, node: YamlNode | undefined, path: string): TenantDecl | TenantGenerator | undefined {
  const f = r.map(node, path, ['name', 'networks', 'generate']);
  if (f === undefined) return undefined;
  const where = r.where(node, path);
  const gen = f.entries.get('generate');
  if (gen !== undefined) {
    if (f.entries.size > 1) return r.fail(node, path, 'a "generate" item has no other keys');
    const g = r.map(gen, join(path, 'generate'), ['count', 'prefix', 'networks']);
    if (g === undefined) return undefined;
    const count = r.int(g, 'count', 1, 10_000, true);
    const prefix = checked(r, g, 'prefix', (s, fld) => (validateName(s + '1', fld), s), true);
    const np = join(g.path, 'networks');
    const n = g.entries.get('networks') === undefined ? (r.fail(g.node, np, '"networks" is required'), undefined)
      : r.map(g.entries.get('networks'), np, ['count', 'prefix', 'subnet', 'prefix-length']);
    if (n === undefined) return undefined;
    const ncount = r.int(n, 'count', 1, 4096, true);
    const nprefix = checked(r, n, 'prefix', (s, fld) => (validateName(s + '1', fld), s)) ?? 'net';
    const subnet = checked(r, n, 'subnet', cidr4) ?? '100.64.0.0/10';
    const prefixLength = r.int(n, 'prefix-length', 8, 30) ?? 24;
    if (count === undefined || prefix === undefined || ncount === undefined) return undefined;
    const pool = Number(subnet.split('/')[1]);
    if (prefixLength < pool) return r.fail(n.entries.get('prefix-length'), join(np, 'prefix-length'), `/${prefixLength} is larger than the pool ${subnet}`);
    if (2 ** (prefixLength - pool) < ncount) {
      return r.fail(n.entries.get('count'), join(np, 'count'), `${ncount} networks of /${prefixLength} do not fit in ${subnet}`);
    }
    return { kind: 'generate', count, prefix, networks: { count: ncount, prefix: nprefix, subnet, prefixLength }, where };
  }
  const tname = checked(r, f, 'name', name, true);
  const networks: NetworkDecl[] = [];
  for (const item of r.seq(f.entries.get('networks'), join(path, 'networks'))) {
    const n = r.map(item.node, item.path, ['name', 'subnet', 'subnet6', 'vnid']);
    if (n === undefined) continue;
    const nname = checked(r, n, 'name', name, true);
    const subnet = checked(r, n, 'subnet', cidr4);
    const subnet6 = checked(r, n, 'subnet6', cidr6);
    const vnid = r.int(n, 'vnid', VNID_MIN, VNID_MAX);
    if (vnid !== undefined) {
      try { parseVnid(vnid, join(item.path, 'vnid')); } catch (e) { r.fail(n.entries.get('vnid'), join(item.path, 'vnid'), (e as Error).message); }
    }
    if (nname === undefined) continue;
    networks.push({ name: nname, ...(subnet ? { subnet } : {}), ...(subnet6 ? { subnet6 } : {}), ...(vnid ? { vnid } : {}), where: r.where(item.node, item.path) });
  }
  if (tname === undefined) return undefined;
  return { kind: 'tenant', name: tname, networks, where };
}

function readNic(r: Reader, f: Fields, node: YamlNode | undefined, path: string): NicDecl | undefined {
  const n = checked(r, f, 'name', name, true);
  const network = checked(r, f, 'network', networkRefText, true);
  const host = checked(r, f, 'host', nodeName, true);
  const m = checked(r, f, 'mac', mac);
  const addr = checked(r, f, 'ip', ip);
  if (n === undefined || network === undefined || host === undefined) return undefined;
  return { kind: 'nic', name: n, network, host, ...(m ? { mac: m } : {}), ...(addr ? { ip: addr } : {}), where: r.where(node, path) };
}

function readNicItem(r: Reader, node: YamlNode | undefined, path: string): NicDecl | NicGenerator | undefined {
  const f = r.map(node, path, ['name', 'network', 'host', 'mac', 'ip', 'generate']);
  if (f === undefined) return undefined;
  const gen = f.entries.get('generate');
  if (gen === undefined) return readNic(r, f, node, path);
  if (f.entries.size > 1) return r.fail(node, path, 'a "generate" item has no other keys');
  const g = r.map(gen, join(path, 'generate'), ['count', 'prefix', 'networks', 'hosts', 'hosts-per-network']);
  if (g === undefined) return undefined;
  const count = r.int(g, 'count', 1, MAX_NICS, true);
  const prefix = checked(r, g, 'prefix', (s, fld) => (validateName(s + '1', fld), s), true);
  const networks = r.names(g, 'networks');
  const hosts = r.names(g, 'hosts');
  const hostsPerNetwork = r.int(g, 'hosts-per-network', 1, MAX_HOSTS);
  if (count === undefined || prefix === undefined) return undefined;
  return {
    kind: 'generate', count, prefix,
    ...(networks ? { networks } : {}), ...(hosts ? { hosts } : {}), ...(hostsPerNetwork ? { hostsPerNetwork } : {}),
    where: r.where(node, path),
  };
}

const STEP_OPS = ['create', 'delete', 'move', 'move-random', 'stop-agent', 'start-agent', 'cut', 'heal',
  'stop-lookup', 'start-lookup', 'checkpoint'] as const;

function readStep(r: Reader, node: YamlNode | undefined, path: string): Step | undefined {
  const f = r.map(node, path, STEP_OPS);
  if (f === undefined) return undefined;
  const where = r.where(node, path);
  if (f.entries.size !== 1) return r.fail(node, path, `a timeline step is exactly one of ${STEP_OPS.join(', ')}`);
  const [op, value] = [...f.entries][0]!;
  const p = join(path, op);
  switch (op) {
    case 'create': {
      const c = r.map(value, p, ['name', 'network', 'host', 'mac', 'ip']);
      const nic = c === undefined ? undefined : readNic(r, c, value, p);
      return nic && { op, nic, where };
    }
    case 'delete': {
      const nic = checked(r, f, op, name);
      return nic === undefined ? undefined : { op, nic, where };
    }
    case 'move': {
      const m = r.map(value, p, ['nic', 'to']);
      if (m === undefined) return undefined;
      const nic = checked(r, m, 'nic', name, true);
      const to = checked(r, m, 'to', nodeName, true);
      return nic === undefined || to === undefined ? undefined : { op, nic, to, where };
    }
    case 'move-random': {
      const m = r.map(value, p, ['count']);
      const count = m === undefined ? undefined : r.int(m, 'count', 1, 100_000, true);
      return count === undefined ? undefined : { op, count, where };
    }
    case 'stop-agent': case 'start-agent': case 'cut': {
      const host = checked(r, f, op, nodeName);
      return host === undefined ? undefined : { op, host, where };
    }
    case 'heal': {
      const host = r.str(f, op);
      if (host === undefined) return undefined;
      if (host !== 'all') checked(r, f, op, nodeName);
      return { op, host, where };
    }
    case 'stop-lookup': case 'start-lookup': {
      const replica = checked(r, f, op, name);
      return replica === undefined ? undefined : { op, replica, where };
    }
    case 'checkpoint': {
      const cp = readCheckpoint(r, value, p);
      return cp && { op, checkpoint: cp, where };
    }
  }
  return undefined;
}

function readCheckpoint(r: Reader, node: YamlNode | undefined, path: string): CheckpointDecl | undefined {
  // `checkpoint: NAME` is the short form: the default expectation only.
  if (isScalar(node)) {
    const short = r.text(node, path);
    return short === undefined ? undefined : { name: short, default: true, reach: [], isolated: [] };
  }
  const f = r.map(node, path, ['name', 'default', 'reach', 'isolated']);
  if (f === undefined) return undefined;
  const cname = r.str(f, 'name', true);
  const pairs = (key: 'reach' | 'isolated'): PairDecl[] => r.seq(f.entries.get(key), join(path, key)).flatMap((item) => {
    const pair = readPair(r, item.node, item.path);
    return pair ? [pair] : [];
  });
  const cp: CheckpointDecl = { name: cname ?? '', default: r.bool(f, 'default') ?? true, reach: pairs('reach'), isolated: pairs('isolated') };
  return cname === undefined ? undefined : cp;
}

/** "a -> b" or [a, b]. */
function readPair(r: Reader, node: YamlNode | undefined, path: string): PairDecl | undefined {
  const where = r.where(node, path);
  if (isSeq(node)) {
    const items = r.seq(node, path);
    if (items.length !== 2) return r.fail(node, path, 'a pair has exactly two NIC names');
    const from = r.text(items[0]!.node, items[0]!.path);
    const to = r.text(items[1]!.node, items[1]!.path);
    return from && to ? { from, to, where } : undefined;
  }
  const s = r.text(node, path);
  const m = s === undefined ? null : /^\s*([a-z0-9-]+)\s*->\s*([a-z0-9-]+)\s*$/.exec(s);
  if (!m) return s === undefined ? undefined : r.fail(node, path, `"${s}": expected "NIC -> NIC" or [NIC, NIC]`);
  return { from: m[1]!, to: m[2]!, where };
}
