import type { Command } from 'commander';
import { Controller } from '../../wire/gen/services.js';
import { networkFrom } from '../../wire/objects.js';
import { NETWORK_COLUMNS } from '../columns.js';
import { parseIntOption, parseNetworkRef } from '../parse.js';
import { collect } from '../../wire/transport/collect.js';
import type { Runner } from '../runner.js';
import { UsageError } from '../exit-codes.js';

interface CreateOptions {
  tenant: string;
  subnet?: string;
  subnet6?: string;
  gateway?: string;
  gateway6?: string;
  mtu?: string;
  vnid?: string;
}

export function networkCommands(program: Command, run: Runner): void {
  const network = program.command('network').description('create, list, show and delete virtual networks');
  network.command('create <name>')
    .description('create a virtual network (an L2 segment with its own VNID)')
    .requiredOption('--tenant <tenant>', 'owning tenant')
    .option('--subnet <cidr>', 'IPv4 subnet, e.g. 100.64.1.0/24')
    .option('--subnet6 <cidr>', 'IPv6 subnet, e.g. fd00:1::/64')
    .option('--gateway <ip>', 'IPv4 gateway (default: first host address of --subnet)')
    .option('--gateway6 <ip>', 'IPv6 gateway (default: first host address of --subnet6)')
    .option('--mtu <n>', 'overlay MTU, 576-9000 (default 1450)')
    .option('--vnid <n>', 'VXLAN network id, 1-16777215 (default: allocated)')
    .action((name: string, o: CreateOptions) => run(async (ctx) => {
      const req = {
        tenant: o.tenant, name, subnet4: o.subnet ?? '', subnet6: o.subnet6 ?? '',
        gateway4: o.gateway ?? '', gateway6: o.gateway6 ?? '',
        mtu: o.mtu === undefined ? 0 : parseIntOption('--mtu', o.mtu),
        vnid: o.vnid === undefined ? 0 : parseIntOption('--vnid', o.vnid),
      };
      // 0 means "default" on the wire, so an explicit 0 is refused here rather than ignored there.
      if (o.vnid !== undefined && req.vnid === 0) throw new UsageError('--vnid "0": must be 1-16777215');
      if (o.mtu !== undefined && req.mtu === 0) throw new UsageError('--mtu "0": must be 576-9000');
      const client = await ctx.connect();
      ctx.out.object(networkFrom(await client.call(Controller.CreateNetwork, req)), NETWORK_COLUMNS);
    }));
  network.command('list').description('list networks').option('--tenant <tenant>', 'only this tenant\'s')
    .action((o: { tenant?: string }) => run(async (ctx) => {
      const client = await ctx.connect();
      const pages = await collect(client, Controller.ListNetworks, { tenant: o.tenant ?? '' });
      ctx.out.list(pages.flatMap((p) => p.networks.map(networkFrom)), NETWORK_COLUMNS);
    }));
  network.command('get <ref>').description('show a network (TENANT/NAME)').action((ref: string) => run(async (ctx) => {
    const { tenant, name } = parseNetworkRef('network', ref);
    const client = await ctx.connect();
    ctx.out.object(networkFrom(await client.call(Controller.GetNetwork, { tenant, name })), NETWORK_COLUMNS);
  }));
  network.command('delete <ref>').description('delete a network that has no NICs (TENANT/NAME)').action((ref: string) => run(async (ctx) => {
    const { tenant, name } = parseNetworkRef('network', ref);
    const client = await ctx.connect();
    await client.call(Controller.DeleteNetwork, { tenant, name });
    ctx.out.done({ deleted: ref }, `network ${ref} deleted`);
  }));
}
