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
export type Authorize = (peer: PeerInfo, path: string, req: unknown) => void;

/** What a unary handler may return: the reply message or its plain properties. */
export type ResInit<M> = M extends { res: { create(p?: infer P): unknown } } ? P | ResOf<M> : never;

export interface RpcServerOptions {
  /** Who this server is, sent in its hello ("controller", "lookup-1"). */
  identity: string;
  /** Largest frame accepted from a client, without the length prefix. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Time a new connection has to send its hello. Default 10000 ms. */
  helloTimeoutMs?: number;
  logger?: Logger;
  /** Mutual TLS: the server's credentials, the methods open to clients without a certificate, and
   *  the revocation check. Without it the server speaks plain TCP and every peer is INSECURE_PRINCIPAL. */
  tls?: ServerTlsOptions;
  /** Called before every handler; see Authorize. */
  authorize?: Authorize;
}

// Handler signatures are checked against the descriptor at registration; once stored, the table
// holds them at the loosest shape that can call them.
type AnyDesc = MethodDesc<unknown, unknown>;

export class RpcServer {
  readonly identity: string;
  readonly maxFrameBytes: number;
  readonly helloTimeoutMs: number;
  readonly log: Logger;
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
  /** Accepted TCP sockets still in their TLS handshake, so that close() need not wait for them. */
  private readonly handshaking = new Set<Socket>();

  constructor(options: RpcServerOptions) {
    this.identity = options.identity;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    this.log = (options.logger ?? defaultLogger()).child({ module: 'wire.server' });
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
        this.log.info({ host: bound.host, port: bound.port, methods: this.routes.size }, 'listening');
        resolve(bound);
      });
    });
  }

  /** Stops accepting, ends every connection (active streams see ctx.closed), and resolves when the
   *  listener and all connections are closed. Calling it again is harmless. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const raw of this.handshaking) raw.destroy();
    await Promise.all([...this.live].map((c) => c.shutdown()));
    await closed;
  }

  private accept(accepted: Socket): void {
    if (this.tls !== undefined) {
      this.handshaking.add(accepted);
      accepted.once('close', () => this.handshaking.delete(accepted));
      this.tls.accept(accepted);
      return;
    }
    const reads = new SlabReads();
    const socket = adoptWithSlabReads(accepted, reads);
    const conn = new ServerConnection(this, socket, reads);
    this.live.add(conn);
    socket.once('close', () => this.live.delete(conn));
  }

  /** A TLS handshake completed: the connection reads through 'data' events (no onread for TLS). */
  private acceptSecure(socket: TLSSocket): void {
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
