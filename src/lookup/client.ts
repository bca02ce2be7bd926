// Calling `service Lookup` over the wire, with answers as plain domain values (types.ts) rather
// than protobufjs instances. For the CLI, agents and tests. NOT_FOUND becomes `undefined`; every
// other failure is the server's typed error (VxfabError), as RpcClient reports it.
import { isVxfabError } from '../model/errors.js';
import { vxfab } from '../wire/gen/proto.js';
import { Lookup } from '../wire/gen/services.js';
import type { CallOptions, RpcClient, StreamCall } from '../wire/transport/client.js';
import type { EndpointInfo, FloodMemberInfo, LookupEventLike, Vl2Answer, Vl3Answer } from './types.js';

export interface FloodList {
  revision: number;
  members: FloodMemberInfo[];
}

export interface BulkResult {
  revision: number;
  endpoints: EndpointInfo[];
}

export interface LookupStatusInfo {
  revision: number;
  mappings: number;
  subscribers: number;
  source: string;
}

export function endpointFrom(m: vxfab.v1.IEndpoint): EndpointInfo {
  return {
    mac: m.mac ?? '', ips: [...(m.ips ?? [])], underlay: m.underlay ?? '', port: m.port ?? 0, node: m.node ?? '',
    nicId: m.nicId ?? '',
  };
}

export function floodMemberFrom(m: vxfab.v1.IFloodMember): FloodMemberInfo {
  return { underlay: m.underlay ?? '', port: m.port ?? 0, node: m.node ?? '' };
}

/** A received LookupEvent as a plain value with only the fields its kind uses. */
export function eventFrom(m: vxfab.v1.ILookupEvent): LookupEventLike {
  const kind = m.kind ?? vxfab.v1.EventKind.EVENT_KIND_UNSPECIFIED;
  const e: LookupEventLike = { revision: Number(m.revision ?? 0), kind, vnid: m.vnid ?? 0 };
  const K = vxfab.v1.EventKind;
  if (kind === K.ENDPOINT_ADDED || kind === K.ENDPOINT_MOVED || kind === K.ENDPOINT_REMOVED) {
    e.endpoint = endpointFrom(m.endpoint ?? {});
  }
  if (kind === K.ENDPOINT_MOVED) {
    e.oldUnderlay = m.oldUnderlay ?? '';
    e.oldPort = m.oldPort ?? 0;
    e.oldNode = m.oldNode ?? '';
  }
  if (kind === K.FLOOD_CHANGED) e.flood = (m.flood ?? []).map(floodMemberFrom);
  return e;
}

function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  return p.catch((e: unknown) => {
    if (isVxfabError(e, 'NOT_FOUND')) return undefined;
    throw e;
  });
}

export class LookupClient {
  constructor(readonly rpc: RpcClient) {}

  /** (vnid, MAC) → where it lives; undefined when not found. */
  async vl2(vnid: number, mac: string, options?: CallOptions): Promise<Vl2Answer | undefined> {
    const r = await orUndefined(this.rpc.call(Lookup.Vl2, { vnid, mac }, options));
    return r && { underlay: r.underlay, port: r.port, node: r.node };
  }

  /** (vnid, IPv4 or IPv6) → MAC and where it lives; undefined when not found. */
  async vl3(vnid: number, ip: string, options?: CallOptions): Promise<Vl3Answer | undefined> {
    const r = await orUndefined(this.rpc.call(Lookup.Vl3, { vnid, ip }, options));
    return r && { mac: r.mac, underlay: r.underlay, port: r.port, node: r.node };
  }

  async flood(vnid: number, options?: CallOptions): Promise<FloodList> {
    const r = await this.rpc.call(Lookup.Flood, { vnid }, options);
    return { revision: Number(r.revision), members: r.members.map(floodMemberFrom) };
  }

  /** Every endpoint of vnid (pages of pageSize, 0: the server's default), all as of one revision. */
  async bulk(vnid: number, pageSize = 0, options?: CallOptions): Promise<BulkResult> {
    const out: BulkResult = { revision: 0, endpoints: [] };
    await this.rpc.stream(Lookup.Bulk, { vnid, pageSize }, (page) => {
      out.revision = Number(page.revision);
      for (const ep of page.endpoints) out.endpoints.push(endpointFrom(ep));
    }, options).done;
    return out;
  }

  async status(options?: CallOptions): Promise<LookupStatusInfo> {
    const r = await this.rpc.call(Lookup.Status, {}, options);
    return { revision: Number(r.revision), mappings: Number(r.mappings), subscribers: r.subscribers, source: r.source };
  }

  /**
   * Changes of `vnids` after `fromRevision` (0: from now; take a Bulk first). `done` rejects with
   * COMPACTED (fromRevision is gone) or RESYNC (fell behind, or the server reloaded): run Bulk
   * and subscribe again from its revision. The first SYNCED event says the replay is complete.
   */
  subscribe(node: string, vnids: number[], fromRevision: number, onEvent: (event: LookupEventLike) => void): StreamCall {
    return this.rpc.stream(Lookup.Subscribe, { node, vnids, fromRevision }, (m) => onEvent(eventFrom(m)));
  }
}
