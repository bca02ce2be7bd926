import type { Command } from 'commander';
import { Controller } from '../../wire/gen/services.js';
import { tenantFrom } from '../../wire/objects.js';
import { TENANT_COLUMNS } from '../columns.js';
import { collect } from '../../wire/transport/collect.js';
import type { Runner } from '../runner.js';

export function tenantCommands(program: Command, run: Runner): void {
  const tenant = program.command('tenant').description('create, list and delete tenants');
  tenant.command('create <name>').description('create a tenant').action((name: string) => run(async (ctx) => {
    const client = await ctx.connect();
    ctx.out.object(tenantFrom(await client.call(Controller.CreateTenant, { name })), TENANT_COLUMNS);
  }));
  tenant.command('list').description('list tenants').action(() => run(async (ctx) => {
    const client = await ctx.connect();
    const rows = (await collect(client, Controller.ListTenants, {})).flatMap((p) => p.tenants.map(tenantFrom));
    ctx.out.list(rows, TENANT_COLUMNS);
  }));
  tenant.command('get <name>').description('show a tenant').action((name: string) => run(async (ctx) => {
    const client = await ctx.connect();
    ctx.out.object(tenantFrom(await client.call(Controller.GetTenant, { name })), TENANT_COLUMNS);
  }));
  tenant.command('delete <name>').description('delete a tenant that has no networks').action((name: string) => run(async (ctx) => {
    const client = await ctx.connect();
    await client.call(Controller.DeleteTenant, { name });
    ctx.out.done({ deleted: name }, `tenant ${name} deleted`);
  }));
}
