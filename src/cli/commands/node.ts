import type { Command } from 'commander';
import { Controller } from '../../wire/gen/services.js';
import { nodeFrom } from '../../wire/objects.js';
import { NODE_COLUMNS } from '../columns.js';
import { parseIntOption } from '../parse.js';
import { collect } from '../../wire/transport/collect.js';
import type { Runner } from '../runner.js';

export function nodeCommands(program: Command, run: Runner): void {
  const node = program.command('node').description('add, list, show and delete nodes (hosts)');
  node.command('add <name>').description('add a node; an existing name is refused')
    .requiredOption('--underlay <ip>', 'the host\'s underlay IP (IPv4 or IPv6), its VXLAN tunnel endpoint')
    .option('--port <n>', 'VTEP UDP port (default 4789)')
    .action((name: string, o: { underlay: string; port?: string }) => run(async (ctx) => {
      const port = o.port === undefined ? 0 : parseIntOption('--port', o.port);
      const client = await ctx.connect();
      ctx.out.object(nodeFrom(await client.call(Controller.AddNode, { name, underlay: o.underlay, port })), NODE_COLUMNS);
    }));
  node.command('list').description('list nodes').action(() => run(async (ctx) => {
    const client = await ctx.connect();
    const pages = await collect(client, Controller.ListNodes, {});
    ctx.out.list(pages.flatMap((p) => p.nodes.map(nodeFrom)), NODE_COLUMNS);
  }));
  node.command('get <name>').description('show a node').action((name: string) => run(async (ctx) => {
    const client = await ctx.connect();
    ctx.out.object(nodeFrom(await client.call(Controller.GetNode, { name })), NODE_COLUMNS);
  }));
  node.command('delete <name>').description('delete a node that has no NICs').action((name: string) => run(async (ctx) => {
    const client = await ctx.connect();
    await client.call(Controller.DeleteNode, { name });
    ctx.out.done({ deleted: name }, `node ${name} deleted`);
  }));
}
