// What `topology run --dataplane linux` accepts. Every host and every NIC becomes a network
// namespace with real devices and every checkpoint real pings, so the run is for small fabrics only;
// and real packets may only carry test addresses: the underlay in 198.18.0.0/15 (RFC 2544
// benchmarking) and the overlays in 100.64.0.0/10 (RFC 6598 shared space), IPv4 only.
import { VxfabError } from '../model/errors.js';
import { cidrContains, parseCidr, parseIp } from '../model/ipam.js';
import type { Plan } from './topology.js';

export const LINUX_MAX_HOSTS = 16;
export const LINUX_MAX_NICS = 64;
export const LINUX_UNDERLAY = '198.18.0.0/15';
export const LINUX_OVERLAY = '100.64.0.0/10';

/** Why this process cannot run a linux topology, or undefined when it can. */
export function linuxPrivilegeProblem(): string | undefined {
  if (process.platform !== 'linux') return `--dataplane linux needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return '--dataplane linux needs root (network namespaces, veth, vxlan): run as root or use --dataplane sim';
  return undefined;
}

/** Every NIC that exists at some point of the run (declared or created by the timeline). */
function nicsEver(plan: Plan): Array<{ name: string; network: string; ip?: string }> {
  return [...plan.nics, ...plan.steps.flatMap((s) => (s.op === 'create' ? [s.nic] : []))];
}

/** Refuses (INVALID_ARGUMENT / RESOURCE_EXHAUSTED, naming the field and the value) a plan the linux
 * run must not or cannot run. */
export function checkLinuxPlan(plan: Plan): void {
  if (plan.hosts.length > LINUX_MAX_HOSTS) {
    throw new VxfabError('RESOURCE_EXHAUSTED', `--dataplane linux runs at most ${LINUX_MAX_HOSTS} hosts; ${plan.name} has ${plan.hosts.length} (use --dataplane sim)`,
      { field: 'hosts', value: String(plan.hosts.length) });
  }
  const nics = nicsEver(plan);
  if (nics.length > LINUX_MAX_NICS) {
    throw new VxfabError('RESOURCE_EXHAUSTED', `--dataplane linux runs at most ${LINUX_MAX_NICS} NICs (declared and created); ${plan.name} has ${nics.length} (use --dataplane sim)`,
      { field: 'nics', value: String(nics.length) });
  }
  const underlay = parseCidr(LINUX_UNDERLAY, 'underlay');
  for (const h of plan.hosts) {
    const a = parseIp(h.underlay, `hosts.${h.name}.underlay`);
    if (a.family !== 4 || !cidrContains(underlay, a)) {
      throw new VxfabError('INVALID_ARGUMENT', `host ${h.name}: underlay ${h.underlay} is outside ${LINUX_UNDERLAY}, the only underlay --dataplane linux uses`,
        { field: `hosts.${h.name}.underlay`, value: h.underlay });
    }
    // The underlay is one /15 link: its network and broadcast addresses cannot be hosts.
    if (h.underlay === '198.18.0.0' || h.underlay === '198.19.255.255') {
      throw new VxfabError('INVALID_ARGUMENT', `host ${h.name}: underlay ${h.underlay} is the network or broadcast address of ${LINUX_UNDERLAY}`,
        { field: `hosts.${h.name}.underlay`, value: h.underlay });
    }
  }
  const overlay = parseCidr(LINUX_OVERLAY, 'overlay');
  for (const n of plan.networks) {
    if (n.subnet6 !== undefined) {
      throw new VxfabError('INVALID_ARGUMENT', `network ${n.ref}: subnet6 ${n.subnet6}: --dataplane linux uses IPv4 overlays in ${LINUX_OVERLAY} only`,
        { field: `networks.${n.ref}.subnet6`, value: n.subnet6 });
    }
    if (n.subnet === undefined) {
      throw new VxfabError('INVALID_ARGUMENT', `network ${n.ref} has no IPv4 subnet: --dataplane linux pings IPv4 addresses in ${LINUX_OVERLAY}`,
        { field: `networks.${n.ref}.subnet`, value: '' });
    }
    const c = parseCidr(n.subnet, `networks.${n.ref}.subnet`);
    if (c.family !== 4 || c.prefix < overlay.prefix || !cidrContains(overlay, c.network)) {
      throw new VxfabError('INVALID_ARGUMENT', `network ${n.ref}: subnet ${n.subnet} is outside ${LINUX_OVERLAY}, the only overlay space --dataplane linux uses`,
        { field: `networks.${n.ref}.subnet`, value: n.subnet });
    }
  }
}
