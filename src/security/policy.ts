// Authorization: the one place that says who may call what. Every method of the generated service
// tables has a rule here; a method without one is refused to everybody (the policy test walks the
// tables, so a new method cannot ship unruled). The transport calls `authorize` before every
// handler, with the identity its verified client certificate names; list handlers filter their
// items through `visible`.
//
// The roles (issue #12, docs/security.md):
//   admin            everything;
//   tenant T         tenant T's networks and NICs (create, read, move, delete), its own tenant
//                    record, the node list (to place NICs); lists show only T's objects;
//   agent of node N  register and heartbeat N only, read N's NICs and the networks N carries,
//                    lookups and Subscribe for the vnids N carries; nothing else;
//   replica          the change feed (Snapshot, Watch) and renewing its own certificate;
//   server           the change feed (a controller or lookup server acting as a client);
//   nobody           (no certificate) Enroll only: the token in the request is the credential.
// Status (counts, revision) is open to every authenticated identity.
//
// The facts a rule needs (which tenant and node a NIC has, which vnids a node carries) come through
// PolicyFacts: the controller state implements it in vxfab serve, the lookup index in a replica.
import type { Logger } from 'pino';
import { VxfabError } from '../model/errors.js';
import { describeIdentity, identityUri, type Identity } from '../model/identity.js';
import { Controller, Lookup } from '../wire/gen/services.js';
import type { ReqOf } from '../wire/rpc.js';

export interface PolicyFacts {
  /** The tenant and node of a NIC, or undefined when there is no such NIC (here). */
  nic(id: string): { tenant: string; node: string } | undefined;
  /** A network's vnid, or undefined when there is no such network (here). */
  networkVnid(tenant: string, name: string): number | undefined;
  /** Whether at least one NIC of vnid is placed on node. */
  carries(node: string, vnid: number): boolean;
}

/** What a refusal or an audit line names: the request field and its value. */
export interface Target {
  field: string;
  value: string;
  /** For people: "nic nic-0a1b", "network acme/web", "vnid 5001". */
  text: string;
}

type Verdict = boolean | Target;

interface Rule<M> {
  /** Writes are audited. */
  write: boolean;
  /** The object the call is about (named in denials and audit lines). */
  object: (req: ReqOf<M>) => Target;
  /** Principals that reach here are authenticated; `undefined` is the anonymous caller (only
   *  rules with `anonymous` see it). true allows; false or a Target (the object at fault, when
   *  it is not the default one) refuses. */
  allow: (who: Identity, req: ReqOf<M>, facts: PolicyFacts) => Verdict;
  anonymous?: boolean;
  /** Audited at debug instead of info: heartbeats, every few seconds from every host, change
   *  nothing stored (they live in the controller's memory only). */
  quietAudit?: boolean;
}

type AnyRule = Rule<{ req: { decode(...args: never[]): unknown } }>;

const target = (field: string, value: string, text: string): Target => ({ field, value, text });
const tenantT = (name: string) => target('tenant', name, `tenant ${name}`);
const networkT = (tenant: string, name: string) => target('network', `${tenant}/${name}`, `network ${tenant}/${name}`);
const nodeT = (name: string, field = 'name') => target(field, name, `node ${name}`);
const nicT = (id: string) => target('id', id, `nic ${id}`);
const vnidT = (vnid: number) => target('vnid', String(vnid), `vnid ${vnid}`);
const none = target('', '', 'the fabric');

const isAdmin = (who: Identity): boolean => who.kind === 'admin';
const tenantOf = (who: Identity): string | undefined => (who.kind === 'tenant' ? who.tenant : undefined);
const nodeOf = (who: Identity): string | undefined => (who.kind === 'node' ? who.node : undefined);

/** Admin, or the tenant operator of `tenant`. */
const adminOrTenant = (who: Identity, tenant: string): boolean => isAdmin(who) || tenantOf(who) === tenant;

/** A NIC rule for tenant operators (their tenant's NICs) and, when `agentReads`, agents (NICs on
 *  their node). An unknown NIC is let through: the handler answers NOT_FOUND and writes nothing. */
function nicAllowed(who: Identity, id: string, facts: PolicyFacts, agentReads: boolean): boolean {
  if (isAdmin(who)) return true;
  const t = tenantOf(who);
  const n = nodeOf(who);
  if (t === undefined && (n === undefined || !agentReads)) return false;
  const nic = facts.nic(id);
  if (nic === undefined) return true;
  return t !== undefined ? nic.tenant === t : nic.node === n;
}

/** A lookup of one vnid: admin, or the agent of a node that carries it. */
function lookupAllowed(who: Identity, vnid: number, facts: PolicyFacts): boolean {
  if (isAdmin(who)) return true;
  const n = nodeOf(who);
  return n !== undefined && facts.carries(n, vnid);
}

const C = Controller;
const L = Lookup;

function rule<M extends { path: string; req: { decode(...args: never[]): unknown } }>(_desc: M, r: Rule<M>): [string, AnyRule] {
  return [_desc.path, r as unknown as AnyRule];
}

const feedReaders = new Set<Identity['kind']>(['admin', 'replica', 'server']);

/** Every method's rule, by path. */
export const RULES: ReadonlyMap<string, AnyRule> = new Map<string, AnyRule>([
  // ---- tenants: administrators create and delete them; an operator sees its own ----
  rule(C.CreateTenant, { write: true, object: (r) => tenantT(r.name), allow: isAdmin }),
  rule(C.GetTenant, { write: false, object: (r) => tenantT(r.name), allow: (w, r) => adminOrTenant(w, r.name) }),
  rule(C.ListTenants, { write: false, object: () => none, allow: (w) => isAdmin(w) || w.kind === 'tenant' }),
  rule(C.DeleteTenant, { write: true, object: (r) => tenantT(r.name), allow: isAdmin }),

  // ---- networks ----
  rule(C.CreateNetwork, { write: true, object: (r) => networkT(r.tenant, r.name), allow: (w, r) => adminOrTenant(w, r.tenant) }),
  rule(C.GetNetwork, {
    write: false, object: (r) => networkT(r.tenant, r.name),
    allow: (w, r, f) => {
      if (adminOrTenant(w, r.tenant)) return true;
      const n = nodeOf(w);
      if (n === undefined) return false;
      const vnid = f.networkVnid(r.tenant, r.name);
      return vnid !== undefined && f.carries(n, vnid);
    },
  }),
  rule(C.ListNetworks, {
    write: false, object: (r) => (r.tenant ? tenantT(r.tenant) : none),
    allow: (w, r) => isAdmin(w) || (tenantOf(w) !== undefined && (r.tenant === '' || r.tenant === tenantOf(w))),
  }),
  rule(C.DeleteNetwork, { write: true, object: (r) => networkT(r.tenant, r.name), allow: (w, r) => adminOrTenant(w, r.tenant) }),

  // ---- nodes: administrators manage them; an agent registers and keeps alive its own ----
  rule(C.AddNode, { write: true, object: (r) => nodeT(r.name), allow: isAdmin }),
  rule(C.RegisterNode, { write: true, object: (r) => nodeT(r.name), allow: (w, r) => isAdmin(w) || nodeOf(w) === r.name }),
  rule(C.Heartbeat, { write: true, quietAudit: true, object: (r) => nodeT(r.name), allow: (w, r) => isAdmin(w) || nodeOf(w) === r.name }),
  rule(C.GetNode, {
    write: false, object: (r) => nodeT(r.name),
    allow: (w, r) => isAdmin(w) || w.kind === 'tenant' || nodeOf(w) === r.name,
  }),
  // Tenant operators place NICs on nodes, so they may see the node list.
  rule(C.ListNodes, { write: false, object: () => none, allow: (w) => isAdmin(w) || w.kind === 'tenant' }),
  rule(C.DeleteNode, { write: true, object: (r) => nodeT(r.name), allow: isAdmin }),

  // ---- NICs ----
  rule(C.CreateNic, {
    write: true, object: (r) => networkT(r.tenant, r.network), allow: (w, r) => adminOrTenant(w, r.tenant),
  }),
  rule(C.GetNic, { write: false, object: (r) => nicT(r.id), allow: (w, r, f) => nicAllowed(w, r.id, f, true) }),
  rule(C.ListNics, {
    write: false,
    object: (r) => (r.node ? nodeT(r.node, 'node') : r.tenant ? tenantT(r.tenant) : none),
    allow: (w, r) => {
      if (isAdmin(w)) return true;
      const t = tenantOf(w);
      if (t !== undefined) return r.tenant === '' ? r.network === '' : r.tenant === t;
      const n = nodeOf(w);
      return n !== undefined && r.node === n;
    },
  }),
  rule(C.MoveNic, { write: true, object: (r) => nicT(r.id), allow: (w, r, f) => nicAllowed(w, r.id, f, false) }),
  rule(C.DeleteNic, { write: true, object: (r) => nicT(r.id), allow: (w, r, f) => nicAllowed(w, r.id, f, false) }),

  // ---- the change feed: everything, so for the fabric's own servers and administrators ----
  rule(C.Snapshot, { write: false, object: () => none, allow: (w) => feedReaders.has(w.kind) }),
  rule(C.Watch, { write: false, object: () => none, allow: (w) => feedReaders.has(w.kind) }),

  // ---- enrollment and credentials ----
  rule(C.CreateToken, {
    write: true, object: (r) => target('name', r.name, `token for ${r.name}`), allow: isAdmin,
  }),
  // The token is checked by the security service: it alone says who the caller may become.
  rule(C.Enroll, { write: true, anonymous: true, object: (r) => target('name', r.name, `enrollment of ${r.name}`), allow: () => true }),
  rule(C.Renew, { write: true, object: () => none, allow: (w) => w.kind === 'node' || w.kind === 'replica' }),
  rule(C.IssueCredentials, {
    write: true, object: (r) => target('identity', r.identity, `credentials for ${r.identity}`), allow: isAdmin,
  }),

  // ---- lookups: an agent learns only what it carries ----
  rule(L.Vl2, { write: false, object: (r) => vnidT(r.vnid), allow: (w, r, f) => lookupAllowed(w, r.vnid, f) }),
  rule(L.Vl3, { write: false, object: (r) => vnidT(r.vnid), allow: (w, r, f) => lookupAllowed(w, r.vnid, f) }),
  rule(L.Bulk, { write: false, object: (r) => vnidT(r.vnid), allow: (w, r, f) => lookupAllowed(w, r.vnid, f) }),
  rule(L.Flood, { write: false, object: (r) => vnidT(r.vnid), allow: (w, r, f) => lookupAllowed(w, r.vnid, f) }),
  rule(L.Subscribe, {
    write: false, object: (r) => nodeT(r.node, 'node'),
    allow: (w, r, f) => {
      if (isAdmin(w)) return true;
      if (nodeOf(w) !== r.node) return false;
      for (const v of r.vnids) if (!f.carries(r.node, v)) return vnidT(v);
      return true;
    },
  }),
  rule(L.Status, { write: false, object: () => none, allow: () => true }),
]);

/** The methods a caller without a certificate may call (the transport's anonymousMethods). */
export const ANONYMOUS_METHODS: readonly string[] = [...RULES].filter(([, r]) => r.anonymous).map(([p]) => p);

/** Whether the policy (and its audit line) reads the request of this call: an administrator's
 *  reads need nothing from it, so the raw VL2 path decodes requests for agents only. */
export function needsRequest(who: Identity | undefined, path: string): boolean {
  return who === undefined || who.kind !== 'admin' || isWrite(path);
}

/** "Controller/MoveNic" from "vxfab.v1.Controller/MoveNic". */
export const methodName = (path: string): string => path.replace(/^vxfab\.v1\./, '');

export function permissionDenied(who: Identity | undefined, path: string, t: Target): VxfabError {
  const caller = who === undefined ? 'a caller without a certificate' : describeIdentity(who);
  return new VxfabError('PERMISSION_DENIED', `${caller} may not call ${methodName(path)} on ${t.text}`,
    { field: t.field, value: t.value });
}

/** Throws PERMISSION_DENIED unless `who` may make this call. */
export function authorize(who: Identity | undefined, path: string, req: unknown, facts: PolicyFacts): void {
  const r = RULES.get(path);
  if (r === undefined) throw permissionDenied(who, path, target('method', methodName(path), `method ${methodName(path)} (no rule)`));
  if (who === undefined && !r.anonymous) throw permissionDenied(who, path, targetOf(r, req));
  // The transport leaves raw routes' requests undecoded for principals whose rights do not depend
  // on them (needsRequest): their rules see an empty request, and refuse or allow by role alone.
  const verdict = who === undefined ? true : r.allow(who, (req ?? NO_REQUEST) as never, facts);
  if (verdict === true) return;
  throw permissionDenied(who, path, verdict === false ? targetOf(r, req) : verdict);
}

const NO_REQUEST = Object.freeze({});

function targetOf(r: AnyRule, req: unknown): Target {
  if (req === undefined) return none;
  try {
    return r.object(req as never);
  } catch {
    return none;
  }
}

/** What a list item is, for `visible`. */
export type Visible =
  | { kind: 'tenant'; name: string }
  | { kind: 'network'; tenant: string }
  | { kind: 'node'; name: string }
  | { kind: 'nic'; tenant: string; node: string };

/** Whether `who` may see one item of a list it was allowed to ask for. */
export function visible(who: Identity | undefined, item: Visible): boolean {
  if (who === undefined) return false;
  if (who.kind === 'admin') return true;
  switch (item.kind) {
    case 'tenant': return tenantOf(who) === item.name;
    case 'network': return tenantOf(who) === item.tenant;
    case 'node': return who.kind === 'tenant' || nodeOf(who) === item.name;
    case 'nic': return who.kind === 'tenant' ? who.tenant === item.tenant : nodeOf(who) === item.node;
  }
}

/** Whether the method changes the fabric (audited). */
export const isWrite = (path: string): boolean => RULES.get(path)?.write === true;

/**
 * The authorize hook for RpcServerOptions: the policy over these facts, with the audit log. Every
 * allowed write is logged (info, module 'audit') with who made it, the method and the object;
 * every refusal is logged (warn) the same way.
 */
export function authorizer(facts: PolicyFacts, logger: Logger): ((peer: { principal?: Identity }, path: string, req: unknown) => void) &
  { needsRequest: (peer: { principal?: Identity }, path: string) => boolean } {
  const audit = logger.child({ module: 'audit' });
  const check = (peer: { principal?: Identity }, path: string, req: unknown): void => {
    const who = peer.principal;
    try {
      authorize(who, path, req, facts);
    } catch (e) {
      const err = e as VxfabError;
      audit.warn({ identity: who ? identityUri(who) : '', method: methodName(path), field: err.field, object: err.value }, 'denied');
      throw e;
    }
    const r = RULES.get(path);
    if (r?.write) {
      const t = targetOf(r, req);
      const line = { identity: who ? identityUri(who) : '', method: methodName(path), object: t.text };
      if (r.quietAudit) audit.debug(line, 'write');
      else audit.info(line, 'write');
    }
  };
  // The transport decodes a raw route's request for the check only where this policy reads it.
  return Object.assign(check, { needsRequest: (peer: { principal?: Identity }, path: string) => needsRequest(peer.principal, path) });
}
