// Runs one command: builds its context from the global options, prints errors as the user should
// see them (stderr, naming the field and the value) and sets the exit code.
import type { Command } from 'commander';
import { VxfabError } from '../model/errors.js';
import { CliContext, type GlobalOptions } from './context.js';
import { exitCodeFor } from './exit-codes.js';

export type Runner = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

export function errorText(e: unknown): string {
  if (e instanceof VxfabError) return `vxfab: ${e.code}: ${e.message}`;
  if (e instanceof Error) return `vxfab: ${e.message}`;
  return `vxfab: ${String(e)}`;
}

export function errorJson(e: unknown): string {
  if (e instanceof VxfabError) return JSON.stringify({ error: { code: e.code, message: e.message, field: e.field, value: e.value } });
  return JSON.stringify({ error: { code: exitCodeFor(e) === 2 ? 'USAGE' : 'INTERNAL', message: e instanceof Error ? e.message : String(e) } });
}

export function makeRunner(program: Command): Runner {
  return async (fn) => {
    const opts = program.opts<GlobalOptions>();
    let ctx: CliContext | undefined;
    try {
      ctx = new CliContext(opts);
      await fn(ctx);
    } catch (e) {
      process.stderr.write((opts.output === 'json' ? errorJson(e) : errorText(e)) + '\n');
      process.exitCode = exitCodeFor(e);
    } finally {
      await ctx?.close();
    }
  };
}
