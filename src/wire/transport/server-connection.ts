// One accepted connection: the hello exchange, then requests dispatched to the server's handlers.
//
// Hot path (a unary request answered synchronously): the frames of a received chunk are read in
// place (FrameDecoder.visit: no Frame object, the method matched as bytes against the registered
// paths), each request's handler runs and its reply is encoded into the connection's batch, and
// the batch is written once when the chunk is done. No promise, timer or closure is made per
// request.
//
// A peer that breaks the framing (oversize length, bytes that are not a Frame, a frame out of
// sequence) gets one error frame, if it can still be told, and is closed, with one log line. Other
// connections are not affected. Errors in one request (unknown method, undecodable body, handler
// failure) are answered on that request and the connection carries on.
//
// Limits (RpcServerOptions, limits.ts): a peer that does not read its replies, or keeps too many
// calls running, stops being read (the socket's reads are stopped: its requests wait in the
// kernel and then in the peer, not in our memory) until its output drains or its calls finish;
// one that stays unread for stallTimeoutMs is closed. A frame must complete within
// frameTimeoutMs, and a connection with nothing running is closed after idleTimeoutMs without a
// frame. The per-chunk cost is a few comparisons: times come from the server's sweep, which
// turns what onData noted (flags) into times and checks them for every connection at once.
//
// Access (server.ts Authorize, tls.ts): a TLS connection whose client proved no identity may call
// only the server's anonymous methods; every other call is answered PERMISSION_DENIED before its
// body is decoded. A connection with an identity has each call checked by the server's authorize
// before the handler runs. On a plain server with no authorize (tests, --insecure) the guard is
// one false branch per request.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { VxfabError } from '../../model/errors.js';
import { toWireErrorOrInternal } from '../errors.js';
import { decodeLite, FrameDecoder, type FrameVisitor, type LiteFrame } from '../frame-decoder.js';
import type { BodyEncoder } from '../frame-encoder.js';
import { vxfab } from '../gen/proto.js';
import type { CallContext, MethodDesc, PeerInfo, StreamContext } from '../rpc.js';
import { PROTOCOL_VERSION } from '../version.js';
import { FrameWriter } from './frame-writer.js';
import type { SlabReads } from './slab-reads.js';
import type { Authorize, RpcServer } from './server.js';
import { INSECURE_PRINCIPAL, type Verified } from './tls.js';

const K = vxfab.v1.FrameKind;
const CODE = vxfab.v1.ErrorCode;

/** A stream handler waits (ctx.drained) once this much output is queued on its connection. */
const HIGH_WATER_BYTES = 1 << 20;
/** Grace for a peer to read our last frame and close after we end the connection. */
const LINGER_MS = 2000;
/** Why reads are stopped (bits of ServerConnection.stopped). */
const STOP_OUTPUT = 1;
const STOP_CALLS = 2;
/** setTimeout's longest delay; a certificate's expiry further off is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Route {
  kind: 'unary' | 'stream' | 'raw' | 'span';
  path: string;
  desc: MethodDesc<unknown, unknown> | undefined;
  fn: (...args: never[]) => unknown;
}

type UnaryFn = (req: unknown, ctx: CallContext) => unknown;
type StreamFn = (req: unknown, ctx: StreamContext) => unknown;
type RawFn = (body: Uint8Array, ctx: CallContext) => unknown;
type SpanFn = (buf: Uint8Array, start: number, end: number, ctx: CallContext) => unknown;

export class ServerConnection {
  private readonly log: Logger;
  private readonly decoder: FrameDecoder;
  private readonly out: FrameWriter;
  private readonly visitor: FrameVisitor;
  private readonly streams = new Map<number, ServerStream>();
  private drainWaiters: (() => void)[] = [];
  private helloDone = false;
  private helloTimer: NodeJS.Timeout | undefined;
  /** Unary calls answered later (a handler's promise) still running. */
  private asyncCalls = 0;
  /** STOP_* bits: while non-zero the socket is not read. */
  private stopped = 0;
  private stoppedAt = 0;
  /** Set by onData, turned into times by sweep(): a frame completed; a new partial frame began. */
  private heard = false;
  private partialStarted = false;
  private lastHeardAt: number;
  private partialSince = 0;
  /** True while the decoder is visiting a chunk (a resume then only lets that visit go on). */
  private visiting = false;
  /** Set once we decided to close: later input is ignored. */
  private closing = false;
  private closedPromise: Promise<void>;
  readonly peer: PeerInfo;
  /** The context of every unary call on this connection: it only carries the peer. */
  readonly ctx: CallContext;
  /** A TLS client without a valid certificate: only anonymous methods; why, for its refusals. */
  private readonly anonymous: string | undefined;
  private readonly authorize: Authorize | undefined;
  /** Some check applies to this connection's calls (the hot path's one branch). */
  private readonly guarded: boolean;
  private expiryTimer: NodeJS.Timeout | undefined;

  /** `verified` is what the TLS handshake proved; undefined on a plain (insecure) server. */
  constructor(private readonly server: RpcServer, readonly socket: Socket, readonly reads: SlabReads, verified?: Verified) {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log = server.log.child({ remote });
    this.decoder = new FrameDecoder({ maxFrameBytes: server.maxFrameBytes });
    this.out = new FrameWriter(socket);
    this.out.backlogLimit = server.limits.maxOutputBytes;
    this.out.onBacklog = () => this.stopReading(STOP_OUTPUT);
    this.peer = { role: 0, identity: '', remote };
    if (verified === undefined) {
      this.peer.principal = INSECURE_PRINCIPAL;
    } else if (verified.principal === undefined) {
      this.anonymous = verified.reason;
    } else {
      this.peer.principal = verified.principal;
      this.peer.serial = verified.serial;
      this.expireAt(verified.notAfter);
    }
    this.authorize = server.authorize;
    this.guarded = this.anonymous !== undefined || this.authorize !== undefined;
    this.ctx = { peer: this.peer };
    this.visitor = { lite: (f) => this.onLite(f), frame: (f) => this.onFrame(f) };
    socket.setNoDelay(true);
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    // Everything that may outlive a chunk's callback calls reads.keep(): see onData, onFrame,
    // dispatch and rawResult. The rest (VL2 lookups answered in place) reads into the same bytes.
    reads.recycles = true;
    reads.sink = (chunk) => this.onData(chunk);
    socket.on('end', () => this.onEnd());
    socket.on('error', (e) => this.log.debug({ err: e }, 'socket error'));
    socket.on('drain', () => this.onDrain());
    socket.once('close', () => this.onClose());
    this.helloTimer = setTimeout(() => {
      this.fail(new VxfabError('PROTOCOL_ERROR', `no HELLO within ${server.helloTimeoutMs} ms`), 0);
    }, server.helloTimeoutMs);
    this.helloTimer.unref();
    this.lastHeardAt = server.now;
    this.log.debug('accepted');
  }

  /** True once the connection is closing or closed. */
  get closed(): boolean {
    return this.closing;
  }

  /** A connection lives no longer than the certificate it was opened with. */
  private expireAt(notAfter: number): void {
    const left = notAfter - Date.now();
    this.expiryTimer = setTimeout(() => {
      if (Date.now() >= notAfter) this.expel('client certificate expired');
      else this.expireAt(notAfter);
    }, Math.max(0, Math.min(left, MAX_TIMER_MS)));
    this.expiryTimer.unref();
  }

  /** Ends the connection for a reason of access (revoked, expired): one PERMISSION_DENIED frame,
   *  streams told at once, the socket closed. */
  expel(why: string): void {
    if (this.closing) return;
    this.log.info({ principal: this.peer.principal, why }, 'closing connection');
    this.out.write({ kind: K.REPLY, id: 0, error: toWireErrorOrInternal(
      new VxfabError('PERMISSION_DENIED', `connection closed: ${why}`, { field: 'certificate', value: this.peer.serial ?? '' }), 'connection') });
    this.closeSoon();
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const st of streams) st.close();
  }

  /** Slabs this connection's writes have used (frame-writer.ts). */
  get writeSlabs(): number {
    return this.out.slabs;
  }

  /** Output queued: handed to the socket but not yet to the kernel, or still in the batch. */
  get unsent(): number {
    return this.socket.writableLength + this.out.buffered;
  }

  get paused(): boolean {
    return this.stopped !== 0;
  }

  /** The most output this connection has had queued on its socket. */
  get peakUnsent(): number {
    return this.out.peakQueued;
  }

  private onData(chunk: Buffer): void {
    this.readInput(chunk);
  }

  /** Visits a chunk, or (chunk undefined) the frames a stop left in the decoder. */
  private readInput(chunk: Buffer | undefined): void {
    if (this.closing) return;
    let broken: unknown;
    const before = this.decoder.buffered;
    this.visiting = true;
    this.out.cork();
    try {
      if (chunk === undefined) this.decoder.resume(this.visitor);
      else this.decoder.visit(chunk, this.visitor);
    } catch (e) {
      broken = e; // frames before the bad one were answered
    } finally {
      this.visiting = false;
      this.out.uncork();
    }
    if (broken !== undefined) {
      if (!this.closing) this.fail(broken, 0);
      return;
    }
    // The decoder holds only the bytes of an incomplete frame: holding fewer than it held plus
    // the chunk means frames completed, and then what it holds (if anything) is a new frame.
    const after = this.decoder.buffered;
    const completed = after < before + (chunk?.length ?? 0);
    if (completed) this.heard = true;
    if (after > 0) {
      // The start of a frame split across reads, or the frames a stop left unread.
      this.reads.keep();
      if (completed || before === 0) this.partialStarted = true;
    }
  }

  /** Stops taking requests: the decoder stops after the current frame (keeping the rest of the
   *  chunk) and the socket is not read (Node's onread sockets stop their handle's reads on
   *  pause(): the kernel's receive buffer fills and TCP stops the peer). */
  private stopReading(why: number): void {
    if (this.closing || (this.stopped & why) !== 0) return;
    if (this.stopped === 0) {
      this.socket.pause();
      this.decoder.halt();
      this.stoppedAt = Date.now();
    }
    this.stopped |= why;
    this.log.debug({ unsent: this.unsent, calls: this.asyncCalls + this.streams.size, why }, 'reads stopped');
  }

  private resumeReading(why: number): void {
    if ((this.stopped & why) === 0) return;
    this.stopped &= ~why;
    if (this.stopped !== 0 || this.closing) return;
    if (this.visiting) {
      this.decoder.unhalt(); // stopped and resumed within one frame: that visit goes on
    } else {
      this.readInput(undefined); // the requests the stop left in the decoder, which may stop again
      if (this.stopped !== 0 || this.closing) return;
    }
    this.socket.resume();
  }

  /** A call now runs past the chunk that asked for it (a promise, a stream). */
  private callStarted(): void {
    if (++this.asyncCalls + this.streams.size >= this.server.limits.maxCallsInFlight) this.stopReading(STOP_CALLS);
  }

  private callEnded(): void {
    this.asyncCalls--;
    this.checkCalls();
  }

  private checkCalls(): void {
    if ((this.stopped & STOP_CALLS) !== 0 && this.asyncCalls + this.streams.size <= this.server.limits.maxCallsInFlight / 2) {
      this.resumeReading(STOP_CALLS);
    }
  }

  /** The server's periodic check of this connection's time limits. */
  sweep(now: number): void {
    if (this.closing) return;
    const l = this.server.limits;
    if (this.stopped !== 0) {
      // Not reading: the peer cannot complete a frame or be heard, through no fault of its own.
      this.lastHeardAt = now;
      this.partialSince = now;
      this.partialStarted = false;
      if ((this.stopped & STOP_OUTPUT) !== 0) {
        if (this.unsent <= l.maxOutputBytes / 2) this.resumeReading(STOP_OUTPUT);
        else if (now - this.stoppedAt > l.stallTimeoutMs) this.closeStalled();
      }
      return;
    }
    if (this.heard || this.asyncCalls > 0 || this.streams.size > 0) {
      this.heard = false;
      this.lastHeardAt = now;
    }
    if (this.partialStarted) {
      this.partialStarted = false;
      this.partialSince = now;
    }
    if (this.decoder.buffered > 0 && now - this.partialSince > l.frameTimeoutMs) {
      this.server.troubleLog.warn('closing connection: frame not completed in time', { remote: this.peer.remote,
        identity: this.peer.identity || undefined, buffered: this.decoder.buffered, frameTimeoutMs: l.frameTimeoutMs });
      this.endWith(new VxfabError('PROTOCOL_ERROR', `frame not completed within ${l.frameTimeoutMs} ms`,
        { field: 'frame', value: String(this.decoder.buffered) }));
    } else if (this.helloDone && now - this.lastHeardAt > l.idleTimeoutMs) {
      this.log.debug({ idleTimeoutMs: l.idleTimeoutMs }, 'closing idle connection');
      this.endWith(new VxfabError('UNAVAILABLE', `connection idle for ${l.idleTimeoutMs} ms`,
        { field: 'connection', value: 'idle' }));
    }
  }

  /** Its peer has not read its replies for stallTimeoutMs: nothing more can be told, so the
   *  connection (and its queued output) goes at once. */
  private closeStalled(): void {
    const l = this.server.limits;
    this.server.troubleLog.warn('closing connection: replies not read', { remote: this.peer.remote,
      identity: this.peer.identity || undefined, unsent: this.unsent, maxOutputBytes: l.maxOutputBytes, stallTimeoutMs: l.stallTimeoutMs });
    this.closing = true;
    this.socket.destroy();
  }

  /** A frame of the common shape: requests and cancels are handled in place, anything unusual
   *  (before hello, a method that is no registered path) as a decoded Frame. */
  private onLite(f: LiteFrame): void {
    if (this.closing) return;
    if (this.helloDone) {
      if (f.kind === K.REQUEST) {
        const route = this.server.routeFor(f.buf, f.methodStart, f.methodEnd);
        if (route !== undefined) {
          if (route.kind === 'span') this.runSpan(f.id, route, f.buf, f.bodyStart, f.bodyEnd);
          else this.dispatch(f.id, route, f.buf.subarray(f.bodyStart, f.bodyEnd));
          return;
        }
      } else if (f.kind === K.CANCEL) {
        this.streams.get(f.id)?.cancel();
        return;
      }
    }
    this.onFrame(decodeLite(f));
  }

  private onEnd(): void {
    if (this.closing) return;
    try {
      this.decoder.end();
    } catch (e) {
      this.server.troubleLog.warn('closing connection: truncated frame', { remote: this.peer.remote, err: (e as Error).message });
    }
    this.closing = true;
    this.out.flush();
    this.socket.end();
  }

  private onFrame(frame: vxfab.v1.Frame): void {
    this.reads.keep(); // its body (and the bytes fields decoded from it) are views of the chunk
    if (this.closing) return;
    if (!this.helloDone) {
      this.onHello(frame);
      return;
    }
    switch (frame.kind) {
      case K.REQUEST:
        this.onRequest(frame);
        return;
      case K.CANCEL:
        this.streams.get(frame.id)?.cancel();
        return;
      default:
        this.fail(new VxfabError('PROTOCOL_ERROR', `unexpected ${K[frame.kind] ?? frame.kind} frame from a client`,
          { field: 'frame.kind', value: String(frame.kind) }), 0);
    }
  }

  private onHello(frame: vxfab.v1.Frame): void {
    if (frame.kind === K.REQUEST) {
      this.fail(new VxfabError('PROTOCOL_ERROR', `REQUEST ${frame.id} (${frame.method}) before HELLO`,
        { field: 'frame.kind', value: 'REQUEST' }), frame.id);
      return;
    }
    if (frame.kind !== K.HELLO || !frame.hello) {
      this.fail(new VxfabError('PROTOCOL_ERROR', `expected HELLO first, got ${K[frame.kind] ?? frame.kind}`,
        { field: 'frame.kind', value: String(frame.kind) }), 0);
      return;
    }
    const hello = frame.hello;
    const version = hello.protocolVersion ?? 0;
    if (version !== PROTOCOL_VERSION) {
      const e = new VxfabError('UNSUPPORTED_VERSION',
        `protocol version ${version} is not supported: server ${this.server.identity} speaks version ${PROTOCOL_VERSION}`,
        { field: 'hello.protocol_version', value: String(version) });
      this.log.warn({ version, identity: hello.identity }, 'closing connection: unsupported protocol version');
      this.out.write({ kind: K.HELLO, hello: this.ownHello(), error: toWireErrorOrInternal(e, 'hello') });
      this.closeSoon();
      return;
    }
    clearTimeout(this.helloTimer);
    this.helloDone = true;
    this.peer.role = hello.role ?? 0;
    this.peer.identity = hello.identity ?? '';
    this.out.write({ kind: K.HELLO, hello: this.ownHello() });
    this.log.debug({ role: this.peer.role, identity: this.peer.identity }, 'hello');
  }

  private ownHello(): vxfab.v1.Hello.$Properties {
    return { protocolVersion: PROTOCOL_VERSION, role: vxfab.v1.Role.ROLE_SERVER, identity: this.server.identity };
  }

  private onRequest(frame: vxfab.v1.Frame): void {
    const id = frame.id;
    const route = this.server.routes.get(frame.method);
    if (route === undefined) {
      this.replyError(id, new VxfabError('UNIMPLEMENTED', `unknown method ${JSON.stringify(frame.method)}`,
        { field: 'method', value: frame.method }));
      return;
    }
    this.dispatch(id, route, frame.body);
  }

  private dispatch(id: number, route: Route, body: Uint8Array): void {
    this.reads.keep(); // handlers may keep the body, or bytes fields decoded from it
    if (this.anonymous !== undefined && (route.kind === 'unary' || route.kind === 'stream') &&
      !this.admit(id, route, body, 0, body.length)) return;
    if (route.kind === 'raw') {
      this.runRaw(id, route, body);
      return;
    }
    if (route.kind === 'span') {
      this.runSpan(id, route, body, 0, body.length);
      return;
    }
    const desc = route.desc!;
    let req: unknown;
    try {
      req = desc.req.decode(body);
    } catch (e) {
      const bad = new VxfabError('INVALID_ARGUMENT',
        `request body of ${route.path} does not decode: ${(e as Error).message}`,
        { field: 'body', value: `${body.length} bytes`, cause: e });
      if (route.kind === 'stream') this.out.write({ kind: K.STREAM_END, id, error: toWireErrorOrInternal(bad, route.path) });
      else this.replyError(id, bad);
      return;
    }
    if (this.authorize !== undefined && !this.authorized(id, route, req)) return;
    if (route.kind === 'stream') this.runStream(id, route, req);
    else this.runUnary(id, route, req);
  }

  /** The access check every request passes before its handler: false when it was refused (and
   *  answered). For raw routes the request is decoded only when the principal needs it. */
  private admit(id: number, route: Route, buf: Uint8Array, start: number, end: number): boolean {
    if (this.anonymous !== undefined) {
      if (this.server.tls?.anonymousMethods.has(route.path)) return true; // no identity to authorize
      this.deny(id, route, new VxfabError('PERMISSION_DENIED',
        `${route.path} needs a client certificate of this fabric (${this.anonymous})`, { field: 'certificate', value: this.anonymous }));
      return false;
    }
    if (this.authorize === undefined || route.kind === 'unary' || route.kind === 'stream') return true; // checked once decoded
    let req: unknown;
    if (route.desc !== undefined && (this.authorize.needsRequest?.(this.peer, route.path) ?? true)) {
      try {
        req = route.desc.req.decode(buf.subarray(start, end));
      } catch (e) {
        this.deny(id, route, new VxfabError('INVALID_ARGUMENT', `request body of ${route.path} does not decode: ${(e as Error).message}`,
          { field: 'body', value: `${end - start} bytes`, cause: e }));
        return false;
      }
    }
    return this.authorized(id, route, req);
  }

  private authorized(id: number, route: Route, req: unknown): boolean {
    try {
      this.authorize!(this.peer, route.path, req);
      return true;
    } catch (e) {
      this.deny(id, route, e);
      return false;
    }
  }

  /** Answers a refused request: a stream's STREAM_END, any other method's REPLY. */
  private deny(id: number, route: Route, e: unknown): void {
    if (!(e instanceof VxfabError)) this.log.error({ err: e, method: route.path }, 'authorize failed');
    if (route.kind === 'stream') this.out.write({ kind: K.STREAM_END, id, error: toWireErrorOrInternal(e, route.path) });
    else this.replyError(id, e, route.path);
  }

  private runUnary(id: number, route: Route, req: unknown): void {
    let result: unknown;
    try {
      result = (route.fn as UnaryFn)(req, this.ctx);
    } catch (e) {
      this.replyError(id, e, route.path);
      return;
    }
    if (isThenable(result)) {
      this.callStarted();
      result.then((res) => {
        this.callEnded();
        this.replyOk(id, route, res);
      }, (e: unknown) => {
        this.callEnded();
        this.replyError(id, e, route.path);
      });
    } else {
      this.replyOk(id, route, result);
    }
  }

  private runRaw(id: number, route: Route, body: Uint8Array): void {
    if (this.guarded && !this.admit(id, route, body, 0, body.length)) return;
    let result: unknown;
    try {
      result = (route.fn as RawFn)(body, this.ctx);
    } catch (e) {
      this.replyError(id, e, route.path);
      return;
    }
    this.rawResult(id, route, result);
  }

  private runSpan(id: number, route: Route, buf: Uint8Array, start: number, end: number): void {
    if (this.guarded && !this.admit(id, route, buf, start, end)) return;
    let result: unknown;
    try {
      result = (route.fn as SpanFn)(buf, start, end, this.ctx);
    } catch (e) {
      this.replyError(id, e, route.path);
      return;
    }
    this.rawResult(id, route, result);
  }

  private rawResult(id: number, route: Route, result: unknown): void {
    if (isThenable(result)) {
      this.reads.keep(); // a handler answering later may still read the request's bytes
      this.callStarted();
      result.then((res) => {
        this.callEnded();
        this.replyBody(id, res as Uint8Array);
      }, (e: unknown) => {
        this.callEnded();
        this.replyError(id, e, route.path);
      });
    } else {
      this.replyBody(id, result as Uint8Array);
    }
  }

  private replyOk(id: number, route: Route, res: unknown): void {
    if (this.socket.destroyed) return;
    try {
      this.out.writeMessage(K.REPLY, id, '', route.desc!.res, (res ?? {}) as object);
    } catch (e) {
      this.replyError(id, e, route.path);
    }
  }

  private replyBody(id: number, body: Uint8Array): void {
    if (this.socket.destroyed) return;
    this.out.writeBody(K.REPLY, id, '', body);
  }

  /** Answers a request with an error. `path` is set when the error came from a handler, so that
   *  unexpected (non-VxfabError) failures are logged with the method they happened in. */
  replyError(id: number, e: unknown, path?: string): void {
    if (path !== undefined && !(e instanceof VxfabError)) this.log.error({ err: e, method: path }, 'handler failed');
    if (this.socket.destroyed) return;
    this.out.write({ kind: K.REPLY, id, error: toWireErrorOrInternal(e, path ?? 'request') });
  }

  private runStream(id: number, route: Route, req: unknown): void {
    if (this.streams.has(id)) {
      this.out.write({ kind: K.STREAM_END, id, error: { code: CODE.INVALID_ARGUMENT,
        message: `request id ${id} is already in use by an open stream`, field: 'id', value: String(id) } });
      return;
    }
    const stream = new ServerStream(this, id, route.desc!, route.path);
    this.streams.set(id, stream);
    if (this.asyncCalls + this.streams.size >= this.server.limits.maxCallsInFlight) this.stopReading(STOP_CALLS);
    let result: unknown;
    try {
      result = (route.fn as StreamFn)(req, stream);
    } catch (e) {
      stream.finish(e);
      return;
    }
    if (isThenable(result)) result.then(() => stream.finish(undefined), (e: unknown) => stream.finish(e));
    else stream.finish(undefined);
  }

  // --- used by ServerStream ---

  write(frame: vxfab.v1.Frame.$Properties): void {
    if (!this.socket.destroyed) this.out.write(frame);
  }

  writeMessage(kind: vxfab.v1.FrameKind, id: number, encoder: BodyEncoder, message: object): void {
    if (!this.socket.destroyed) this.out.writeMessage(kind, id, '', encoder, message);
  }

  writeEncoded(kind: vxfab.v1.FrameKind, id: number, body: Uint8Array): void {
    if (!this.socket.destroyed) this.out.writeBody(kind, id, '', body);
  }

  forget(id: number): void {
    if (this.streams.delete(id)) this.checkCalls();
  }

  get overHighWater(): boolean {
    return this.socket.writableLength + this.out.buffered > HIGH_WATER_BYTES;
  }

  waitDrain(): Promise<void> {
    if (!this.overHighWater || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  logError(e: unknown, path: string): void {
    this.log.error({ err: e, method: path }, 'stream handler failed');
  }

  // --- closing ---

  private onDrain(): void {
    if ((this.stopped & STOP_OUTPUT) !== 0 && this.unsent <= this.server.limits.maxOutputBytes / 2) this.resumeReading(STOP_OUTPUT);
    if (this.overHighWater) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private onClose(): void {
    this.closing = true;
    clearTimeout(this.helloTimer);
    clearTimeout(this.expiryTimer);
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const s of streams) s.close();
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
    this.log.debug('closed');
  }

  /** Closes the connection for a protocol violation: one log line, one error frame (on request
   *  `id`, or id 0 for the connection as a whole), then the connection is ended. */
  private fail(e: unknown, id: number): void {
    if (this.closing) return;
    const err = e instanceof VxfabError ? e : new VxfabError('PROTOCOL_ERROR', String(e));
    // Through the server's limiter: a peer reconnecting to send garbage must not flood the log.
    this.server.troubleLog.warn('closing connection: protocol error', { remote: this.peer.remote, err: err.message,
      identity: this.peer.identity || undefined });
    this.out.write({ kind: K.REPLY, id, error: toWireErrorOrInternal(err, 'connection') });
    this.closeSoon();
  }

  /** Tells the peer why on id 0, then ends the connection. */
  private endWith(err: VxfabError): void {
    this.out.write({ kind: K.REPLY, id: 0, error: toWireErrorOrInternal(err, 'connection') });
    this.closeSoon();
  }

  private closeSoon(): void {
    this.closing = true;
    this.out.flush();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }

  /** Ends the connection for a server shutdown and resolves once it is closed. */
  shutdown(): Promise<void> {
    if (!this.socket.destroyed) {
      this.closing = true;
      this.out.flush();
      this.socket.end();
      setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
    }
    return this.closedPromise;
  }
}

/** One server-streaming call: the StreamContext its handler sees. */
class ServerStream implements StreamContext {
  private listeners: (() => void)[] | undefined;
  private done = false;
  closed = false;

  constructor(private readonly conn: ServerConnection, private readonly id: number,
    private readonly desc: MethodDesc<unknown, unknown>, private readonly path: string) {}

  get peer(): PeerInfo {
    return this.conn.peer;
  }

  send(item: object): boolean {
    if (this.closed) return false;
    this.conn.writeMessage(K.STREAM_ITEM, this.id, this.desc.res, item);
    return !this.conn.overHighWater;
  }

  sendEncoded(body: Uint8Array): boolean {
    if (this.closed) return false;
    this.conn.writeEncoded(K.STREAM_ITEM, this.id, body);
    return !this.conn.overHighWater;
  }

  drained(): Promise<void> {
    return this.closed ? Promise.resolve() : this.conn.waitDrain();
  }

  onClose(listener: () => void): void {
    if (this.closed) queueMicrotask(listener);
    else (this.listeners ??= []).push(listener);
  }

  /** The handler ended: resolving (e undefined) or failing. Sends STREAM_END unless the stream was
   *  already cancelled or its connection closed. */
  finish(e: unknown): void {
    if (this.done) return;
    this.done = true;
    this.conn.forget(this.id);
    if (this.closed) return;
    this.closed = true;
    this.listeners = undefined;
    if (e === undefined) {
      this.conn.write({ kind: K.STREAM_END, id: this.id });
    } else {
      if (!(e instanceof VxfabError)) this.conn.logError(e, this.path);
      this.conn.write({ kind: K.STREAM_END, id: this.id, error: toWireErrorOrInternal(e, this.path) });
    }
  }

  /** The client sent CANCEL: end the stream now (one STREAM_END) and tell the handler. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.conn.forget(this.id);
    this.conn.write({ kind: K.STREAM_END, id: this.id });
    this.close();
  }

  /** The client is gone (cancel or connection closed): tell the handler's listeners, once. */
  close(): void {
    this.done = true;
    if (this.closed) return;
    this.closed = true;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) {
      for (const l of listeners) {
        try {
          l();
        } catch (e) {
          this.conn.logError(e, this.path);
        }
      }
    }
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}
