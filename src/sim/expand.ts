// Expands a loaded topology into a Plan: generators become concrete hosts, networks and NICs, random
// timeline steps become concrete moves, all from the seeded PRNG (the same seed, the same plan), and
// every reference is checked (a NIC naming an unknown host, a move of a deleted NIC, an address
// outside its subnet), each problem reported with the line of the declaration at fault.
import { cidrContains, formatIp, parseCidr, parseIp } from '../model/ipam.js';
import { Prng } from './prng.js';
import type {
  NicDecl, Plan, PlanHost, PlanNetwork, PlanNic, PlanStep, TopologyFile, Where,
} from './topology.js';
import { TopologyError, type Problem } from './yaml-reader.js';

class Problems {
  readonly list: Problem[] = [];
  add(where: Where, message: string): void {
    this.list.push({ path: where.path, line: where.line, col: 0, message });
  }
}

export function expandTopology(t: TopologyFile, seedOverride?: number): Plan {
  const seed = seedOverride ?? t.seed;
  const rng = new Prng(seed);
  const p = new Problems();

  const hosts: PlanHost[] = [];
  const hostByName = new Map<string, PlanHost>();
  const hostByUnderlay = new Map<string, string>();
  const addHost = (h: PlanHost, where: Where) => {
    if (hostByName.has(h.name)) return p.add(where, `host "${h.name}" is declared twice`);
    const holder = hostByUnderlay.get(h.underlay);
    if (holder !== undefined) return p.add(where, `underlay ${h.underlay} of host "${h.name}" is already host "${holder}"'s`);
    hosts.push(h);
    hostByName.set(h.name, h);
    hostByUnderlay.set(h.underlay, h.name);
  };
  for (const d of t.hosts) {
    if (d.kind === 'host') {
      addHost({ name: d.name, underlay: d.underlay, mode: d.mode ?? t.defaultMode }, d.where);
      continue;
    }
    const start = parseIp(d.underlay, 'underlay');
    for (let i = 0; i < d.count; i++) {
      let underlay: string;
      try {
        underlay = formatIp(start.family, start.value + BigInt(i));
      } catch {
        p.add(d.where, `${d.count} hosts from ${d.underlay} run past the end of the address space`);
        break;
      }
      addHost({ name: `${d.prefix}${i + 1}`, underlay, mode: d.mode ?? t.defaultMode }, d.where);
    }
  }

  const tenants: string[] = [];
  const networks: PlanNetwork[] = [];
  const networkByRef = new Map<string, PlanNetwork>();
  const addNetwork = (n: PlanNetwork, where: Where) => {
    if (networkByRef.has(n.ref)) return p.add(where, `network "${n.ref}" is declared twice`);
    networks.push(n);
    networkByRef.set(n.ref, n);
  };
  const addTenant = (name: string, where: Where): boolean => {
    if (tenants.includes(name)) {
      p.add(where, `tenant "${name}" is declared twice`);
      return false;
    }
    tenants.push(name);
    return true;
  };
  for (const d of t.tenants) {
    if (d.kind === 'tenant') {
      if (!addTenant(d.name, d.where)) continue;
      for (const n of d.networks) {
        addNetwork({ tenant: d.name, name: n.name, ref: `${d.name}/${n.name}`, subnet: n.subnet, subnet6: n.subnet6, vnid: n.vnid }, n.where);
      }
      continue;
    }
    const pool = parseCidr(d.networks.subnet, 'subnet', 4);
    const step = 1n << BigInt(32 - d.networks.prefixLength);
    for (let i = 0; i < d.count; i++) {
      const tenant = `${d.prefix}${i + 1}`;
      if (!addTenant(tenant, d.where)) continue;
      for (let j = 0; j < d.networks.count; j++) {
        const subnet = `${formatIp(4, pool.network + step * BigInt(j))}/${d.networks.prefixLength}`;
        const name = `${d.networks.prefix}${j + 1}`;
        addNetwork({ tenant, name, ref: `${tenant}/${name}`, subnet }, d.where);
      }
    }
  }
  const vnids = new Map<number, string>();
  for (const n of networks) {
    if (n.vnid === undefined) continue;
    const holder = vnids.get(n.vnid);
    if (holder !== undefined) p.add(whereOf(t, n), `vnid ${n.vnid} of "${n.ref}" is already "${holder}"'s`);
    vnids.set(n.vnid, n.ref);
  }

  // NICs, then the timeline, tracking where every NIC is so that each step can be checked.
  const placed = new Map<string, PlanNic>();
  const nics: PlanNic[] = [];
  const checkNic = (d: NicDecl | PlanNic, where: Where): boolean => {
    if (placed.has(d.name)) {
      p.add(where, `NIC "${d.name}" already exists`);
      return false;
    }
    const net = networkByRef.get(d.network);
    if (net === undefined) {
      p.add(where, `network "${d.network}" is not declared`);
      return false;
    }
    if (!hostByName.has(d.host)) {
      p.add(where, `host "${d.host}" is not declared`);
      return false;
    }
    if (d.ip !== undefined) {
      const addr = parseIp(d.ip, 'ip');
      const subnet = addr.family === 4 ? net.subnet : net.subnet6;
      if (subnet === undefined) {
        p.add(where, `ip ${d.ip}: network "${net.ref}" has no IPv${addr.family} subnet`);
        return false;
      }
      if (!cidrContains(parseCidr(subnet, 'subnet'), addr)) {
        p.add(where, `ip ${d.ip} is outside ${net.ref}'s subnet ${subnet}`);
        return false;
      }
    }
    return true;
  };
  const hostNames = hosts.map((h) => h.name);
  for (const d of t.nics) {
    if (d.kind === 'nic') {
      if (!checkNic(d, d.where)) continue;
      const nic: PlanNic = strip(d);
      nics.push(nic);
      placed.set(nic.name, nic);
      continue;
    }
    const netPool = d.networks ?? networks.map((n) => n.ref);
    const hostPool = d.hosts ?? hostNames;
    const bad = [...netPool.filter((r) => !networkByRef.has(r)).map((r) => `network "${r}"`),
      ...hostPool.filter((h) => !hostByName.has(h)).map((h) => `host "${h}"`)];
    if (bad.length > 0) {
      p.add(d.where, `generator names undeclared ${bad.slice(0, 5).join(', ')}`);
      continue;
    }
    if (netPool.length === 0 || hostPool.length === 0) {
      p.add(d.where, 'generator has no networks or no hosts to place NICs on');
      continue;
    }
    const gen = rng.fork(0x4e1c);
    const hostsOf = new Map<string, string[]>();
    if (d.hostsPerNetwork !== undefined) for (const r of netPool) hostsOf.set(r, gen.sample(hostPool, d.hostsPerNetwork));
    for (let i = 0; i < d.count; i++) {
      const network = gen.pick(netPool);
      const nic: PlanNic = { name: `${d.prefix}${i + 1}`, network, host: gen.pick(hostsOf.get(network) ?? hostPool) };
      if (!checkNic(nic, d.where)) break;
      nics.push(nic);
      placed.set(nic.name, nic);
    }
  }

  const replicas = new Set(t.lookups);
  const steps: PlanStep[] = [];
  const moveRng = rng.fork(0x30be);
  const checkHost = (h: string, where: Where) => hostByName.has(h) || (p.add(where, `host "${h}" is not declared`), false);
  const checkReplica = (r: string, where: Where) => replicas.has(r) || (p.add(where, `lookup replica "${r}" is not declared (have ${[...replicas].join(', ')})`), false);
  const checkPlaced = (n: string, where: Where) => placed.has(n) || (p.add(where, `NIC "${n}" does not exist at this point of the timeline`), false);
  const checkpointNames = new Set<string>();
  for (const s of t.timeline) {
    switch (s.op) {
      case 'create':
        if (checkNic(s.nic, s.where)) {
          const nic = strip(s.nic);
          placed.set(nic.name, nic);
          steps.push({ op: 'create', nic, where: s.where });
        }
        break;
      case 'delete':
        if (checkPlaced(s.nic, s.where)) {
          placed.delete(s.nic);
          steps.push(s);
        }
        break;
      case 'move':
        if (checkPlaced(s.nic, s.where) && checkHost(s.to, s.where)) {
          placed.set(s.nic, { ...placed.get(s.nic)!, host: s.to });
          steps.push(s);
        }
        break;
      case 'move-random': {
        const names = [...placed.keys()];
        if (names.length === 0 || hosts.length < 2) {
          p.add(s.where, 'move-random needs at least one NIC and two hosts');
          break;
        }
        for (let i = 0; i < s.count; i++) {
          const nic = placed.get(moveRng.pick(names))!;
          let to = moveRng.pick(hostNames);
          while (to === nic.host) to = moveRng.pick(hostNames);
          placed.set(nic.name, { ...nic, host: to });
          steps.push({ op: 'move', nic: nic.name, to, where: s.where });
        }
        break;
      }
      case 'stop-agent': case 'start-agent': case 'cut':
        if (checkHost(s.host, s.where)) steps.push(s);
        break;
      case 'heal':
        if (s.host === 'all') steps.push({ op: 'heal-all', where: s.where });
        else if (checkHost(s.host, s.where)) steps.push({ op: 'heal', host: s.host, where: s.where });
        break;
      case 'stop-lookup': case 'start-lookup':
        if (checkReplica(s.replica, s.where)) steps.push(s);
        break;
      case 'checkpoint': {
        const cp = s.checkpoint;
        if (checkpointNames.has(cp.name)) p.add(s.where, `checkpoint "${cp.name}" is named twice`);
        checkpointNames.add(cp.name);
        for (const pair of [...cp.reach, ...cp.isolated]) {
          for (const n of [pair.from, pair.to]) checkPlaced(n, pair.where);
        }
        steps.push(s);
        break;
      }
    }
  }
  if (p.list.length > 0) throw new TopologyError(t.file, p.list);
  return { name: t.name, seed, lookups: t.lookups, settleTimeoutMs: t.settleTimeoutMs, hosts, tenants, networks, nics, steps };
}

function strip(d: NicDecl): PlanNic {
  return { name: d.name, network: d.network, host: d.host, ...(d.mac ? { mac: d.mac } : {}), ...(d.ip ? { ip: d.ip } : {}) };
}

function whereOf(t: TopologyFile, n: PlanNetwork): Where {
  for (const d of t.tenants) {
    if (d.kind === 'tenant' && d.name === n.tenant) return d.networks.find((x) => x.name === n.name)?.where ?? d.where;
  }
  return { path: 'tenants', line: 0 };
}
