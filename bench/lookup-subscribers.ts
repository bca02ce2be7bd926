// The lookup bench's fan-out subscribers, in a process of their own: `count` Subscribe streams to
// the lookup server on `port`, one connection each, all for `vnid`, standing in for the hosts that
// carry that network. They run apart from the load generator so that its big young generation and
// heap (a million keys, the throughput passes) do not pause the deliveries being timed: a host's
// agent is a small process too. Started with gc-lines.js preloaded, so the bench sees its pauses.
//
// Writes to stdout: "synced" once every stream has its initial state, then for each revision
// that moved an endpoint "arrived REVISION EPOCH_MS" when the last of the streams got it.
// Exits when stdin closes.
import { pino } from 'pino';
import { performance } from 'node:perf_hooks';
import { vxfab } from '../src/wire/gen/proto.js';
import { Lookup } from '../src/wire/gen/services.js';
import { RpcClient } from '../src/wire/transport/client.js';
import { EventKind } from '../src/lookup/types.js';

const [port, vnid, count] = process.argv.slice(2).map(Number) as [number, number, number];
const silent = pino({ level: 'silent' });
const arrivals = new Map<number, number>();
const clients: RpcClient[] = [];
let synced = 0;

for (let s = 0; s < count; s++) {
  const c = new RpcClient({ address: `127.0.0.1:${port}`, role: vxfab.v1.Role.ROLE_BENCH, identity: `sub-${s}`, logger: silent });
  clients.push(c);
  await c.connect();
  const stream = c.stream(Lookup.Subscribe, { node: `sub-${s}`, vnids: [vnid], fromRevision: 0 }, (ev) => {
    if (ev.kind === EventKind.SYNCED) {
      if (++synced === count) process.stdout.write('synced\n');
      return;
    }
    if (ev.kind !== EventKind.ENDPOINT_MOVED) return;
    const rev = Number(ev.revision);
    const n = (arrivals.get(rev) ?? 0) + 1;
    if (n < count) {
      arrivals.set(rev, n);
      return;
    }
    arrivals.delete(rev);
    process.stdout.write(`arrived ${rev} ${(performance.timeOrigin + performance.now()).toFixed(3)}\n`);
  });
  // Closing the clients at the end ends their streams with UNAVAILABLE: expected, not a failure.
  stream.done.catch(() => undefined);
}

process.stdin.resume();
process.stdin.on('end', () => {
  void Promise.all(clients.map((c) => c.close())).then(() => process.exit(0));
});
