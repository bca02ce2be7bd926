// The shapes the transport and its users agree on. Method descriptors come from the generated
// service tables (src/wire/gen/services.ts): `Lookup.Vl2`, `Controller.CreateNic`, …
import type { Identity } from '../model/identity.js';

/** A generated protobufjs message class, as far as the transport needs it. */
export interface MessageClass<T> {
  encode(message: T, writer?: import('protobufjs/minimal.js').Writer): import('protobufjs/minimal.js').Writer;
  decode(reader: Uint8Array | import('protobufjs/minimal.js').Reader, length?: number): T;
  create(properties?: object): T;
}

export interface MethodDesc<Req, Res, S extends boolean = boolean> {
  readonly path: string;
  readonly req: MessageClass<Req> & (new (p?: object) => Req);
  readonly res: MessageClass<Res> & (new (p?: object) => Res);
  readonly stream: S;
  /** The reply (or stream item) has bytes fields, here or in messages it holds: they decode as
   *  views of the received bytes, so the client keeps those bytes (see slab-reads.ts). */
  readonly resBytes?: boolean;
}

// Inferred from decode's return type: inferring through MethodDesc would pick up encode's looser
// parameter type (the generated $Properties, every field optional) instead of the message class.
/** Request type of a method descriptor: the decoded message a handler receives. */
export type ReqOf<M> = M extends { req: { decode(...args: never[]): infer Req } } ? Req : never;
/** Reply (or stream item) type of a method descriptor: the decoded message a caller receives. */
export type ResOf<M> = M extends { res: { decode(...args: never[]): infer Res } } ? Res : never;
/** What a caller may pass as a request: the plain properties object. */
export type ReqInit<M> = M extends { req: { create(p?: infer P): unknown } } ? P : never;

export interface PeerInfo {
  /** What the peer said it is in its hello (vxfab.v1.Role): informative, not authenticated. */
  role: number;
  /** The name the peer gave in its hello: informative, not authenticated. */
  identity: string;
  remote: string;
  /** Who the peer proved to be: its verified client certificate's identity (TLS), the
   *  administrator on an insecure (plain TCP) server, undefined for a TLS client without a valid
   *  certificate (it reaches only the server's anonymous methods). */
  principal?: Identity;
  /** The serial of the peer's verified certificate (lowercase hex, pki.normalizeSerial). */
  serial?: string;
}

export interface CallContext {
  peer: PeerInfo;
}

export interface StreamContext extends CallContext {
  /** Queues one stream item. Returns false when the connection's write buffer is over its
   *  high-water mark: the handler should wait for `drained()` before sending more. */
  send(item: object): boolean;
  /** Like send, with the item already encoded (the method's reply message, protobuf bytes): for
   *  an item sent unchanged on many streams (one change fanned out to every subscriber), encoded
   *  once instead of once per stream. The bytes are copied into the connection's output, so the
   *  caller may reuse them. */
  sendEncoded(body: Uint8Array): boolean;
  drained(): Promise<void>;
  /** True once the client cancelled or the connection closed; the handler should return. */
  readonly closed: boolean;
  /** Called once when the client cancels or the connection closes. */
  onClose(listener: () => void): void;
}
