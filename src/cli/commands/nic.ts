import type { Command } from 'commander';
import { Controller } from '../../wire/gen/services.js';
import { nicFrom } from '../../wire/objects.js';
import { NIC_COLUMNS } from '../columns.js';
import { repeatable, parseNetworkRef } from '../parse.js';
import { collect } from '../../wire/transport/collect.js';
import type { Runner } from '../runner.js';

export function nicCommands(program: Command, run: Runner): void {
  const nic = program.command('nic').description('create, list, show, move and delete NICs (endpoints)');
  nic.command('create').description('create a NIC on a network, placed on a node')
    .requiredOption('--network <ref>', 'TENANT/NETWORK')
    .requiredOption('--node <node>', 'the node (host) the NIC lives on')
    .option('--mac <mac>', 'MAC address (default: allocated, locally administered)')
    .option('--ip <ip>', 'an address; repeat for more (default: one from each subnet)', repeatable, [])
    .action((o: { network: string; node: string; mac?: string; ip: string[] }) => run(async (ctx) => {
      const { tenant, name } = parseNetworkRef('--network', o.network);
      const client = await ctx.connect();
      const created = await client.call(Controller.CreateNic, { tenant, network: name, node: o.node, mac: o.mac ?? '', ips: o.ip });
      ctx.out.object(nicFrom(created), NIC_COLUMNS);
    }));
  nic.command('list').description('list NICs')
    .option('--network <ref>', 'only this network\'s (TENANT/NETWORK)')
    .option('--node <node>', 'only those on this node')
    .action((o: { network?: string; node?: string }) => run(async (ctx) => {
      const ref = o.network ? parseNetworkRef('--network', o.network) : { tenant: '', name: '' };
      const client = await ctx.connect();
      const pages = await collect(client, Controller.ListNics, { tenant: ref.tenant, network: ref.name, node: o.node ?? '' });
      ctx.out.list(pages.flatMap((p) => p.nics.map(nicFrom)), NIC_COLUMNS);
    }));
  nic.command('get <id>').description('show a NIC').action((id: string) => run(async (ctx) => {
    const client = await ctx.connect();
    ctx.out.object(nicFrom(await client.call(Controller.GetNic, { id })), NIC_COLUMNS);
  }));
  nic.command('move <id>').description('move a NIC to another node').requiredOption('--node <node>', 'the new node')
    .action((id: string, o: { node: string }) => run(async (ctx) => {
      const client = await ctx.connect();
      ctx.out.object(nicFrom(await client.call(Controller.MoveNic, { id, node: o.node })), NIC_COLUMNS);
    }));
  nic.command('delete <id>').description('delete a NIC').action((id: string) => run(async (ctx) => {
    const client = await ctx.connect();
    await client.call(Controller.DeleteNic, { id });
    ctx.out.done({ deleted: id }, `nic ${id} deleted`);
  }));
}
