// The agent's local control socket, `<state-dir>/agent.sock`: one JSON request per line, one JSON
// reply per line. Requests: {"op":"status"} → the agent's status; {"op":"sync"} → poll the NICs
// now and reply with the status once the kernel follows (what `vxfab endpoint attach` uses before
// it plugs a NIC into its network's bridge). Errors: {"error":{"code","message"}}.
// A unix socket, so only local users with access to the state directory can talk to the agent.

import { createConnection, createServer, type Server } from 'node:net';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { VxfabError, isVxfabError } from '../model/errors.js';
import type { AgentStatus } from './agent.js';

export const SOCKET_NAME = 'agent.sock';
export const IDENTITY_FILE = 'agent.json';

export interface ControlTarget {
  status(): AgentStatus;
  syncNow(): Promise<AgentStatus>;
}

export function socketPath(stateDir: string): string {
  return join(stateDir, SOCKET_NAME);
}

export async function serveControl(stateDir: string, target: ControlTarget): Promise<{ close(): Promise<void> }> {
  await mkdir(stateDir, { recursive: true });
  const path = socketPath(stateDir);
  await rm(path, { force: true }); // a socket file left by a killed agent
  const server: Server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > 64 * 1024) { sock.destroy(); return; }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        void answer(line, target).then((reply) => { if (!sock.destroyed) sock.write(JSON.stringify(reply) + '\n'); });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => { server.off('error', reject); resolve(); });
  });
  return {
    close: () => new Promise<void>((resolve) => server.close(() => { void rm(path, { force: true }).then(() => resolve()); })),
  };
}

async function answer(line: string, target: ControlTarget): Promise<object> {
  try {
    const req = JSON.parse(line) as { op?: unknown };
    if (req.op === 'status') return { status: target.status() };
    if (req.op === 'sync') return { status: await target.syncNow() };
    return { error: { code: 'INVALID_ARGUMENT', message: `op ${JSON.stringify(req.op)}: expected "status" or "sync"` } };
  } catch (e) {
    if (isVxfabError(e)) return { error: { code: e.code, message: e.message } };
    return { error: { code: 'INVALID_ARGUMENT', message: `request is not JSON: ${(e as Error).message}` } };
  }
}

/** Sends one request to the agent of `stateDir`. UNAVAILABLE when no agent answers. */
export function askAgent(stateDir: string, op: 'status' | 'sync', timeoutMs = 10_000): Promise<AgentStatus> {
  const path = socketPath(stateDir);
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const fail = (e: VxfabError): void => { sock.destroy(); reject(e); };
    const timer = setTimeout(() => fail(new VxfabError('UNAVAILABLE', `agent at ${path} did not answer within ${timeoutMs} ms`,
      { field: 'state-dir', value: stateDir })), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify({ op }) + '\n'));
    sock.on('error', (e) => { clearTimeout(timer); fail(new VxfabError('UNAVAILABLE', `no agent at ${path}: ${e.message}`, { field: 'state-dir', value: stateDir })); });
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      try {
        const reply = JSON.parse(buf.slice(0, nl)) as { status?: AgentStatus; error?: { code: string; message: string } };
        if (reply.status) resolve(reply.status);
        else reject(new VxfabError('INTERNAL', `agent: ${reply.error?.code ?? '?'}: ${reply.error?.message ?? 'no reply'}`));
      } catch (e) {
        reject(new VxfabError('INTERNAL', `agent reply is not JSON: ${(e as Error).message}`));
      }
    });
  });
}
