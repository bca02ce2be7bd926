// `vxfab topology run|render FILE`: the topology simulator (docs/topologies.md).
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { pino } from 'pino';
import { expandTopology } from '../../sim/expand.js';
import { FAULTS, type Fault } from '../../sim/faulty-dataplane.js';
import { runLinuxTopology } from '../../sim/linux-runner.js';
import { loadTopologyFile } from '../../sim/loader.js';
import { progressBar } from '../../sim/progress.js';
import { renderDot } from '../../sim/render.js';
import { formatReport } from '../../sim/report.js';
import { runTopology } from '../../sim/runner.js';
import { EXIT, UsageError, exitCodeFor } from '../exit-codes.js';
import { outputFormat, type GlobalOptions } from '../context.js';
import { errorJson, errorText } from '../runner.js';

interface RunOpts {
  dataplane: string;
  seed?: string;
  output?: string;
  breakAgents?: string;
  settleTimeout?: string;
  deadline?: string;
  logLevel: string;
}

function parseSeed(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) > 0xffffffff) throw new UsageError(`--seed "${text}": expected a whole number 0..4294967295`);
  return Number(text);
}

export function topologyCommands(program: Command): void {
  const topo = program.command('topology').description('simulate whole fabrics from topology files (docs/topologies.md)');
  topo.command('run <file>')
    .description('run a topology: controller, lookup and one agent per host in this process, checked at every checkpoint')
    .option('--dataplane <kind>', 'sim (in-memory tables) or linux (root; a namespace per host and NIC, real pings; at most 16 hosts, 64 NICs)', 'sim')
    .option('--seed <n>', 'seed for generators and random steps (default: the file\'s)')
    .option('-o, --output <format>', 'table or json')
    .option('--settle-timeout <ms>', 'how long a step may go without progress before it counts as not converged (default: the file\'s, else 15000)')
    .option('--deadline <ms>', 'the hard limit of one step\'s convergence, however busy the machine (default: 20 × the settle timeout)')
    .option('--break-agents <fault>', `checker self-test: run every agent over a faulty data plane (${FAULTS.join(', ')})`)
    .option('--log-level <level>', 'log level of the simulated parts (stderr)', 'silent')
    .action((file: string, o: RunOpts) => guard(program, o.output, async (json) => {
      if (o.dataplane !== 'sim' && o.dataplane !== 'linux') throw new UsageError(`--dataplane "${o.dataplane}": expected sim or linux`);
      if (o.dataplane === 'linux' && o.breakAgents !== undefined) throw new UsageError('--break-agents works with --dataplane sim only');
      if (o.breakAgents !== undefined && !(FAULTS as readonly string[]).includes(o.breakAgents)) {
        throw new UsageError(`--break-agents "${o.breakAgents}": expected one of ${FAULTS.join(', ')}`);
      }
      const settle = o.settleTimeout === undefined ? undefined : Number(o.settleTimeout);
      if (settle !== undefined && !(Number.isInteger(settle) && settle > 0)) throw new UsageError(`--settle-timeout "${o.settleTimeout}": expected milliseconds`);
      const deadline = o.deadline === undefined ? undefined : Number(o.deadline);
      if (deadline !== undefined && !(Number.isInteger(deadline) && deadline > 0)) throw new UsageError(`--deadline "${o.deadline}": expected milliseconds`);
      const plan = expandTopology(await loadTopologyFile(file), parseSeed(o.seed));
      const bar = progressBar();
      const report = o.dataplane === 'linux' ? await runLinuxTopology(plan, {
        logger: pino({ level: o.logLevel }, process.stderr),
        onProgress: (p) => bar.update(p),
        ...(settle ? { settleTimeoutMs: settle } : {}),
        ...(deadline ? { deadlineMs: deadline } : {}),
      }).finally(() => bar.done()) : await runTopology(plan, {
        logger: pino({ level: o.logLevel }, process.stderr),
        onProgress: (p) => bar.update(p),
        ...(settle ? { settleTimeoutMs: settle } : {}),
        ...(deadline ? { deadlineMs: deadline } : {}),
        ...(o.breakAgents ? { fault: { kind: o.breakAgents as Fault } } : {}),
      }).finally(() => bar.done());
      process.stdout.write(json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
      if (!report.ok) process.exitCode = EXIT.VIOLATIONS;
    }));
  topo.command('render <file>')
    .description('write a Graphviz DOT picture of the hosts, networks and NICs (and SVG when `dot` is installed)')
    .option('--out <path>', 'DOT file to write (default: stdout); with `dot` installed, PATH.svg is written too')
    .option('--seed <n>', 'seed for generators (default: the file\'s)')
    .action((file: string, o: { out?: string; seed?: string }) => guard(program, undefined, async () => {
      const dot = renderDot(expandTopology(await loadTopologyFile(file), parseSeed(o.seed)));
      if (o.out === undefined) {
        process.stdout.write(dot);
        return;
      }
      await writeFile(o.out, dot);
      const svg = o.out.replace(/\.dot$/, '') + '.svg';
      const made = await toSvg(o.out, svg);
      process.stdout.write(made ? `wrote ${o.out} and ${svg}\n` : `wrote ${o.out} (install graphviz for SVG)\n`);
    }));
  for (const cmd of topo.commands) cmd.exitOverride();
  topo.exitOverride();
}

/** Runs `dot -Tsvg`; false when it is not installed. */
function toSvg(dotFile: string, svgFile: string): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn('dot', ['-Tsvg', dotFile, '-o', svgFile], { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('close', (code) => resolve(code === 0));
  });
}

async function guard(program: Command, local: string | undefined, fn: (json: boolean) => Promise<void>): Promise<void> {
  let json = false;
  try {
    json = outputFormat(local ?? program.opts<GlobalOptions>().output) === 'json';
    await fn(json);
  } catch (e) {
    process.stderr.write((json ? errorJson(e) : errorText(e)) + '\n');
    process.exitCode = exitCodeFor(e);
  }
}
