// One-shot iproute2 commands, for reads (JSON output) where a long-lived batch process would need
// its stdout split per command. Reads are rare (reconcile, ensureNetwork); writes go through batch.ts.

import { execFile } from 'node:child_process';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runTool(tool: 'ip' | 'bridge', netns: string | undefined, args: string[]): Promise<ToolResult> {
  const full = [...(netns !== undefined ? ['-n', netns] : []), ...args];
  return new Promise((resolve) => {
    execFile(tool, full, { maxBuffer: 512 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr: stderr || (err !== null && code === -1 ? err.message : '') });
    });
  });
}

/** `Device "x" does not exist.` / `Cannot find device "x"`: the two ways iproute2 says it. */
export function isNoDevice(stderr: string): boolean {
  return /does not exist|Cannot find device/.test(stderr);
}
