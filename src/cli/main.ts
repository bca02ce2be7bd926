#!/usr/bin/env node
// The `vxfab` command.
import { Command, CommanderError } from 'commander';
import { makeRunner } from './runner.js';
import { EXIT } from './exit-codes.js';
import { tenantCommands } from './commands/tenant.js';
import { networkCommands } from './commands/network.js';
import { nodeCommands } from './commands/node.js';
import { nicCommands } from './commands/nic.js';
import { serveCommand } from './commands/serve.js';
import { agentCommands } from './commands/agent.js';
import { endpointCommands } from './commands/endpoint.js';
import { topologyCommands } from './commands/topology.js';
import { lookupCommands } from './commands/lookup.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('vxfab')
    .description('vxfab: tenant L2 networks over a routed underlay with Linux VXLAN')
    .option('--server <host:port>', 'controller or lookup server (env VXFAB_SERVER, default 127.0.0.1:4800)')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--credentials <file>', 'certificate, key and fabric CA in one PEM file (env VXFAB_CREDENTIALS, default ./vxfab-data/admin.credentials when it exists)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const run = makeRunner(program);
  serveCommand(program);
  tenantCommands(program, run);
  networkCommands(program, run);
  nodeCommands(program, run);
  nicCommands(program, run);
  agentCommands(program);
  endpointCommands(program, run);
  topologyCommands(program);
  lookupCommands(program, run);
  // Commander's own parse errors are usage errors; every subcommand inherits the override.
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return;
    }
    throw e;
  }
}

await main();
