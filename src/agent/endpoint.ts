// Plugging a NIC into its host: a veth pair, one end moved into the endpoint's network namespace
// with the NIC's MAC, addresses (prefix length from the network's subnet), MTU and default routes
// via the gateways, the other end a port of the network's bridge. Run on the NIC's host, in the
// host's network namespace. The bridge is the agent's (created when the first local NIC of the
// network appears); attach asks the agent to sync first (see cli/commands/endpoint.ts) and then
// waits briefly for the bridge, so there is one place that creates network devices.
//
// Host-side names derive from the NIC id (15 characters, IFNAMSIZ): `vxe` + 12 hex digits of
// SHA-256(id); detach finds the veth by that name alone and needs no controller.

import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { VxfabError, invalid } from '../model/errors.js';
import type { Network, Nic } from '../model/objects.js';
import { bridgeDeviceName } from '../dataplane/names.js';

/** The host end of a NIC's veth pair. */
export function hostVethName(nicId: string): string {
  return 'vxe' + createHash('sha256').update(nicId).digest('hex').slice(0, 12);
}

function tempPeerName(nicId: string): string {
  return 'vxp' + createHash('sha256').update('peer/' + nicId).digest('hex').slice(0, 12);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ip(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('ip', args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr: stderr || (err?.message ?? '') });
    });
  });
}

async function must(args: string[], what: string): Promise<string> {
  const r = await ip(args);
  if (r.code !== 0) throw new VxfabError('INTERNAL', `${what}: ip ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

interface LinkJson {
  ifname: string;
  address?: string;
  master?: string;
  mtu?: number;
  operstate?: string;
}

async function link(dev: string, netns?: string): Promise<LinkJson | undefined> {
  const r = await ip([...(netns ? ['-n', netns] : []), '-j', 'link', 'show', 'dev', dev]);
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as LinkJson[])[0];
}

export function netnsExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`) || existsSync(`/var/run/netns/${name}`);
}

export interface AttachRequest {
  nic: Nic;
  network: Network;
  netns: string;
  ifname: string;
  /** How long to wait for the network's bridge. Default 10000 ms. */
  bridgeWaitMs?: number;
  /** The host's network namespace when the caller is not in it (the simulator plugs endpoints
   * into many namespaced hosts from one process); default: the current one. */
  hostNetns?: string;
}

export interface AttachResult {
  action: 'attached' | 'unchanged';
  hostIf: string;
  bridge: string;
  addresses: string[];
}

/** The NIC's addresses with the prefix length of the subnet of their family. */
export function addressesWithPrefix(nic: Nic, net: Network): string[] {
  return nic.ips.map((addr, i) => {
    const subnet = addr.includes(':') ? net.subnet6 : net.subnet4;
    if (!subnet) throw invalid(`ips[${i}]`, addr, `network ${net.tenant}/${net.name} has no subnet of this family`);
    return `${addr}/${subnet.split('/')[1]}`;
  });
}

/** Idempotent: a NIC already plugged as asked is left alone (addresses and routes re-asserted). */
export async function attachEndpoint(req: AttachRequest): Promise<AttachResult> {
  const { nic, network, netns, ifname } = req;
  const inHost = req.hostNetns !== undefined ? ['-n', req.hostNetns] : [];
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(ifname)) throw invalid('ifname', ifname, 'must be 1-15 letters, digits, _ . -');
  if (!netnsExists(netns)) throw new VxfabError('NOT_FOUND', `network namespace "${netns}" does not exist`, { field: 'netns', value: netns });
  const bridge = bridgeDeviceName(nic.vnid);
  const hostIf = hostVethName(nic.id);
  const addresses = addressesWithPrefix(nic, network);
  const mtu = String(network.mtu);

  const deadline = Date.now() + (req.bridgeWaitMs ?? 10_000);
  while ((await link(bridge, req.hostNetns)) === undefined) {
    if (Date.now() > deadline) {
      throw new VxfabError('UNAVAILABLE', `bridge ${bridge} of network ${network.tenant}/${network.name} is not on this host: is the agent running for this node?`,
        { field: 'nic', value: nic.id });
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const host = await link(hostIf, req.hostNetns);
  const inside = await link(ifname, netns);
  let action: AttachResult['action'] = 'unchanged';
  const ours = host !== undefined && inside !== undefined && inside.address?.toLowerCase() === nic.mac.toLowerCase();
  if (!ours) {
    if (inside !== undefined) {
      throw new VxfabError('CONFLICT', `namespace "${netns}" already has an interface ${ifname} (mac ${inside.address ?? '?'}), not NIC ${nic.id}'s`,
        { field: 'ifname', value: ifname });
    }
    if (host !== undefined) await ip([...inHost, 'link', 'del', hostIf]);
    const peer = tempPeerName(nic.id);
    await must([...inHost, 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peer, 'netns', netns], 'create veth pair');
    try {
      await must(['-n', netns, 'link', 'set', peer, 'name', ifname], 'rename endpoint interface');
      await must(['-n', netns, 'link', 'set', ifname, 'address', nic.mac, 'mtu', mtu], 'set endpoint mac and mtu');
    } catch (e) {
      await ip([...inHost, 'link', 'del', hostIf]);
      throw e;
    }
    action = 'attached';
  }
  await must(['-n', netns, 'link', 'set', ifname, 'mtu', mtu, 'up'], 'endpoint up');
  for (const a of addresses) {
    await must(['-n', netns, 'addr', 'replace', a, 'dev', ifname, ...(a.includes(':') ? ['nodad'] : [])], 'endpoint address');
  }
  if (network.gateway4 && nic.ips.some((a) => !a.includes(':'))) {
    await must(['-n', netns, '-4', 'route', 'replace', 'default', 'via', network.gateway4, 'dev', ifname], 'IPv4 default route');
  }
  if (network.gateway6 && nic.ips.some((a) => a.includes(':'))) {
    await must(['-n', netns, '-6', 'route', 'replace', 'default', 'via', network.gateway6, 'dev', ifname], 'IPv6 default route');
  }
  await must([...inHost, 'link', 'set', hostIf, 'mtu', mtu, 'master', bridge, 'up'], 'plug host end into the bridge');
  return { action, hostIf, bridge, addresses };
}

/** Idempotent: an absent veth is fine. `hostNetns`: as in AttachRequest. */
export async function detachEndpoint(nicId: string, hostNetns?: string): Promise<{ action: 'detached' | 'absent'; hostIf: string }> {
  const hostIf = hostVethName(nicId);
  if ((await link(hostIf, hostNetns)) === undefined) return { action: 'absent', hostIf };
  await must([...(hostNetns !== undefined ? ['-n', hostNetns] : []), 'link', 'del', hostIf], 'delete veth pair');
  return { action: 'detached', hostIf };
}
