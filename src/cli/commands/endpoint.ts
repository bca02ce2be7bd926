// `vxfab endpoint attach|detach`: plug a NIC into (or out of) this host, run on the NIC's host.
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { askAgent, IDENTITY_FILE } from '../../agent/control-socket.js';
import { attachEndpoint, detachEndpoint } from '../../agent/endpoint.js';
import { VxfabError, isVxfabError } from '../../model/errors.js';
import { networkFrom, nicFrom } from '../../wire/objects.js';
import { Controller } from '../../wire/gen/services.js';
import { UsageError } from '../exit-codes.js';
import type { Runner } from '../runner.js';
import { DEFAULT_STATE_DIR } from './agent.js';

async function thisNode(node: string | undefined, stateDir: string): Promise<string> {
  if (node) return node;
  try {
    const id = JSON.parse(await readFile(join(stateDir, IDENTITY_FILE), 'utf8')) as { node?: string };
    if (id.node) return id.node;
  } catch {
    // fall through to the usage error
  }
  throw new UsageError(`which node is this? pass --node NAME, or --state-dir of a running agent (no ${join(stateDir, IDENTITY_FILE)})`);
}

export function endpointCommands(program: Command, run: Runner): void {
  const ep = program.command('endpoint').description('plug a NIC into this host (veth into a network namespace), or unplug it');
  ep.command('attach').description('create the NIC\'s veth pair: MAC, addresses, MTU and routes inside --netns, the other end on the network\'s bridge')
    .requiredOption('--nic <id>', 'the NIC')
    .requiredOption('--netns <name>', 'the endpoint\'s network namespace (ip netns)')
    .option('--ifname <name>', 'interface name inside the namespace', 'eth0')
    .option('--node <name>', 'this host\'s node name (default: the running agent\'s)')
    .option('--state-dir <dir>', 'the agent\'s state directory', DEFAULT_STATE_DIR)
    .action((o: { nic: string; netns: string; ifname: string; node?: string; stateDir: string }) => run(async (ctx) => {
      const node = await thisNode(o.node, o.stateDir);
      const client = await ctx.connect();
      const nic = nicFrom(await client.call(Controller.GetNic, { id: o.nic }));
      if (nic.node !== node) {
        throw new VxfabError('CONFLICT', `nic ${nic.id} is placed on node "${nic.node}", not on this host ("${node}"): attach it there, or move it first`,
          { field: 'nic', value: nic.id });
      }
      const network = networkFrom(await client.call(Controller.GetNetwork, { tenant: nic.tenant, name: nic.network }));
      // Let the agent create the network's devices now rather than at its next poll. No agent
      // (or an old one) is not an error yet: attach waits for the bridge and says so if it never comes.
      await askAgent(o.stateDir, 'sync', 10_000).catch((e: unknown) => {
        if (!isVxfabError(e, 'UNAVAILABLE')) throw e;
      });
      const r = await attachEndpoint({ nic, network, netns: o.netns, ifname: o.ifname });
      ctx.out.done({ nic: nic.id, ...r, netns: o.netns, ifname: o.ifname }, `nic ${nic.id} ${r.action}: ${o.netns}/${o.ifname} ${r.addresses.join(' ')} via ${r.hostIf} on ${r.bridge}`);
    }));
  ep.command('detach').description('delete the NIC\'s veth pair (both ends)')
    .requiredOption('--nic <id>', 'the NIC')
    .action((o: { nic: string }) => run(async (ctx) => {
      const r = await detachEndpoint(o.nic);
      ctx.out.done({ nic: o.nic, ...r }, `nic ${o.nic} ${r.action} (${r.hostIf})`);
    }));
}
