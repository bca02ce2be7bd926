// The answering side of vxfab connections: a TCP listener, a table of method handlers, and one
// ServerConnection per accepted socket. Several services (controller and lookup) register on one
// server and share its port. With `tls` set, every connection is mutual TLS 1.3 (tls.ts), and
// `authorize` is asked before every handler runs.
import { createServer, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { VxfabError } from '../../model/errors.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../frame-decoder.js';
import type { CallContext, MethodDesc, PeerInfo, ReqOf, ResOf, StreamContext } from '../rpc.js';
import { defaultLogger } from './log.js';
import { encodeFrame } from '../frame-encoder.js';
import { vxfab } from '../gen/proto.js';
import { capBelowFdLimit, checkLimit, DEFAULT_LIMITS, LogLimiter, openFileLimit, peerKey, type ConnectionLimits } from './limits.js';
import { adoptWithSlabReads, SlabReads } from './slab-reads.js';
import { ServerConnection, type Route } from './server-connection.js';
import { TlsAcceptor, type ServerTlsOptions } from './tls.js';
export { INSECURE_PRINCIPAL } from './tls.js';

/** A unary handler: returns the reply (properties or message), or throws a VxfabError. */
export type UnaryHandler<M> = (req: ReqOf<M>, ctx: CallContext) => ResInit<M> | Promise<ResInit<M>>;
/** A streaming handler: sends items through ctx; resolving ends the stream, rejecting fails it. */
export type StreamHandler<M> = (req: ReqOf<M>, ctx: StreamContext) => Promise<void> | void;
/** A handler that works on encoded bodies: gets the request body, returns the reply body. */
export type RawHandler = (body: Uint8Array, ctx: CallContext) => Uint8Array | Promise<Uint8Array>;
/** A raw handler that reads the request body in place: bytes [start, end) of `buf` (valid during
 *  the call only), so that the hot path makes no view object per request. */
export type RawSpanHandler = (buf: Uint8Array, start: number, end: number, ctx: CallContext) => Uint8Array | Promise<Uint8Array>;
/**
 * Decides whether `peer` may make this call; throws a PERMISSION_DENIED VxfabError to refuse (the
 * caller gets it as the call's answer, and no handler runs). `req` is the decoded request for
 * unary and streaming methods. For raw methods (handleRaw, handleRawSpan) it is decoded for the
 * check only when the principal is a node agent or a tenant operator, whose rights depend on the
 * objects named in the request, and only when the method was registered with its descriptor;
 * otherwise it is undefined (admin, server and replica rights depend on the method alone, and the
 * VL2 hot path decodes nothing for them).
 */
export type Authorize = ((peer: PeerInfo, path: string, req: unknown) => void) & {
  /** Whether the check reads the request of a call on this path by this peer: a raw route's
   *  request (VL2) is decoded for the check only then, so the policy's own rule decides what the
   *  hot path pays. Absent: always decoded. */
  needsRequest?: (peer: PeerInfo, path: string) => boolean;
};

/** What a unary handler may return: the reply message or its plain properties. */
export type ResInit<M> = M extends { res: { create(p?: infer P): unknown } } ? P | ResOf<M> : never;

export interface RpcServerOptions {
  /** Who this server is, sent in its hello ("controller", "lookup-1"). */
  identity: string;
  /** Largest frame accepted from a client, without the length prefix. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Time a new connection has to send its hello. Default 10000 ms. */
  helloTimeoutMs?: number;
  /** Output a connection may have queued (replies not yet taken by the kernel). Over it, the
   *  server stops reading that connection until its queue has drained. Default 4 MiB. */
  maxOutputBytes?: number;
  /** A connection that stays over maxOutputBytes this long (its peer does not read) is closed.
   *  Default 60000 ms. */
  stallTimeoutMs?: number;
  /** Calls a connection may have running at once (unary calls answered later, open streams).
   *  At it, the server stops reading that connection until half have finished. Default 4096. */
  maxCallsInFlight?: number;
  /** A connection past its hello that sends no frame and has no call running for this long is
   *  closed (an open stream, a subscription, keeps it). Default 300000 ms. */
  idleTimeoutMs?: number;
  /** A frame whose first bytes arrived must be complete within this time (slowloris: bytes
   *  trickling slower than a frame per frameTimeoutMs close the connection). Default 30000 ms. */
  frameTimeoutMs?: number;
  /** Open connections, all peers together; further ones are refused. Default 10000, and always
   *  below the process's open-file limit (a tenth of it, at least 128, is left for the rest). */
  maxConnections?: number;
  /** Open connections from one IP address. Default 2000. */
  maxConnectionsPerPeer?: number;
  logger?: Logger;
  /** Mutual TLS: the server's credentials, the methods open to clients without a certificate, and
   *  the revocation check. Without it the server speaks plain TCP and every peer is INSECURE_PRINCIPAL. */
  tls?: ServerTlsOptions;
  /** Called before every handler; see Authorize. */
  authorize?: Authorize;
}

/** Refused connections lingering to deliver their refusal; past this many, more are reset. */
const MAX_LINGERING_REFUSALS = 256;
/** Grace for a refused peer to read why. */
const REFUSAL_LINGER_MS = 1000;

// Handler signatures are checked against the descriptor at registration; once stored, the table
// holds them at the loosest shape that can call them.
type AnyDesc = MethodDesc<unknown, unknown>;

export class RpcServer {
  readonly identity: string;
  readonly maxFrameBytes: number;
  readonly helloTimeoutMs: number;
  readonly limits: Readonly<ConnectionLimits>;
  readonly log: Logger;
  /** Logs each kind of connection trouble (refusals, closes for a limit) once per window. */
  readonly troubleLog: LogLimiter;
  /** The last sweep's clock (ms): connections time their limits by it, so that reading a chunk
   *  costs no clock read. */
  now = Date.now();
  readonly authorize: Authorize | undefined;
  /** Set when the server speaks TLS. */
  readonly tls: TlsAcceptor | undefined;
  /** Registered methods by path ("vxfab.v1.Lookup/Vl2"). */
  readonly routes = new Map<string, Route>();
  /** The same routes with their paths as UTF-8 bytes, for matching a request's method bytes
   *  without making a string of them (the per-request hot path). */
  private readonly routeBytes: { bytes: Buffer; route: Route }[] = [];
  private server: Server | undefined;
  private readonly live = new Set<ServerConnection>();
  private readonly perPeer = new Map<string, number>();
  private readonly refusing = new Set<Socket>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly fdLimit: number | undefined;
  /** What a refused peer is told, encoded once: a refusal costs no encoding. */
  private readonly refusalTotal: Uint8Array;
  private readonly refusalPeer: Uint8Array;
  /** Accepted TCP sockets still in their TLS handshake, so that close() need not wait for them. */
  private readonly handshaking = new Set<Socket>();

  constructor(options: RpcServerOptions) {
    this.identity = options.identity;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    this.log = (options.logger ?? defaultLogger()).child({ module: 'wire.server' });
    this.troubleLog = new LogLimiter(this.log);
    const limits = { ...DEFAULT_LIMITS };
    for (const k of Object.keys(limits) as (keyof ConnectionLimits)[]) {
      const v = options[k];
      if (v !== undefined) limits[k] = checkLimit(k, v);
    }
    this.fdLimit = openFileLimit();
    limits.maxConnections = capBelowFdLimit(limits.maxConnections, this.fdLimit);
    this.limits = Object.freeze(limits);
    const refusal = (message: string): Uint8Array => encodeFrame({ kind: vxfab.v1.FrameKind.REPLY, id: 0,
      error: { code: vxfab.v1.ErrorCode.UNAVAILABLE, message, field: 'connection', value: this.identity } });
    this.refusalTotal = refusal(`server ${this.identity} has its maximum of ${limits.maxConnections} connections open; try again later`);
    this.refusalPeer = refusal(`server ${this.identity} has its maximum of ${limits.maxConnectionsPerPeer} connections from your address open; try again later`);
    this.authorize = options.authorize;
    this.tls = options.tls === undefined ? undefined : new TlsAcceptor(options.tls, (s) => this.acceptSecure(s), this.log);
  }

  /** Registers a unary method. Registering a path twice is an error. */
  handle<M extends MethodDesc<unknown, unknown, false>>(desc: M, handler: UnaryHandler<M>): this {
    return this.add({ kind: 'unary', path: desc.path, desc: desc as AnyDesc, fn: handler as Route['fn'] });
  }

  /** Registers a server-streaming method. */
  handleStream<M extends MethodDesc<unknown, unknown, true>>(desc: M, handler: StreamHandler<M>): this {
    return this.add({ kind: 'stream', path: desc.path, desc: desc as AnyDesc, fn: handler as Route['fn'] });
  }

  /** Registers a unary method answered from encoded bytes: the handler gets the undecoded request
   *  body and returns an already-encoded reply body (no decoding or encoding by the server).
   *  Given the method's descriptor instead of its path, the server can decode the request for
   *  authorize when a principal needs it. */
  handleRaw(method: string | AnyDesc, handler: RawHandler): this {
    return this.add({ kind: 'raw', ...routeOf(method), fn: handler as Route['fn'] });
  }

  /** Like handleRaw, for handlers that read the body where it lies in the received chunk. The
   *  per-request view of handleRaw was 80% of a busy lookup server's allocations (heap sampling
   *  profile at 150k VL2/s), which set its young-generation GC rate. `buf` is the connection's
   *  read buffer: its bytes are read over once a synchronous handler returns, so a handler must
   *  not keep `buf` (a handler that returns a promise keeps the chunk, as handleRaw's do). */
  handleRawSpan(method: string | AnyDesc, handler: RawSpanHandler): this {
    return this.add({ kind: 'span', ...routeOf(method), fn: handler as Route['fn'] });
  }

  private add(route: Route): this {
    if (this.routes.has(route.path)) {
      throw new VxfabError('ALREADY_EXISTS', `method ${route.path} is already registered`,
        { field: 'path', value: route.path });
    }
    this.routes.set(route.path, route);
    this.routeBytes.push({ bytes: Buffer.from(route.path, 'utf8'), route });
    return this;
  }

  /** The route whose path's UTF-8 bytes are exactly buf[start, end), if any. Bytes that are not a
   *  registered path (or not UTF-8) give undefined: the caller then decodes the method as text. */
  routeFor(buf: Uint8Array, start: number, end: number): Route | undefined {
    const n = end - start;
    const table = this.routeBytes;
    outer: for (let r = 0; r < table.length; r++) {
      const bytes = table[r]!.bytes;
      if (bytes.length !== n) continue;
      // Paths share their "vxfab.v1." start: compare from the end, where they differ.
      for (let k = n - 1; k >= 0; k--) if (bytes[k] !== buf[start + k]) continue outer;
      return table[r]!.route;
    }
    return undefined;
  }

  /** Open connections (hello done or not). */
  get connections(): number {
    return this.live.size;
  }

  /**
   * Closes every open connection whose peer matches (a revoked node's): each gets one
   * PERMISSION_DENIED error frame, its streams end at once, and its socket is closed. Returns how
   * many were closed. New connections are kept out by ServerTlsOptions.isRevoked.
   */
  closeWhere(pred: (peer: PeerInfo) => boolean, why = 'credentials revoked'): number {
    let n = 0;
    for (const c of this.live) {
      if (c.closed || !pred(c.peer)) continue;
      c.expel(why);
      n++;
    }
    if (n > 0) this.log.info({ connections: n, why }, 'closed connections');
    return n;
  }

  /** Socket reads of the open connections, the read slabs they filled (slab-reads.ts) and the
   *  write slabs their replies were written from (frame-writer.ts). */
  bufferStats(): { reads: number; readSlabs: number; writeSlabs: number } {
    let reads = 0;
    let readSlabs = 0;
    let writeSlabs = 0;
    for (const c of this.live) {
      reads += c.reads.reads;
      readSlabs += c.reads.slabs;
      writeSlabs += c.writeSlabs;
    }
    return { reads, readSlabs, writeSlabs };
  }

  /** Starts listening; port 0 picks a free port. Resolves with the address actually bound. */
  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    if (this.server) return Promise.reject(new VxfabError('CONFLICT', `server ${this.identity} is already listening`));
    // Paused on accept: nothing is read until accept() has moved the connection to slab reads.
    const server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => {
        this.server = undefined;
        reject(new VxfabError('UNAVAILABLE', `cannot listen on ${host}:${port}: ${e.message}`,
          { field: 'address', value: `${host}:${port}`, cause: e }));
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        server.on('error', (e) => this.log.error({ err: e }, 'listener error'));
        const addr = server.address();
        const bound = typeof addr === 'object' && addr ? { host: addr.address, port: addr.port } : { host, port };
        this.log.info({ host: bound.host, port: bound.port, methods: this.routes.size, maxConnections: this.limits.maxConnections,
          maxConnectionsPerPeer: this.limits.maxConnectionsPerPeer, openFileLimit: this.fdLimit }, 'listening');
        this.startSweeping();
        resolve(bound);
      });
    });
  }

  /** Stops accepting, ends every connection (active streams see ctx.closed), and resolves when the
   *  listener and all connections are closed. Calling it again is harmless. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const s of this.refusing) s.destroy();
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const raw of this.handshaking) raw.destroy();
    await Promise.all([...this.live].map((c) => c.shutdown()));
    await closed;
  }

  /** Unread output and reading state of the open connections: unsent is what they have queued
   *  now, peakUnsent the most any of them had queued after a received chunk, paused how many have
   *  their reads stopped (by maxOutputBytes or maxCallsInFlight). */
  outputStats(): { unsent: number; peakUnsent: number; paused: number } {
    let unsent = 0;
    let peakUnsent = 0;
    let paused = 0;
    for (const c of this.live) {
      unsent += c.unsent;
      peakUnsent = Math.max(peakUnsent, c.peakUnsent);
      if (c.paused) paused++;
    }
    return { unsent, peakUnsent, paused };
  }

  /** One timer for every connection's time limits (idle, slow frames, stalled output): a tick a
   *  quarter of the shortest limit apart, at most a second. */
  private startSweeping(): void {
    const l = this.limits;
    const shortest = Math.min(l.idleTimeoutMs, l.frameTimeoutMs, l.stallTimeoutMs, 4000);
    const every = Math.max(10, Math.floor(shortest / 4));
    this.now = Date.now();
    this.sweeper = setInterval(() => {
      const now = Date.now();
      this.now = now;
      for (const c of this.live) c.sweep(now);
      this.troubleLog.tick(now);
    }, every);
    this.sweeper.unref();
  }

  private accept(accepted: Socket): void {
    const peer = peerKey(accepted.remoteAddress);
    if (this.live.size + this.handshaking.size >= this.limits.maxConnections) {
      this.refuse(accepted, this.refusalTotal, 'refusing connections: total connection cap reached',
        { peer, cap: 'maxConnections', limit: this.limits.maxConnections });
      return;
    }
    const n = this.perPeer.get(peer) ?? 0;
    if (n >= this.limits.maxConnectionsPerPeer) {
      this.refuse(accepted, this.refusalPeer, 'refusing connections: per-peer connection cap reached',
        { peer, cap: 'maxConnectionsPerPeer', limit: this.limits.maxConnectionsPerPeer });
      return;
    }
    this.perPeer.set(peer, n + 1);
    const release = (): void => {
      const left = (this.perPeer.get(peer) ?? 1) - 1;
      if (left > 0) this.perPeer.set(peer, left);
      else this.perPeer.delete(peer);
    };
    if (this.tls !== undefined) {
      // The TCP socket stays under the TLS one for the connection's life: its close is the end.
      this.handshaking.add(accepted);
      accepted.once('close', () => {
        this.handshaking.delete(accepted);
        release();
      });
      this.tls.accept(accepted);
      return;
    }
    const reads = new SlabReads();
    const socket = adoptWithSlabReads(accepted, reads);
    const conn = new ServerConnection(this, socket, reads);
    this.live.add(conn);
    socket.once('close', () => {
      this.live.delete(conn);
      release();
    });
  }

  /** Tells a connection over a cap why (one pre-encoded frame) and closes it, reading nothing.
   *  It lingers a moment so that the frame is read rather than lost to a reset; in a flood, once
   *  MAX_LINGERING_REFUSALS linger, the rest are reset at once so refusals hold no descriptors. */
  private refuse(socket: Socket, why: Uint8Array, msg: string, fields: object): void {
    this.troubleLog.warn(msg, fields);
    socket.on('error', () => undefined);
    if (this.refusing.size >= MAX_LINGERING_REFUSALS) {
      socket.destroy();
      return;
    }
    this.refusing.add(socket);
    socket.once('close', () => this.refusing.delete(socket));
    socket.end(why);
    setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
  }

  /** A TLS handshake completed: the connection reads through 'data' events (no onread for TLS). */
  private acceptSecure(socket: TLSSocket): void {
    // Counted as live from here on; its TCP socket's close still releases the per-peer count.
    const raw = (socket as TLSSocket & { _parent?: Socket | null })._parent;
    if (raw) this.handshaking.delete(raw);
    if (this.server === undefined) {
      socket.destroy();
      return;
    }
    const reads = new SlabReads();
    const conn = new ServerConnection(this, socket, reads, this.tls!.verify(socket));
    this.live.add(conn);
    socket.once('close', () => this.live.delete(conn));
    socket.on('data', (chunk: Buffer) => {
      reads.reads++;
      reads.sink(chunk);
    });
  }
}

function routeOf(method: string | AnyDesc): { path: string; desc: AnyDesc | undefined } {
  return typeof method === 'string' ? { path: method, desc: undefined } : { path: method.path, desc: method };
}
