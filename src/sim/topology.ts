// The topology file as loaded (docs/topologies.md): declarations, generators still unexpanded, a
// timeline of steps. `where` on each item is "FILE:LINE" so that later errors (a NIC naming a
// network that does not exist) still point at the line that is wrong.

export type AgentMode = 'push' | 'on-demand';

export interface Where {
  /** YAML path, e.g. "nics[3].host". */
  path: string;
  /** 1-based line, 0 when unknown. */
  line: number;
}

export interface HostDecl {
  kind: 'host';
  name: string;
  underlay: string;
  mode?: AgentMode;
  where: Where;
}

/** `count` hosts named PREFIX1..PREFIXn with consecutive underlay addresses from `underlay`. */
export interface HostGenerator {
  kind: 'generate';
  count: number;
  prefix: string;
  underlay: string;
  mode?: AgentMode;
  where: Where;
}

export interface NetworkDecl {
  name: string;
  subnet?: string;
  subnet6?: string;
  vnid?: number;
  where: Where;
}

export interface TenantDecl {
  kind: 'tenant';
  name: string;
  networks: NetworkDecl[];
  where: Where;
}

/** `count` tenants PREFIX1..n, each with `networks` networks NETPREFIX1..m whose IPv4 subnets are
 * the successive /prefixLength blocks of `subnet` (the same blocks in every tenant). */
export interface TenantGenerator {
  kind: 'generate';
  count: number;
  prefix: string;
  networks: { count: number; prefix: string; subnet: string; prefixLength: number };
  where: Where;
}

export interface NicDecl {
  kind: 'nic';
  name: string;
  /** TENANT/NETWORK */
  network: string;
  host: string;
  mac?: string;
  ip?: string;
  where: Where;
}

/** `count` NICs PREFIX1..n, each on a network drawn from `networks` (default all) and a host drawn
 * from `hosts` (default all), uniformly with the seeded PRNG; with `hostsPerNetwork`, each network's
 * NICs land only on a fixed random subset of that many hosts (rack locality). */
export interface NicGenerator {
  kind: 'generate';
  count: number;
  prefix: string;
  networks?: string[];
  hosts?: string[];
  hostsPerNetwork?: number;
  where: Where;
}

export interface PairDecl {
  from: string;
  to: string;
  where: Where;
}

export interface CheckpointDecl {
  name: string;
  /** Check the default expectation: every pair in a network reaches, nothing crosses networks. */
  default: boolean;
  reach: PairDecl[];
  isolated: PairDecl[];
}

export type Step =
  | { op: 'create'; nic: NicDecl; where: Where }
  | { op: 'delete'; nic: string; where: Where }
  | { op: 'move'; nic: string; to: string; where: Where }
  | { op: 'move-random'; count: number; where: Where }
  | { op: 'stop-agent' | 'start-agent' | 'cut'; host: string; where: Where }
  | { op: 'heal'; host: string | 'all'; where: Where }
  | { op: 'stop-lookup' | 'start-lookup'; replica: string; where: Where }
  | { op: 'checkpoint'; checkpoint: CheckpointDecl; where: Where };

export interface TopologyFile {
  file: string;
  name: string;
  description: string;
  seed: number;
  /** Lookup replica names; the first is served with the controller, the others run apart. */
  lookups: string[];
  defaultMode: AgentMode;
  /** How long one step may take to converge before it is reported as not converged. */
  settleTimeoutMs: number;
  hosts: Array<HostDecl | HostGenerator>;
  tenants: Array<TenantDecl | TenantGenerator>;
  nics: Array<NicDecl | NicGenerator>;
  timeline: Step[];
}

// ---- expanded: every object concrete ----

export interface PlanHost {
  name: string;
  underlay: string;
  mode: AgentMode;
}

export interface PlanNetwork {
  tenant: string;
  name: string;
  /** TENANT/NETWORK */
  ref: string;
  subnet?: string;
  subnet6?: string;
  vnid?: number;
}

export interface PlanNic {
  name: string;
  network: string;
  host: string;
  mac?: string;
  ip?: string;
}

export type PlanStep =
  | { op: 'create'; nic: PlanNic; where: Where }
  | { op: 'delete'; nic: string; where: Where }
  | { op: 'move'; nic: string; to: string; where: Where }
  | { op: 'stop-agent' | 'start-agent' | 'cut' | 'heal'; host: string; where: Where }
  | { op: 'heal-all'; where: Where }
  | { op: 'stop-lookup' | 'start-lookup'; replica: string; where: Where }
  | { op: 'checkpoint'; checkpoint: CheckpointDecl; where: Where };

export interface Plan {
  name: string;
  seed: number;
  lookups: string[];
  settleTimeoutMs: number;
  hosts: PlanHost[];
  tenants: string[];
  networks: PlanNetwork[];
  nics: PlanNic[];
  steps: PlanStep[];
}
