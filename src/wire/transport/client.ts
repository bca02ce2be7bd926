// The calling side of a vxfab connection: one TCP connection to one server, many calls in flight
// on it, replies matched by request id in whatever order they come.
//
// Connection life: the client dials on connect() or on the first call, sends its HELLO and waits
// for the server's. When the connection is lost, calls that were sent on it fail with UNAVAILABLE
// (the server may or may not have acted on them; only the caller knows whether a retry is safe),
// and the client redials after a jittered exponential backoff. Calls made while there is no
// connection wait for the next one, until their own timeout — or fail at once with UNAVAILABLE
// when `failFast` is set, which suits callers that have something better to do than wait (an
// agent answering a kernel miss from its cache).
import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { VxfabError } from '../../model/errors.js';
import { fromWireError } from '../errors.js';
import { decodeLite, FrameDecoder, type FrameVisitor, type LiteFrame } from '../frame-decoder.js';
import { vxfab } from '../gen/proto.js';
import type { MethodDesc, PeerInfo, ReqInit, ResOf } from '../rpc.js';
import { PROTOCOL_VERSION } from '../version.js';
import { parseAddress, type HostPort } from './address.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { SlabReads } from './slab-reads.js';
import { FrameWriter } from './frame-writer.js';
import { defaultLogger } from './log.js';
import { PendingCall, PendingTable } from './pending.js';
import { runningTimeout } from './running-clock.js';
import { connectTls, tlsError, type ClientTlsOptions } from './tls.js';

const K = vxfab.v1.FrameKind;

export interface RpcClientOptions {
  /** The server, "host:port" or "[v6]:port". */
  address: string;
  /** What this client is (vxfab.v1.Role), sent in its hello. */
  role: vxfab.v1.Role;
  /** Who this client is ("node-7", "cli"), sent in its hello. */
  identity: string;
  /** Default per-call timeout, also the limit for connect(). Default 30000 ms. */
  timeoutMs?: number;
  /** Largest frame accepted from the server, without the length prefix. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Redial after a lost connection (default { minMs: 100, maxMs: 10000 }); false: redial only
   *  when a call or connect() needs a connection. */
  reconnect?: BackoffOptions | false;
  /** Calls made while not connected fail at once with UNAVAILABLE instead of waiting. */
  failFast?: boolean;
  logger?: Logger;
  /** The local address to dial from (a multi-homed host's choice of source; tests use another
   *  loopback address to be another peer). Default: the system's choice. */
  localAddress?: string;
  /** The protocol version sent in hello. Only for testing version negotiation. */
  protocolVersion?: number;
  /** Mutual TLS 1.3 (tls.ts): the server must hold a server or replica certificate of caPem's CA;
   *  `credentials` are this client's certificate (none while enrolling). Without it: plain TCP. */
  tls?: ClientTlsOptions;
}

export interface CallOptions {
  /** This call's timeout. Default: the client's timeoutMs. */
  timeoutMs?: number;
  /** Overrides the client's failFast for this call. */
  failFast?: boolean;
}

export interface StreamCall {
  /** Resolves when the server ends the stream or it is cancelled; rejects with the server's
   *  typed error, UNAVAILABLE when the connection is lost, or what onItem threw. */
  done: Promise<void>;
  /** Stops the stream: CANCEL goes to the server and `done` resolves. Harmless once done. */
  cancel(): void;
}

export interface RpcClientEvents {
  /** The hello exchange completed; the argument describes the server. */
  connected: [PeerInfo];
  /** A connection that had completed its hello is gone. */
  disconnected: [VxfabError];
}

type State = 'idle' | 'connecting' | 'ready' | 'closed';

/** Decodes a lite frame's body as the call's reply type, in place through the chunk's Reader.
 *  A reply with bytes fields holds views of the chunk, which is then kept. */
function decodeBody(conn: Conn, call: PendingCall, f: LiteFrame): unknown {
  if (call.desc.resBytes !== false) conn.reads.keep();
  const reader = f.reader;
  reader.pos = f.bodyStart;
  reader.len = f.bodyEnd;
  return call.desc.res.decode(reader);
}

/** One TCP connection's worth of client state. */
class Conn {
  readonly decoder: FrameDecoder;
  readonly out: FrameWriter;
  /** Set by RpcClient.dial: where this connection's frames go. */
  visitor: FrameVisitor | undefined;
  ready = false;
  /** Why the connection ended, when known better than "lost". */
  error: VxfabError | undefined;
  /** The server refused this client (its hello answer carried an error): waiting calls fail too. */
  refused = false;
  constructor(readonly socket: Socket, readonly reads: SlabReads, maxFrameBytes: number | undefined) {
    this.decoder = new FrameDecoder(maxFrameBytes === undefined ? {} : { maxFrameBytes });
    this.out = new FrameWriter(socket);
  }
}

interface ConnectWaiter {
  resolve: () => void;
  reject: (e: VxfabError) => void;
  /** Cancels its running-time timeout (running-clock.ts). */
  cancelTimer: () => void;
}

export class RpcClient extends EventEmitter<RpcClientEvents> {
  readonly address: string;
  readonly timeoutMs: number;
  private readonly target: HostPort;
  private readonly options: RpcClientOptions;
  private readonly backoff: Required<BackoffOptions> | false;
  private readonly log: Logger;
  private readonly pending = new PendingTable();
  /** Calls waiting for a connection, oldest first. Entries already settled are skipped. */
  private queued: PendingCall[] = [];
  private connectWaiters: ConnectWaiter[] = [];
  private conn: Conn | undefined;
  private state: State = 'idle';
  private attempt = 0;
  private redialTimer: NodeJS.Timeout | undefined;
  private lastError: VxfabError | undefined;
  private serverPeer: PeerInfo | undefined;

  constructor(options: RpcClientOptions) {
    super();
    this.options = options;
    this.address = options.address;
    this.target = parseAddress(options.address);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.backoff = options.reconnect === false ? false : {
      minMs: options.reconnect?.minMs ?? DEFAULT_BACKOFF.minMs,
      maxMs: options.reconnect?.maxMs ?? DEFAULT_BACKOFF.maxMs,
    };
    this.log = (options.logger ?? defaultLogger()).child({ module: 'wire.client', address: options.address });
  }

  /** True while a connection with a completed hello exists. */
  get connected(): boolean {
    return this.state === 'ready';
  }

  /** The server's hello, once connected. */
  get server(): PeerInfo | undefined {
    return this.serverPeer;
  }

  /** The current connection's socket reads, the read slabs they filled and the write slabs its
   *  calls were written from (slab-reads.ts, frame-writer.ts); zeros when not connected. */
  bufferStats(): { reads: number; readSlabs: number; writeSlabs: number } {
    const c = this.conn;
    return c === undefined ? { reads: 0, readSlabs: 0, writeSlabs: 0 } : { reads: c.reads.reads, readSlabs: c.reads.slabs, writeSlabs: c.out.slabs };
  }

  /** Calls (and streams) outstanding, sent or waiting for a connection. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Resolves once connected (hello exchanged). Rejects with the server's refusal
   * (UNSUPPORTED_VERSION…) at once, with UNAVAILABLE when the dial fails and reconnect is off, or
   * with UNAVAILABLE after timeoutMs of failed attempts.
   */
  connect(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(this.closedError());
    if (this.state === 'ready') return Promise.resolve();
    this.ensureDialing();
    return new Promise((resolve, reject) => {
      const waiter: ConnectWaiter = {
        resolve,
        reject,
        cancelTimer: runningTimeout(() => {
          this.connectWaiters = this.connectWaiters.filter((w) => w !== waiter);
          reject(new VxfabError('UNAVAILABLE', `could not connect to ${this.address} within ${this.timeoutMs} ms` +
            (this.lastError ? `: ${this.lastError.message}` : ''), { field: 'address', value: this.address, cause: this.lastError }));
        }, this.timeoutMs),
      };
      this.connectWaiters.push(waiter);
    });
  }

  /** A unary call. Rejects with the server's typed error, DEADLINE_EXCEEDED after the timeout,
   *  UNAVAILABLE when the connection is lost with the call in flight (or at once when not
   *  connected and failFast), INVALID_ARGUMENT when the request does not encode. */
  call<M extends MethodDesc<unknown, unknown, false>>(desc: M, req: ReqInit<M>, options?: CallOptions): Promise<ResOf<M>> {
    return new Promise((resolve, reject) => {
      this.start(desc, req as object, options, resolve as (v: unknown) => void, reject, undefined);
    });
  }

  /**
   * call() without a promise: `done` gets the error, or undefined and the reply, exactly once. For
   * callers making hundreds of thousands of calls a second, where a promise, its resolving
   * functions and a reaction per call are a large part of the garbage (and so of GC pauses).
   */
  callback<M extends MethodDesc<unknown, unknown, false>>(desc: M, req: ReqInit<M>,
    done: (err: Error | undefined, res?: ResOf<M>) => void, options?: CallOptions): void {
    this.start(desc, req as object, options, (v) => done(undefined, v as ResOf<M>), (e) => done(e), undefined);
  }

  /** A server-streaming call: onItem gets each item, in order. A stream waits for a connection
   *  like a call (until its timeout); once started it has no deadline. */
  stream<M extends MethodDesc<unknown, unknown, true>>(desc: M, req: ReqInit<M>, onItem: (item: ResOf<M>) => void,
    options?: CallOptions): StreamCall {
    let id = 0;
    const done = new Promise<void>((resolve, reject) => {
      id = this.start(desc, req as object, options, resolve as (v: unknown) => void, reject, onItem as (item: unknown) => void);
    });
    return { done, cancel: () => this.cancel(id) };
  }

  /** Closes the connection and stops redialing. Outstanding calls fail with UNAVAILABLE. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.redialTimer);
    this.pending.stop();
    const err = this.closedError();
    this.pending.failWhere(() => true, () => err);
    this.queued = [];
    this.rejectConnectWaiters(err);
    const conn = this.conn;
    if (conn && !conn.socket.destroyed) {
      const closed = new Promise<void>((resolve) => conn.socket.once('close', () => resolve()));
      conn.out.flush();
      conn.socket.end();
      const force = setTimeout(() => conn.socket.destroy(), 1000);
      await closed;
      clearTimeout(force);
    }
  }

  // --- calls ---

  private start(desc: MethodDesc<unknown, unknown>, req: object, options: CallOptions | undefined,
    resolve: (v: unknown) => void, reject: (e: Error) => void, onItem: ((item: unknown) => void) | undefined): number {
    if (this.state === 'closed') {
      reject(this.closedError());
      return 0;
    }
    const ready = this.state === 'ready';
    if (!ready && (options?.failFast ?? this.options.failFast ?? false)) {
      this.ensureDialing();
      reject(new VxfabError('UNAVAILABLE', `not connected to ${this.address}` +
        (this.lastError ? `: ${this.lastError.message}` : ''), { field: 'address', value: this.address }));
      return 0;
    }
    const timeoutMs = options?.timeoutMs ?? this.timeoutMs;
    const call = new PendingCall(this.pending.allocateId(), desc, undefined, Date.now() + timeoutMs, timeoutMs,
      resolve, reject, onItem);
    try {
      if (ready) {
        // Connected: the request is encoded straight into the connection's outgoing batch.
        this.conn!.out.writeMessage(K.REQUEST, call.id, desc.path, desc.req, req);
        call.sent = true;
        if (onItem) call.deadline = Infinity;
      } else {
        // Kept encoded until a connection is up.
        call.body = desc.req.encode(req).finish();
      }
    } catch (e) {
      reject(new VxfabError('INVALID_ARGUMENT', `request for ${desc.path} does not encode: ${(e as Error).message}`,
        { field: 'request', value: desc.path, cause: e }));
      return 0;
    }
    this.pending.add(call);
    if (!ready) {
      this.queued.push(call);
      this.ensureDialing();
    }
    return call.id;
  }

  /** Sends a call that waited for the connection. */
  private send(conn: Conn, call: PendingCall): void {
    conn.out.writeBody(K.REQUEST, call.id, call.desc.path, call.body!);
    call.sent = true;
    call.body = undefined;
    if (call.onItem) call.deadline = Infinity;
  }

  private cancel(id: number): void {
    const call = this.pending.take(id);
    if (call === undefined) return;
    if (call.sent && this.conn?.ready) this.conn.out.write({ kind: K.CANCEL, id });
    call.resolve(undefined);
  }

  // --- connection ---

  private ensureDialing(): void {
    if (this.state === 'idle') this.dial();
  }

  private dial(): void {
    this.state = 'connecting';
    this.redialTimer = undefined;
    // Reads land in slabs (slab-reads.ts): no ArrayBuffer per read for the GC to free. A chunk
    // is read over by the next read unless onData, onLite or the frame visitor kept it.
    const reads = new SlabReads();
    const tls = this.options.tls;
    const local = this.options.localAddress !== undefined ? { localAddress: this.options.localAddress } : {};
    let socket: Socket;
    if (tls === undefined) {
      reads.recycles = true;
      socket = netConnect({ host: this.target.host, port: this.target.port, noDelay: true, onread: reads.options, ...local });
    } else {
      // TLS sockets take no onread: each decrypted chunk comes fresh in a 'data' event.
      socket = connectTls(this.target.host, this.target.port, tls, this.options.localAddress);
      socket.on('data', (chunk: Buffer) => {
        reads.reads++;
        reads.sink(chunk);
      });
    }
    const conn = new Conn(socket, reads, this.options.maxFrameBytes);
    conn.visitor = {
      lite: (f) => {
        if (conn.socket.destroyed) return;
        if (conn.ready) this.onLite(conn, f);
        else {
          reads.keep();
          this.onHello(conn, decodeLite(f));
        }
      },
      frame: (frame) => {
        reads.keep(); // its body is a view of the chunk
        if (conn.socket.destroyed) return;
        if (conn.ready) this.onFrame(conn, frame);
        else this.onHello(conn, frame);
      },
    };
    this.conn = conn;
    this.log.debug({ attempt: this.attempt }, 'dialing');
    // Covers the TCP connect and the hello exchange; a server that accepts and says nothing is
    // as unreachable as one that refuses.
    // Running time (running-clock.ts): a starved process must not give up on a hello it has not read yet.
    const cancelHelloTimer = runningTimeout(() => {
      conn.error ??= new VxfabError('UNAVAILABLE', `no hello from ${this.address} within ${this.timeoutMs} ms`,
        { field: 'address', value: this.address });
      socket.destroy();
    }, this.timeoutMs);
    socket.once('connect', () => socket.setNoDelay(true));
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
      conn.out.write({ kind: K.HELLO, hello: {
        protocolVersion: this.options.protocolVersion ?? PROTOCOL_VERSION,
        role: this.options.role,
        identity: this.options.identity,
      } });
      conn.out.flush();
    });
    reads.sink = (chunk) => {
      if (this.conn !== conn) return;
      this.onData(conn, chunk);
      if (conn.ready) cancelHelloTimer();
    };
    socket.on('error', (e) => {
      if (tls !== undefined && !conn.ready) {
        // A server we do not trust is not worth waiting for: its refusal fails waiting calls.
        const err = tlsError(this.address, e);
        conn.refused ||= err.code === 'PERMISSION_DENIED';
        conn.error ??= err;
        return;
      }
      conn.error ??= new VxfabError('UNAVAILABLE', `connection to ${this.address} failed: ${e.message}`,
        { field: 'address', value: this.address, cause: e });
    });
    socket.once('close', () => {
      cancelHelloTimer();
      this.onClose(conn);
    });
  }

  private onData(conn: Conn, chunk: Buffer): void {
    let broken: unknown;
    conn.out.cork();
    try {
      conn.decoder.visit(chunk, conn.visitor!);
      if (conn.decoder.buffered > 0) conn.reads.keep(); // the start of a frame split across reads
    } catch (e) {
      broken = e;
    } finally {
      conn.out.uncork();
    }
    if (broken !== undefined) this.breakConnection(conn, broken as VxfabError);
  }

  /** A frame of the common shape (no error field): replies and stream items are decoded straight
   *  from the chunk (the body is read in place through the chunk's Reader). */
  private onLite(conn: Conn, f: LiteFrame): void {
    switch (f.kind) {
      case K.REPLY: {
        if (f.id === 0) break;
        const call = this.pending.take(f.id);
        if (call === undefined) return; // timed out or cancelled: the reply is late
        if (call.onItem) {
          call.reject(new VxfabError('PROTOCOL_ERROR', `${call.desc.path}: REPLY without error to a stream call`));
          return;
        }
        let res: unknown;
        try {
          res = decodeBody(conn, call, f);
        } catch (e) {
          call.reject(new VxfabError('PROTOCOL_ERROR', `reply of ${call.desc.path} does not decode: ${(e as Error).message}`,
            { field: 'body', value: `${f.bodyEnd - f.bodyStart} bytes`, cause: e }));
          return;
        }
        call.resolve(res);
        return;
      }
      case K.STREAM_ITEM: {
        const call = this.pending.get(f.id);
        if (call?.onItem === undefined) return;
        try {
          call.onItem(decodeBody(conn, call, f));
        } catch (e) {
          this.pending.take(f.id);
          conn.out.write({ kind: K.CANCEL, id: f.id });
          call.reject(e instanceof Error ? e : new VxfabError('INTERNAL', String(e)));
        }
        return;
      }
      case K.STREAM_END: {
        const call = this.pending.take(f.id);
        if (call !== undefined) call.resolve(undefined);
        return;
      }
    }
    this.onFrame(conn, decodeLite(f));
  }

  private onHello(conn: Conn, frame: vxfab.v1.Frame): void {
    if (frame.kind === K.HELLO && frame.error) {
      conn.error = fromWireError(frame.error);
      conn.refused = true;
      this.log.warn({ err: conn.error.message }, 'server refused hello');
      conn.socket.destroy();
      return;
    }
    if (frame.kind !== K.HELLO || !frame.hello) {
      if (frame.kind === K.REPLY && frame.id === 0 && frame.error) {
        conn.error = fromWireError(frame.error);
        conn.refused = true;
        conn.socket.destroy();
        return;
      }
      this.breakConnection(conn, new VxfabError('PROTOCOL_ERROR',
        `expected HELLO from ${this.address}, got ${K[frame.kind] ?? frame.kind}`, { field: 'frame.kind', value: String(frame.kind) }));
      return;
    }
    const version = frame.hello.protocolVersion ?? 0;
    if (version !== PROTOCOL_VERSION) {
      conn.error = new VxfabError('UNSUPPORTED_VERSION',
        `server ${this.address} speaks protocol version ${version}, this client ${PROTOCOL_VERSION}`,
        { field: 'hello.protocol_version', value: String(version) });
      conn.refused = true;
      conn.socket.destroy();
      return;
    }
    conn.ready = true;
    this.state = 'ready';
    this.attempt = 0;
    this.lastError = undefined;
    const remote = `${conn.socket.remoteAddress}:${conn.socket.remotePort}`;
    this.serverPeer = { role: frame.hello.role ?? 0, identity: frame.hello.identity ?? '', remote };
    this.log.debug({ server: this.serverPeer.identity }, 'connected');
    const queued = this.queued;
    this.queued = [];
    for (const call of queued) {
      if (this.pending.get(call.id) === call) this.send(conn, call);
    }
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const w of waiters) {
      w.cancelTimer();
      w.resolve();
    }
    this.emit('connected', this.serverPeer);
  }

  private onFrame(conn: Conn, frame: vxfab.v1.Frame): void {
    switch (frame.kind) {
      case K.REPLY: {
        if (frame.id === 0) {
          // The server is about to close this connection and says why.
          conn.error = fromWireError(frame.error);
          return;
        }
        const call = this.pending.take(frame.id);
        if (call === undefined) return; // timed out or cancelled: the reply is late
        if (frame.error) call.reject(fromWireError(frame.error));
        else if (call.onItem) {
          call.reject(new VxfabError('PROTOCOL_ERROR', `${call.desc.path}: REPLY without error to a stream call`));
        } else {
          let res: unknown;
          try {
            res = call.desc.res.decode(frame.body);
          } catch (e) {
            call.reject(new VxfabError('PROTOCOL_ERROR', `reply of ${call.desc.path} does not decode: ${(e as Error).message}`,
              { field: 'body', value: `${frame.body.length} bytes`, cause: e }));
            return;
          }
          call.resolve(res);
        }
        return;
      }
      case K.STREAM_ITEM: {
        const call = this.pending.get(frame.id);
        if (call?.onItem === undefined) return;
        try {
          call.onItem(call.desc.res.decode(frame.body));
        } catch (e) {
          // A stream whose consumer failed is of no more use: stop it and report the failure.
          this.pending.take(frame.id);
          conn.out.write({ kind: K.CANCEL, id: frame.id });
          call.reject(e instanceof Error ? e : new VxfabError('INTERNAL', String(e)));
        }
        return;
      }
      case K.STREAM_END: {
        const call = this.pending.take(frame.id);
        if (call === undefined) return;
        if (frame.error) call.reject(fromWireError(frame.error));
        else call.resolve(undefined);
        return;
      }
      default:
        this.breakConnection(conn, new VxfabError('PROTOCOL_ERROR',
          `unexpected ${K[frame.kind] ?? frame.kind} frame from the server`, { field: 'frame.kind', value: String(frame.kind) }));
    }
  }

  private breakConnection(conn: Conn, e: VxfabError): void {
    if (conn.socket.destroyed) return;
    this.log.warn({ err: e.message }, 'closing connection: protocol error');
    conn.error ??= e;
    conn.socket.destroy();
  }

  private onClose(conn: Conn): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    try {
      conn.decoder.end();
    } catch (e) {
      conn.error ??= e as VxfabError;
    }
    const wasReady = conn.ready;
    const err = conn.error ?? new VxfabError('UNAVAILABLE',
      wasReady ? `connection to ${this.address} lost` : `connection to ${this.address} closed during hello`,
      { field: 'address', value: this.address });
    this.lastError = err;
    if (this.state === 'closed') return;
    // Sent calls cannot be replayed safely; waiting calls go on waiting, unless the server
    // refused us (replaying into a refusal is pointless) or nobody will redial.
    const failAll = conn.refused || this.backoff === false;
    this.pending.failWhere((c) => c.sent || failAll, () => err);
    if (failAll) {
      this.queued = [];
      this.rejectConnectWaiters(err);
    }
    if (wasReady) {
      this.log.info({ err: err.message }, 'disconnected');
      this.serverPeer = undefined;
      this.emit('disconnected', err);
    } else {
      this.log.debug({ err: err.message }, 'dial failed');
    }
    if (this.backoff === false) {
      this.state = 'idle';
      return;
    }
    this.state = 'connecting';
    this.attempt++;
    const delay = backoffDelay(this.attempt, this.backoff);
    this.log.debug({ attempt: this.attempt, delay }, 'redial scheduled');
    this.redialTimer = setTimeout(() => this.dial(), delay);
  }

  private rejectConnectWaiters(err: VxfabError): void {
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const w of waiters) {
      w.cancelTimer();
      w.reject(err);
    }
  }

  private closedError(): VxfabError {
    return new VxfabError('UNAVAILABLE', `client for ${this.address} is closed`, { field: 'address', value: this.address });
  }
}
