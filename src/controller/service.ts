// Binds the controller's operations to the wire: one handler per method of `service Controller`.
// Requests arrive as decoded protobuf messages; absent proto3 fields are '' or 0, which here
// always means "not given".
import { Controller as Methods } from '../wire/gen/services.js';
import type { CallContext, StreamContext } from '../wire/rpc.js';
import type { Visible } from '../security/policy.js';
import type { RpcServer } from '../wire/transport/server.js';
import type { Controller } from './controller.js';
import { registerFeed } from './feed.js';
import { encodedSizeBound, pagesBySize } from '../model/limits.js';

/** Most items per page of a List stream; a page also stops at STREAM_PAGE_BYTES of encoded items,
 *  so NICs with many addresses still make frames far below the frame limit. */
export const LIST_PAGE_SIZE = 500;

async function sendPages<T extends object>(ctx: StreamContext, items: T[], page: (chunk: T[]) => object): Promise<void> {
  const what = (item: T) => ('id' in item ? `object ${String(item.id)}` : 'name' in item ? `object ${String(item.name)}` : 'an object');
  for (const chunk of pagesBySize(items, LIST_PAGE_SIZE, encodedSizeBound, what)) {
    if (ctx.closed) return;
    if (!ctx.send(page(chunk))) await ctx.drained();
  }
}

/** Whether the caller may see one item of a list (the policy's visible(); everything when absent). */
export type ListFilter = (ctx: CallContext, item: Visible) => boolean;

export function registerController(server: RpcServer, c: Controller, canSee?: ListFilter): void {
  const keep = <T>(ctx: CallContext, items: T[], as: (item: T) => Visible): T[] =>
    (canSee ? items.filter((item) => canSee(ctx, as(item))) : items);
  server.handle(Methods.CreateTenant, (req) => c.createTenant(req.name));
  server.handle(Methods.GetTenant, (req) => c.getTenant(req.name));
  server.handleStream(Methods.ListTenants, (_req, ctx) => sendPages(ctx,
    keep(ctx, c.listTenants(), (t) => ({ kind: 'tenant', name: t.name })), (tenants) => ({ tenants })));
  server.handle(Methods.DeleteTenant, async (req) => { await c.deleteTenant(req.name); return {}; });

  server.handle(Methods.CreateNetwork, (req) => c.createNetwork({
    tenant: req.tenant, name: req.name, vnid: req.vnid, mtu: req.mtu,
    subnet4: req.subnet4, subnet6: req.subnet6, gateway4: req.gateway4, gateway6: req.gateway6,
  }));
  server.handle(Methods.GetNetwork, (req) => c.getNetwork(req.tenant, req.name));
  server.handleStream(Methods.ListNetworks, (req, ctx) => sendPages(ctx,
    keep(ctx, c.listNetworks(req.tenant || undefined), (n) => ({ kind: 'network', tenant: n.tenant })), (networks) => ({ networks })));
  server.handle(Methods.DeleteNetwork, async (req) => { await c.deleteNetwork(req.tenant, req.name); return {}; });

  server.handle(Methods.AddNode, (req) => c.addNode(req.name, req.underlay, req.port));
  server.handle(Methods.RegisterNode, (req) => c.registerNode(req.name, req.underlay, req.port));
  server.handle(Methods.Heartbeat, (req) => c.heartbeat(req.name));
  server.handle(Methods.GetNode, (req) => c.getNode(req.name, 'name'));
  server.handleStream(Methods.ListNodes, (_req, ctx) => sendPages(ctx,
    keep(ctx, c.listNodes(), (n) => ({ kind: 'node', name: n.name })), (nodes) => ({ nodes })));
  server.handle(Methods.DeleteNode, async (req) => { await c.deleteNode(req.name); return {}; });

  server.handle(Methods.CreateNic, (req) => c.createNic({
    tenant: req.tenant, network: req.network, node: req.node, mac: req.mac, ips: req.ips,
  }));
  server.handle(Methods.GetNic, (req) => c.getNic(req.id));
  server.handleStream(Methods.ListNics, (req, ctx) => sendPages(ctx, keep(ctx, c.listNics({
    tenant: req.tenant || undefined, network: req.network || undefined, node: req.node || undefined,
  }), (n) => ({ kind: 'nic', tenant: n.tenant, node: n.node })), (nics) => ({ nics })));
  server.handle(Methods.MoveNic, (req) => c.moveNic(req.id, req.node));
  server.handle(Methods.DeleteNic, async (req) => { await c.deleteNic(req.id); return {}; });

  registerFeed(server, c.store);
}
