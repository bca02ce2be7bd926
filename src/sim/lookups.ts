// The lookup replicas of a simulated fabric. The first ("lookup-1") answers from the controller's
// store in process, as `vxfab serve` does; the others are real replicas following the controller's
// change feed over the wire. Each is served on its own port so that it can be stopped and started
// (on the same port) without touching the controller.
import type { Logger } from 'pino';
import { startLocalLookup, type LocalLookup } from '../lookup/local-feed.js';
import { LookupReplica } from '../lookup/replica.js';
import { registerLookup, type LookupSource } from '../lookup/service.js';
import type { Store } from '../store/store.js';
import { RpcServer } from '../wire/transport/server.js';
import type { LookupIndex } from '../lookup/index.js';
import { indexFacts } from '../lookup/policy-facts.js';
import { authorizer } from '../security/policy.js';
import type { SimPki } from './sim-pki.js';

export class SimLookup {
  private server: RpcServer | undefined;
  private source: LookupSource | undefined;
  private local: LocalLookup | undefined;
  port = 0;

  /** Where a replica follows the controller (set once the controller listens). */
  controllerAddress = '';

  constructor(readonly name: string, private readonly primary: boolean, private readonly store: Store,
    private readonly pki: SimPki, private readonly log: Logger) {}

  /** The index this server answers from (the primary's as soon as the run starts). */
  get index(): LookupIndex {
    return (this.source ?? this.local)!.index;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<void> {
    if (this.server) return;
    if (this.primary) {
      this.local ??= await startLocalLookup(this.store, { logger: this.log });
      this.source = this.local;
    } else {
      // A restarted replica process starts empty and loads a fresh snapshot.
      const replica = new LookupReplica({ controller: this.controllerAddress, identity: this.name, logger: this.log, reconnect: { minMs: 50, maxMs: 500 },
        tls: await this.pki.client({ kind: 'replica', name: this.name }) });
      await replica.start();
      this.source = replica;
    }
    // Mutual TLS and the policy over this server's own index, as vxfab serve and lookup serve do:
    // an agent asks only about the networks it carries.
    const source = this.source;
    const server = new RpcServer({
      identity: this.name, logger: this.log,
      tls: { credentials: await this.pki.credentials(this.primary ? { kind: 'server', name: this.name } : { kind: 'replica', name: this.name }) },
      authorize: authorizer(indexFacts(source), this.log),
    });
    registerLookup(server, this.source, { logger: this.log });
    this.port = (await server.listen('127.0.0.1', this.port)).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
    if (!this.primary && this.source instanceof LookupReplica) await this.source.close();
  }

  async close(): Promise<void> {
    await this.stop();
    this.local?.close();
    this.local = undefined;
  }
}
