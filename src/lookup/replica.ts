// A lookup replica: an index fed over the wire from the controller's change feed.
//
//   Snapshot (paged) → a fresh index, swapped in whole → Watch(after = its revision) → apply each
//   batch and publish its events → …
//
// When the connection is lost the replica keeps answering from the last good state, the client
// redials with its jittered backoff, and Watch resumes after the last applied revision: batches
// carry their revision, the index ignores one it already has, so nothing is lost or applied
// twice. When the controller says COMPACTED (the revision is gone from its log) or RESYNC (we fell
// behind), the replica loads a new snapshot beside the old index, swaps it in, and resets the
// hub: subscribers get RESYNC and re-run Bulk, since the events in between are unknown.
import { pino, type Logger } from 'pino';
import { isVxfabError, VxfabError } from '../model/errors.js';
import { vxfab } from '../wire/gen/proto.js';
import { Controller } from '../wire/gen/services.js';
import { RpcClient, type StreamCall } from '../wire/transport/client.js';
import type { BackoffOptions } from '../wire/transport/backoff.js';
import { LookupIndex } from './index.js';
import type { LookupSource } from './service.js';
import { SubscriptionHub, type SubscriptionHubOptions } from './subscriptions.js';
import type { ClientTlsOptions } from '../wire/transport/tls.js';

const WATCH_RETRY_MS = 100;

export interface LookupReplicaOptions {
  /** The controller (or `vxfab serve`), "host:port". */
  controller: string;
  /** Who this replica is, in its hello. Default "lookup-replica". */
  identity?: string;
  hub?: Omit<SubscriptionHubOptions, 'revision' | 'log'>;
  /** Redial backoff (default the client's: 100 ms … 10 s, jittered). */
  reconnect?: BackoffOptions;
  logger?: Logger;
  /** Mutual TLS to the controller (the replica's certificate); without it, plain TCP. */
  tls?: ClientTlsOptions;
}

export type ReplicaState = 'loading' | 'following' | 'disconnected' | 'closed';

export class LookupReplica implements LookupSource {
  index: LookupIndex;
  readonly hub: SubscriptionHub;
  readonly source: string;
  private readonly client: RpcClient;
  private readonly log: Logger;
  private state: ReplicaState = 'loading';
  private running: Promise<void> | undefined;
  private cancelWatch: (() => void) | undefined;
  private firstLoad: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  /** Snapshots loaded (1 after start; more after COMPACTED / RESYNC). */
  snapshots = 0;

  constructor(private readonly options: LookupReplicaOptions) {
    this.log = (options.logger ?? pino({ level: 'silent' })).child({ module: 'lookup-replica', controller: options.controller });
    this.index = new LookupIndex({ log: this.log });
    this.hub = new SubscriptionHub({ ...options.hub, log: this.log });
    this.source = `replica of ${options.controller}`;
    this.client = new RpcClient({
      address: options.controller, role: vxfab.v1.Role.ROLE_LOOKUP_REPLICA, identity: options.identity ?? 'lookup-replica',
      reconnect: options.reconnect ?? {}, logger: this.log, ...(options.tls ? { tls: options.tls } : {}),
    });
  }

  get status(): ReplicaState {
    return this.state;
  }

  private get closed(): boolean {
    return this.state === 'closed';
  }

  /** Starts following the controller; resolves once the first snapshot is loaded (the replica can
   *  answer). Keeps retrying while the controller is unreachable. */
  start(): Promise<void> {
    if (this.running) throw new VxfabError('CONFLICT', 'replica already started');
    const loaded = new Promise<void>((resolve, reject) => { this.firstLoad = { resolve, reject }; });
    this.running = this.run();
    return loaded;
  }

  /** Stops following; the index keeps its last state. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.cancelWatch?.();
    this.firstLoad?.reject(new VxfabError('UNAVAILABLE', 'replica closed before its first snapshot'));
    await this.client.close();
    await this.running;
  }

  private async run(): Promise<void> {
    let needSnapshot = true;
    while (!this.closed) {
      try {
        if (needSnapshot) {
          this.state = 'loading';
          await this.loadSnapshot();
          needSnapshot = false;
        }
        this.state = 'following';
        await this.watch();
        // Watch only ends without an error when the server stops it: pause before asking again.
        await new Promise((r) => setTimeout(r, WATCH_RETRY_MS));
      } catch (e) {
        if (this.closed) return;
        if (isVxfabError(e, 'COMPACTED') || isVxfabError(e, 'RESYNC')) {
          this.log.warn({ err: e.message, revision: this.index.revision }, 'change feed lost our place: taking a new snapshot');
          needSnapshot = true;
          continue;
        }
        // Lost connection, timeouts: keep serving the last good state, wait for the client's
        // redial (it backs off with jitter), then resume where we were.
        this.state = 'disconnected';
        this.log.info({ err: (e as Error).message, revision: this.index.revision }, 'change feed interrupted; serving last state');
        await this.client.connect().catch(() => undefined);
      }
    }
  }

  /** Loads a full snapshot into a new index and swaps it in when complete. */
  private async loadSnapshot(): Promise<void> {
    const next = new LookupIndex({ log: this.log });
    let revision = -1;
    let last = false;
    const started = Date.now();
    await this.consume(this.client.stream(Controller.Snapshot, {}, (page) => {
      revision = Number(page.revision);
      next.loadSnapshotPage(page.changes as vxfab.v1.KeyChange[]);
      if (page.last) last = true;
    }));
    if (!last) throw new VxfabError('UNAVAILABLE', 'snapshot ended without its last page');
    next.setRevision(revision);
    const first = this.snapshots === 0;
    this.index = next;
    this.snapshots++;
    // After a reload the events between the old and the new state are unknown: subscribers resync.
    this.hub.reset(revision);
    this.log.info({ revision, mappings: next.mappings, ms: Date.now() - started }, 'snapshot loaded');
    if (first) {
      this.firstLoad?.resolve();
      this.firstLoad = undefined;
    }
  }

  /** Follows Watch from the index's revision until the stream ends or fails. */
  private watch(): Promise<void> {
    return this.consume(this.client.stream(Controller.Watch, { afterRevision: this.index.revision }, (batch) => {
      const revision = Number(batch.revision);
      const events = this.index.apply(revision, batch.changes as vxfab.v1.KeyChange[]);
      this.hub.publish(revision, events);
    }));
  }

  /** Waits for a stream to end; close() cancels it meanwhile. */
  private async consume(call: StreamCall): Promise<void> {
    if (this.closed) {
      call.cancel();
      return;
    }
    this.cancelWatch = call.cancel;
    try {
      await call.done;
    } finally {
      this.cancelWatch = undefined;
    }
  }
}
