// A full dump of what a server holds (revision and every stored object), through the change
// feed's Snapshot: tests compare dumps to prove that a refused command changed nothing.
import { RpcClient } from '../../src/wire/transport/client.js';
import { collect } from '../../src/wire/transport/collect.js';
import { Controller } from '../../src/wire/gen/services.js';
import { vxfab } from '../../src/wire/gen/proto.js';
import { tlsFor } from './serve-process.js';

export interface Dump {
  revision: number;
  objects: Record<string, string>;
}

export async function dumpFabric(address: string): Promise<Dump> {
  const client = new RpcClient({ address, role: vxfab.v1.Role.ROLE_BENCH, identity: 'test-dump', ...tlsFor(address) });
  try {
    await client.connect();
    const pages = await collect(client, Controller.Snapshot, {});
    const objects: Record<string, string> = {};
    for (const p of pages) for (const c of p.changes) objects[c.key ?? ""] = Buffer.from(c.value ?? new Uint8Array()).toString('hex');
    return { revision: Number(pages[0]?.revision ?? 0), objects };
  } finally {
    await client.close();
  }
}
