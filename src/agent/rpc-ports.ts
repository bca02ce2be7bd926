// The agent's ports over vxfab RPC: the controller through one long-lived client (it redials by
// itself), lookup servers through one client per dial with redial off — failover between servers
// is the agent's job (lookup-link.ts), not the client's.

import type { Logger } from 'pino';
import { VxfabError, isVxfabError } from '../model/errors.js';
import { networkFrom, nicFrom } from '../wire/objects.js';
import { vxfab } from '../wire/gen/proto.js';
import { Controller, Lookup } from '../wire/gen/services.js';
import { RpcClient } from '../wire/transport/client.js';
import { collect } from '../wire/transport/collect.js';
import type { ClientTlsOptions } from '../wire/transport/tls.js';
import type {
  ControllerPort, EndpointLocation, FloodTarget, LookupConnection, LookupDialer, LookupEvent, LookupEventKind,
} from './ports.js';

const CALL_TIMEOUT_MS = 10_000;

export function rpcControllerPort(client: RpcClient): ControllerPort {
  return {
    async registerNode(name, underlay, port) {
      await client.call(Controller.RegisterNode, { name, underlay, port });
    },
    async heartbeat(name) {
      const node = await client.call(Controller.Heartbeat, { name });
      return { underlay: node.underlay ?? '', port: node.port ?? 0 };
    },
    async listNics(node) {
      const pages = await collect(client, Controller.ListNics, { tenant: '', network: '', node });
      return pages.flatMap((p) => p.nics.map(nicFrom));
    },
    async getNetwork(tenant, name) {
      return networkFrom(await client.call(Controller.GetNetwork, { tenant, name }));
    },
  };
}

const KINDS: Partial<Record<vxfab.v1.EventKind, LookupEventKind>> = {
  [vxfab.v1.EventKind.ENDPOINT_ADDED]: 'added',
  [vxfab.v1.EventKind.ENDPOINT_MOVED]: 'moved',
  [vxfab.v1.EventKind.ENDPOINT_REMOVED]: 'removed',
  [vxfab.v1.EventKind.FLOOD_CHANGED]: 'flood',
  [vxfab.v1.EventKind.SYNCED]: 'synced',
};

function endpointFrom(e: vxfab.v1.IEndpoint): EndpointLocation {
  return {
    mac: e.mac ?? '', ips: [...(e.ips ?? [])], underlay: e.underlay ?? '', port: e.port ?? 0,
    node: e.node ?? '', nicId: e.nicId ?? '',
  };
}

function floodFrom(m: vxfab.v1.IFloodMember): FloodTarget {
  return { underlay: m.underlay ?? '', port: m.port ?? 0, node: m.node ?? '' };
}

function notFound<T>(e: unknown): T | undefined {
  if (isVxfabError(e, 'NOT_FOUND')) return undefined;
  throw e;
}

class RpcLookupConnection implements LookupConnection {
  readonly lost: Promise<VxfabError>;

  constructor(readonly address: string, private readonly client: RpcClient) {
    this.lost = new Promise((resolve) => client.once('disconnected', resolve));
  }

  vl2(vnid: number, mac: string): Promise<FloodTarget | undefined> {
    return this.client.call(Lookup.Vl2, { vnid, mac }).then(
      (r) => ({ underlay: r.underlay, port: r.port, node: r.node }), notFound<FloodTarget>);
  }

  vl3(vnid: number, ip: string): Promise<(FloodTarget & { mac: string }) | undefined> {
    return this.client.call(Lookup.Vl3, { vnid, ip }).then(
      (r) => ({ mac: r.mac, underlay: r.underlay, port: r.port, node: r.node }), notFound<FloodTarget & { mac: string }>);
  }

  async bulk(vnid: number): Promise<{ revision: number; endpoints: EndpointLocation[] }> {
    const pages = await collect(this.client, Lookup.Bulk, { vnid, pageSize: 0 });
    return { revision: Number(pages[0]?.revision ?? 0), endpoints: pages.flatMap((p) => p.endpoints.map(endpointFrom)) };
  }

  async flood(vnid: number): Promise<{ revision: number; members: FloodTarget[] }> {
    const r = await this.client.call(Lookup.Flood, { vnid });
    return { revision: Number(r.revision), members: r.members.map(floodFrom) };
  }

  subscribe(node: string, vnids: number[], fromRevision: number, onEvent: (e: LookupEvent) => void) {
    return this.client.stream(Lookup.Subscribe, { node, vnids, fromRevision }, (item) => {
      const kind = KINDS[item.kind];
      if (kind === undefined) return; // a kind from a newer server: nothing this agent can do with it
      onEvent({
        revision: Number(item.revision), kind, vnid: item.vnid,
        endpoint: item.endpoint ? endpointFrom(item.endpoint) : undefined,
        oldNode: item.oldNode || undefined,
        flood: kind === 'flood' ? item.flood.map(floodFrom) : undefined,
      });
    });
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export interface RpcLookupDialerOptions {
  /** Identity sent in hello (the node name). */
  identity: string;
  /** Per-call and connect timeout. Default 10000 ms. */
  timeoutMs?: number;
  logger?: Logger;
  /** Mutual TLS to the lookup servers (the agent's certificate); without it, plain TCP. */
  tls?: ClientTlsOptions;
}

export function rpcLookupDialer(options: RpcLookupDialerOptions): LookupDialer {
  return async (address) => {
    const client = new RpcClient({
      address, role: vxfab.v1.Role.ROLE_AGENT, identity: options.identity,
      timeoutMs: options.timeoutMs ?? CALL_TIMEOUT_MS, reconnect: false, failFast: true,
      ...(options.logger ? { logger: options.logger } : {}), ...(options.tls ? { tls: options.tls } : {}),
    });
    try {
      await client.connect();
    } catch (e) {
      await client.close();
      throw e;
    }
    return new RpcLookupConnection(address, client);
  };
}
