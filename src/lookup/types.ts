// Domain shapes of the lookup index. They are structurally the protobuf property shapes
// (vxfab.v1.Endpoint / FloodMember / LookupEvent / KeyChange), so the wire layer encodes them
// as they are, without a copy.

import { vxfab } from '../wire/gen/proto.js';

export const EventKind = vxfab.v1.EventKind;
export type EventKind = vxfab.v1.EventKind;

/** One committed store write as the change feed carries it (vxfab.v1.KeyChange). */
export interface KeyChangeLike {
  key: string;
  /** The encoded Tenant / Network / Node / Nic; absent or empty when deleted. */
  value?: Uint8Array | null;
  deleted?: boolean | null;
}

export interface EndpointInfo {
  mac: string;
  ips: string[];
  underlay: string;
  port: number;
  node: string;
  nicId: string;
}

/** Where a host's VTEP is. Immutable: the index replaces it when the node changes. */
export interface FloodMemberInfo {
  readonly underlay: string;
  readonly port: number;
  readonly node: string;
}

/** A change caused by one applied batch, for subscribers of `vnid` (vnid 0 on SYNCED). */
export interface LookupEventLike {
  revision: number;
  kind: EventKind;
  vnid: number;
  /** ADDED: the new endpoint; MOVED: the endpoint at its new place; REMOVED: what went. */
  endpoint?: EndpointInfo;
  /** MOVED only: the previous location. */
  oldUnderlay?: string;
  oldPort?: number;
  oldNode?: string;
  /** FLOOD_CHANGED only: the whole new flood list, sorted by node name. */
  flood?: FloodMemberInfo[];
}

export interface Vl2Answer {
  underlay: string;
  port: number;
  node: string;
}

export interface Vl3Answer {
  mac: string;
  underlay: string;
  port: number;
  node: string;
}
