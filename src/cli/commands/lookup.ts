// `vxfab lookup …`: run a lookup replica, and ask a lookup service (in `vxfab serve` or a replica)
// what it answers. JSON output (-o json) is documented in docs/lookup.md.
import type { Command } from 'commander';
import { daemonLogger } from '../log-option.js';
import { pino } from 'pino';
import { VxfabError } from '../../model/errors.js';
import { LookupClient } from '../../lookup/client.js';
import { LookupReplica } from '../../lookup/replica.js';
import { registerLookup } from '../../lookup/service.js';
import type { EndpointInfo, FloodMemberInfo } from '../../lookup/types.js';
import { RpcServer } from '../../wire/transport/server.js';
import type { Column } from '../output.js';
import { parseIntOption } from '../parse.js';
import { parseListen } from '../serve.js';
import { parseServer } from '../context.js';
import { hubBounds } from '../hub-options.js';
import type { Runner } from '../runner.js';
import { UsageError } from '../exit-codes.js';
import { clientTls, credentialsFile } from '../credentials.js';
import { isLoopback } from '../serve.js';
import { certIdentity } from '../../security/cert-identity.js';
import { identityUri } from '../../model/identity.js';
import type { GlobalOptions } from '../context.js';

interface Vl2Json { vnid: number; mac: string; underlay: string; port: number; node: string }
interface Vl3Json { vnid: number; ip: string; mac: string; underlay: string; port: number; node: string }
interface FloodRow extends FloodMemberInfo { vnid: number }

const VL2_COLUMNS: Column<Vl2Json>[] = [
  { header: 'VNID', value: (r) => r.vnid }, { header: 'MAC', value: (r) => r.mac },
  { header: 'UNDERLAY', value: (r) => r.underlay }, { header: 'PORT', value: (r) => r.port }, { header: 'NODE', value: (r) => r.node },
];
const VL3_COLUMNS: Column<Vl3Json>[] = [
  { header: 'VNID', value: (r) => r.vnid }, { header: 'IP', value: (r) => r.ip }, { header: 'MAC', value: (r) => r.mac },
  { header: 'UNDERLAY', value: (r) => r.underlay }, { header: 'PORT', value: (r) => r.port }, { header: 'NODE', value: (r) => r.node },
];
const FLOOD_COLUMNS: Column<FloodRow>[] = [
  { header: 'NODE', value: (r) => r.node }, { header: 'UNDERLAY', value: (r) => r.underlay }, { header: 'PORT', value: (r) => r.port },
];
const BULK_COLUMNS: Column<EndpointInfo>[] = [
  { header: 'MAC', value: (r) => r.mac }, { header: 'IPS', value: (r) => r.ips.join(',') || '-' },
  { header: 'NODE', value: (r) => r.node }, { header: 'UNDERLAY', value: (r) => r.underlay }, { header: 'PORT', value: (r) => r.port },
  { header: 'NIC', value: (r) => r.nicId },
];

/** Digits only here; the range (1-16777215) is the server's to check, with its typed error. */
function vnidOption(text: string): number {
  return parseIntOption('--vnid', text);
}

export function lookupCommands(program: Command, run: Runner): void {
  const lookup = program.command('lookup').description('run a lookup replica, or query a lookup service');

  lookup.command('vl2').description('where the NIC with this MAC on this VNID lives (exit 4 when none)')
    .requiredOption('--vnid <n>', 'VXLAN network id').requiredOption('--mac <mac>', 'MAC address')
    .action((o: { vnid: string; mac: string }) => run(async (ctx) => {
      const vnid = vnidOption(o.vnid);
      const answer = await new LookupClient(await ctx.connect()).vl2(vnid, o.mac);
      if (!answer) throw new VxfabError('NOT_FOUND', `no endpoint with mac ${o.mac} on vnid ${vnid}`, { field: 'mac', value: o.mac });
      ctx.out.object<Vl2Json>({ vnid, mac: o.mac.toLowerCase(), ...answer }, VL2_COLUMNS);
    }));

  lookup.command('vl3').description('the MAC and place of the NIC with this IP on this VNID (exit 4 when none)')
    .requiredOption('--vnid <n>', 'VXLAN network id').requiredOption('--ip <ip>', 'IPv4 or IPv6 address')
    .action((o: { vnid: string; ip: string }) => run(async (ctx) => {
      const vnid = vnidOption(o.vnid);
      const answer = await new LookupClient(await ctx.connect()).vl3(vnid, o.ip);
      if (!answer) throw new VxfabError('NOT_FOUND', `no endpoint with ip ${o.ip} on vnid ${vnid}`, { field: 'ip', value: o.ip });
      ctx.out.object<Vl3Json>({ vnid, ip: o.ip, ...answer }, VL3_COLUMNS);
    }));

  lookup.command('flood').description('the hosts that carry this VNID (its BUM flood list)')
    .requiredOption('--vnid <n>', 'VXLAN network id')
    .action((o: { vnid: string }) => run(async (ctx) => {
      const vnid = vnidOption(o.vnid);
      const flood = await new LookupClient(await ctx.connect()).flood(vnid);
      if (ctx.out.format === 'json') ctx.out.object({ vnid, revision: flood.revision, members: flood.members }, []);
      else ctx.out.list(flood.members.map((m) => ({ vnid, ...m })), FLOOD_COLUMNS);
    }));

  lookup.command('bulk').description('every endpoint of this VNID')
    .requiredOption('--vnid <n>', 'VXLAN network id')
    .option('--page-size <n>', 'endpoints per streamed page (default 512)')
    .action((o: { vnid: string; pageSize?: string }) => run(async (ctx) => {
      const vnid = vnidOption(o.vnid);
      const pageSize = o.pageSize === undefined ? 0 : parseIntOption('--page-size', o.pageSize);
      const bulk = await new LookupClient(await ctx.connect()).bulk(vnid, pageSize);
      bulk.endpoints.sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
      if (ctx.out.format === 'json') ctx.out.object({ vnid, revision: bulk.revision, endpoints: bulk.endpoints }, []);
      else ctx.out.list(bulk.endpoints, BULK_COLUMNS);
    }));

  lookup.command('status').description('the lookup service\'s revision, mappings, subscribers and source')
    .action(() => run(async (ctx) => {
      const status = await new LookupClient(await ctx.connect()).status();
      ctx.out.object(status, [
        { header: 'REVISION', value: (s) => s.revision }, { header: 'MAPPINGS', value: (s) => s.mappings },
        { header: 'SUBSCRIBERS', value: (s) => s.subscribers }, { header: 'SOURCE', value: (s) => s.source },
      ]);
    }));

  lookup.command('serve').description('run a lookup replica fed by a controller\'s change feed')
    .requiredOption('--controller <host:port>', 'the controller (vxfab serve) to follow')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:4801')
    .option('--identity <name>', 'this replica\'s name in its hello', 'lookup-replica')
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace (env VXFAB_LOG_LEVEL, default info)')
    .option('--lookup-history <batches>', 'change batches kept for Subscribe replay (env VXFAB_LOOKUP_HISTORY, default 1024)')
    .option('--lookup-queue <events>', 'events a slow subscriber may lag before RESYNC (env VXFAB_LOOKUP_QUEUE, default 4096)')
    .option('--insecure', 'serve plain TCP without authentication (loopback listen addresses only; for experiments)')
    .option('--join <token>', 'enroll with this one-time token (vxfab token create --replica NAME); NAME is --identity')
    .option('--state-dir <dir>', 'where the replica keeps its enrolled credentials (0600)', './vxfab-lookup')
    .option('--metrics <host:port>', 'serve Prometheus /metrics, /healthz and /readyz (ready: following the controller) on this address')
    .action(async (o: { controller: string; listen: string; identity: string; logLevel?: string; lookupHistory?: string; lookupQueue?: string;
      insecure?: boolean; join?: string; stateDir: string; metrics?: string }) => {
      const log = daemonLogger('lookup serve', 'vxfab-lookup', o.logLevel);
      const fail = (e: unknown): void => {
        process.stderr.write(`vxfab lookup serve: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = e instanceof UsageError ? 2 : 1;
      };
      let replica: LookupReplica | undefined;
      let server: RpcServer | undefined;
      let metrics: { close(): Promise<void> } | undefined;
      let stopping = false;
      const stopped = new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          if (stopping) return;
          stopping = true;
          log.info({ signal }, 'shutting down');
          void Promise.all([metrics?.close(), server?.close(), replica?.close()]).then(() => resolve(), (e: unknown) => { fail(e); resolve(); });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      try {
        const listen = parseListen(o.listen);
        // The replica's credentials serve both ends: its link to the controller and its listener,
        // which needs a replica (or server) certificate: enrolled (--join, or stored in --state-dir),
        // else named explicitly (a replica never falls back to the administrator's file).
        const file = credentialsFile(program.opts<GlobalOptions>(), false);
        const { replicaSecurity } = await import('../replica-security.js');
        const secure = await replicaSecurity({ controller: parseServer(o.controller), name: o.identity, token: o.join, stateDir: o.stateDir,
          logger: log, fallback: () => clientTls(file) });
        const tls = secure.replica.tls;
        if (o.insecure) {
          if (!isLoopback(listen.host)) throw new UsageError(`--insecure: plain TCP listens on loopback only, not ${listen.host}`);
        } else {
          if (tls?.credentials === undefined) {
            throw new UsageError('lookup serve needs a replica certificate (--join TOKEN, --credentials FILE, or VXFAB_CREDENTIALS), or --insecure on a loopback address');
          }
          const id = certIdentity(tls.credentials.certPem).identity;
          if (id.kind !== 'replica' && id.kind !== 'server') {
            throw new UsageError(`--credentials ${file}: names ${identityUri(id)}; a lookup server needs a replica or server certificate`);
          }
        }
        replica = new LookupReplica({ controller: parseServer(o.controller), identity: o.identity, hub: hubBounds(o), logger: log, ...secure.replica });
        server = new RpcServer({ identity: o.identity, logger: log.child({ module: 'wire' }), ...(o.insecure ? {} : secure.server(replica)) });
        if (o.insecure) log.warn({ listen: o.listen }, 'INSECURE: plain TCP, no authentication: every client is an administrator');
        registerLookup(server, replica, { logger: log });
        secure.closeRevoked(server);
        // Answer only once the first snapshot is in: never from an empty index.
        await Promise.race([replica.start(), stopped]);
        if (stopping) { await stopped; return; }
        const bound = await server.listen(listen.host, listen.port);
        process.stdout.write(`listening ${bound.host}:${bound.port}\n`);
        if (o.metrics !== undefined) {
          const { daemonRegistry, startMetricsListener } = await import('../../metrics/http.js');
          const { registerLookupMetrics } = await import('../../metrics/lookup.js');
          const registry = daemonRegistry('lookup');
          const following = replica;
          registerLookupMetrics(registry, following);
          const m = await startMetricsListener({ listen: o.metrics, registry, ready: () => following.status === 'following' });
          metrics = m;
          process.stdout.write(`metrics ${m.host}:${m.port}\n`);
        }
      } catch (e) {
        fail(e);
        await metrics?.close();
        await server?.close();
        await replica?.close();
        return;
      }
      await stopped;
    });
}
