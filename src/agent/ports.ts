// What the agent core needs from the outside, as narrow interfaces: the controller (register,
// heartbeat, the NICs placed on this node, a network's MTU) and lookup servers (VL2/VL3, bulk,
// flood, the event stream). A process wires them to RPC clients (rpc-ports.ts); the simulator
// may wire thousands of agents to in-process fakes without sockets.

import type { Network, Nic } from '../model/objects.js';
import type { VxfabError } from '../model/errors.js';

export interface ControllerPort {
  /** Idempotent: same name and underlay is fine; CONFLICT when the name has another underlay. */
  registerNode(name: string, underlay: string, port: number): Promise<void>;
  /** NOT_FOUND when the node is unknown (deleted by an operator: the agent stops programming and
   *  does not register again). May return the node as the controller has it (its underlay), which
   *  the agent checks when its deleted node reappears. */
  heartbeat(name: string): Promise<NodeRecord | void>;
  /** Every NIC placed on `node`. */
  listNics(node: string): Promise<Nic[]>;
  getNetwork(tenant: string, name: string): Promise<Network>;
}

/** A node as the controller has it. */
export interface NodeRecord {
  underlay: string;
  port: number;
}

/** Where an endpoint lives, as the lookup service says. */
export interface EndpointLocation {
  mac: string;
  ips: string[];
  underlay: string;
  port: number;
  node: string;
  nicId: string;
}

export interface FloodTarget {
  underlay: string;
  port: number;
  node: string;
}

export type LookupEventKind = 'added' | 'moved' | 'removed' | 'flood' | 'synced';

export interface LookupEvent {
  revision: number;
  kind: LookupEventKind;
  vnid: number;
  /** added / moved (new place) / removed. */
  endpoint?: EndpointLocation;
  /** moved: the previous node. */
  oldNode?: string;
  /** flood: the whole new flood list. */
  flood?: FloodTarget[];
}

export interface EventStream {
  /** Resolves when the stream ends or is cancelled; rejects with COMPACTED / RESYNC (resync with
   *  bulk), UNAVAILABLE (connection lost) or another typed error. */
  done: Promise<void>;
  cancel(): void;
}

/** One connection to one lookup server. */
export interface LookupConnection {
  readonly address: string;
  /** undefined: NOT_FOUND. */
  vl2(vnid: number, mac: string): Promise<FloodTarget | undefined>;
  vl3(vnid: number, ip: string): Promise<(FloodTarget & { mac: string }) | undefined>;
  bulk(vnid: number): Promise<{ revision: number; endpoints: EndpointLocation[] }>;
  flood(vnid: number): Promise<{ revision: number; members: FloodTarget[] }>;
  subscribe(node: string, vnids: number[], fromRevision: number, onEvent: (e: LookupEvent) => void): EventStream;
  /** Resolves when the connection is lost (not on close()). */
  readonly lost: Promise<VxfabError>;
  close(): Promise<void>;
}

/** Opens a connection to one lookup server; rejects (UNAVAILABLE) when it cannot be reached. */
export type LookupDialer = (address: string) => Promise<LookupConnection>;
