// `vxfab agent`: the per-host agent process (kernel data plane, controller and lookup clients,
// the local control socket, signals), and `vxfab agent status` through that socket.
import type { Command } from 'commander';
import { daemonLogger } from '../log-option.js';
import { pino } from 'pino';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, type AgentMode, type AgentStatus } from '../../agent/agent.js';
import { askAgent, IDENTITY_FILE, serveControl } from '../../agent/control-socket.js';
import { rpcControllerPort, rpcLookupDialer } from '../../agent/rpc-ports.js';
import { lockStateDir } from '../../agent/state-lock.js';
import { LinuxDataPlane } from '../../dataplane/linux/linux-dataplane.js';
import { vxfab } from '../../wire/gen/proto.js';
import { RpcClient } from '../../wire/transport/client.js';
import { DEFAULT_SERVER, outputFormat, parseServer, type GlobalOptions } from '../context.js';
import { UsageError, EXIT, exitCodeFor } from '../exit-codes.js';
import { Output } from '../output.js';
import { parseIntOption } from '../parse.js';
import { errorText } from '../runner.js';
import { clientTls, credentialsFile } from '../credentials.js';

/** The node's credentials file in --state-dir (certificate, key, CA; 0600). */
export const NODE_CREDENTIALS_FILE = 'node.credentials';

export const DEFAULT_STATE_DIR = '/run/vxfab';

interface AgentCliOptions {
  node: string;
  underlay: string;
  underlayDev?: string;
  metrics?: string;
  lookup?: string;
  mode: string;
  stateDir: string;
  logLevel?: string;
  pollInterval: string;
  reconcileInterval: string;
  cacheTtl: string;
  join?: string;
}

function parseMode(text: string): AgentMode {
  if (text !== 'push' && text !== 'on-demand') throw new UsageError(`--mode "${text}": expected push or on-demand`);
  return text;
}

function parseUnderlay(text: string): string {
  if (!/^[0-9.]+$/.test(text) && !/^[0-9a-fA-F:]+$/.test(text)) throw new UsageError(`--underlay "${text}": expected an IPv4 or IPv6 address`);
  return text;
}

export function agentCommands(program: Command): void {
  const agent = program.command('agent')
    .description('run the per-host agent (programs this host\'s VXLAN devices and tables); `agent status` to inspect it')
    .option('--node <name>', 'this host\'s node name')
    .option('--underlay <ip>', 'this host\'s underlay address (VTEP source)')
    .option('--underlay-dev <iface>', 'underlay device to bind VXLAN devices to')
    .option('--lookup <addrs>', 'lookup servers, comma-separated host:port (default: --server)')
    .option('--mode <mode>', 'push or on-demand', 'push')
    .option('--state-dir <dir>', 'directory of the control socket and identity file', DEFAULT_STATE_DIR)
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace (env VXFAB_LOG_LEVEL, default info)')
    .option('--poll-interval <ms>', 'NIC list poll interval', '5000')
    .option('--reconcile-interval <ms>', 'full kernel reconcile interval (0: only at start)', '30000')
    .option('--cache-ttl <ms>', 'on-demand: lifetime of a resolved entry', '300000')
    .option('--join <token>', 'enroll with this one-time token (vxfab token create --node NAME); the certificate is kept in --state-dir')
    .option('--metrics <host:port>', 'serve Prometheus /metrics, /healthz and /readyz (ready: registered with the controller) on this address')
    .action(async (o: AgentCliOptions) => {
      try {
        await runAgent(o, program.opts<GlobalOptions>());
      } catch (e) {
        process.stderr.write(errorText(e) + '\n');
        process.exitCode = exitCodeFor(e);
      }
    });

  agent.command('status').description('show the running agent\'s state (through its control socket)')
    .option('--state-dir <dir>', 'the agent\'s state directory', DEFAULT_STATE_DIR)
    .action(async (o: { stateDir: string }) => {
      const global = program.opts<GlobalOptions>();
      try {
        const out = new Output(outputFormat(global.output));
        // `agent status --state-dir X`: commander may hand the option to the parent command.
        const dir = o.stateDir !== DEFAULT_STATE_DIR ? o.stateDir : agent.opts<{ stateDir: string }>().stateDir;
        const s = await askAgent(dir, 'status');
        if (out.format === 'json') process.stdout.write(JSON.stringify(s, null, 2) + '\n');
        else process.stdout.write(statusText(s));
      } catch (e) {
        process.stderr.write(errorText(e) + '\n');
        process.exitCode = exitCodeFor(e);
      }
    });
}

async function runAgent(o: AgentCliOptions, global: GlobalOptions): Promise<void> {
  if (!o.node) throw new UsageError('--node is required');
  if (!o.underlay) throw new UsageError('--underlay is required');
  const mode = parseMode(o.mode);
  const underlay = parseUnderlay(o.underlay);
  const server = parseServer(global.server ?? process.env.VXFAB_SERVER ?? DEFAULT_SERVER);
  const lookups = (o.lookup ?? server).split(',').map((a) => parseServer(a.trim()));
  // Before anything is written (or the kernel touched): one agent per state directory.
  const lock = await lockStateDir(o.stateDir);
  try {
    await runLocked(o, mode, underlay, server, lookups, global);
  } finally {
    await lock.release();
  }
}

async function runLocked(o: AgentCliOptions, mode: AgentMode, underlay: string, server: string, lookups: string[], global: GlobalOptions): Promise<void> {
  const log = daemonLogger('agent', 'vxfab-agent', o.logLevel);
  // Mutual TLS with the node's own certificate: enrolled with --join, or as stored in --state-dir;
  // else credentials named explicitly (--credentials, VXFAB_CREDENTIALS: an agent never falls back
  // to the administrator's file); else plain TCP (an --insecure server).
  await mkdir(o.stateDir, { recursive: true });
  // Loaded only here: the X.509 library would cost every other command's start.
  const { memberTls } = await import('../../security/enroll.js');
  const member = await memberTls({ stateDir: o.stateDir, file: NODE_CREDENTIALS_FILE, server, identity: { kind: 'node', node: o.node },
    role: vxfab.v1.Role.ROLE_AGENT, token: o.join, logger: log });
  const tls = member?.tls ?? await clientTls(credentialsFile(global, false));
  const dp = new LinuxDataPlane({ logger: log });
  const client = new RpcClient({ address: server, role: vxfab.v1.Role.ROLE_AGENT, identity: o.node, timeoutMs: 10_000, logger: log,
    ...(tls ? { tls } : {}) });
  const agent = new Agent({
    node: o.node, underlay, mode, dataPlane: dp, controller: rpcControllerPort(client), lookups,
    dialLookup: rpcLookupDialer({ identity: o.node, logger: log, ...(tls ? { tls } : {}) }), logger: log,
    ...(o.underlayDev ? { underlayDev: o.underlayDev } : {}),
    nicPollMs: parseIntOption('--poll-interval', o.pollInterval),
    reconcileMs: parseIntOption('--reconcile-interval', o.reconcileInterval),
    cacheTtlMs: parseIntOption('--cache-ttl', o.cacheTtl),
  });
  await mkdir(o.stateDir, { recursive: true });
  await writeFile(join(o.stateDir, IDENTITY_FILE), JSON.stringify({ node: o.node, underlay, pid: process.pid }) + '\n');
  const control = await serveControl(o.stateDir, agent);
  let metrics: { close(): Promise<void> } | undefined;
  if (o.metrics !== undefined) {
    const { daemonRegistry, startMetricsListener } = await import('../../metrics/http.js');
    const { registerAgentMetrics } = await import('../../metrics/agent.js');
    const registry = daemonRegistry('agent');
    registerAgentMetrics(registry, agent);
    try {
      const m = await startMetricsListener({ listen: o.metrics, registry, ready: () => { const s = agent.status(); return s.controller.registered && !s.controller.nodeDeleted; } });
      metrics = m;
      process.stdout.write(`metrics ${m.host}:${m.port}\n`);
    } catch (e) {
      await control.close();
      throw e;
    }
  }
  let first: NodeJS.Timeout | undefined;
  // Signals are taken from here on, also while start() waits for a slow controller, so that the
  // socket and the state-dir lock are always cleaned up.
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'shutting down (kernel state stays)');
      clearTimeout(first);
      member?.stop();
      void Promise.all([control.close(), agent.close(), metrics?.close()]).then(() => Promise.all([dp.close(), client.close()])).then(() => resolve(), () => resolve());
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  const started = await Promise.race([agent.start().then(() => true), stopped.then(() => false)]);
  if (started) {
    // The first reconcile runs once the lookup state had a chance to load (it deletes nothing for a
    // network whose state is not loaded yet, so running it early would only do less).
    first = setTimeout(() => void agent.reconcile().catch(() => undefined), 2000);
    process.stdout.write(`agent running node=${o.node} mode=${mode}\n`);
  }
  await stopped;
  process.exitCode = EXIT.OK;
}

export function statusText(s: AgentStatus): string {
  const lines = [
    `node:      ${s.node} (${s.underlay})`,
    `mode:      ${s.mode}`,
    ...(s.controller.nodeDeleted ? ['NODE DELETED: this node was deleted from the controller; not programming until it is added back (vxfab node add)'] : []),
    `lookup:    ${s.lookup.state}${s.lookup.live ? ' (live)' : ''}${s.lookup.address ? ` to ${s.lookup.address}` : ''}${s.degraded ? ' (DEGRADED: keeping programmed entries)' : ''}`,
    `revision:  ${s.revision}`,
    `entries:   fdb ${s.entries.fdb}, neigh ${s.entries.neigh}, flood ${s.entries.flood}`,
    `misses:    ${s.misses.received} received, ${s.misses.resolved} resolved, ${s.misses.notFound} not found`,
  ];
  const r = s.lastReconcile;
  lines.push(r ? `reconcile: at ${new Date(r.at).toISOString()}: fdb +${r.fdbSet}/-${r.fdbDel}, neigh +${r.neighSet}/-${r.neighDel}, flood +${r.floodAdd}/-${r.floodDel}, networks -${r.networksRemoved}`
    : 'reconcile: not yet');
  lines.push('', 'VNID      TENANT/NETWORK        MTU   NICS  FDB   NEIGH  FLOOD');
  for (const n of s.networks) {
    lines.push(`${String(n.vnid).padEnd(9)} ${`${n.tenant}/${n.network}`.padEnd(21)} ${String(n.mtu).padEnd(5)} ${String(n.localNics).padEnd(5)} ${String(n.fdb).padEnd(5)} ${String(n.neigh).padEnd(6)} ${n.flood}`);
  }
  return lines.join('\n') + '\n';
}
