// The lookup service inside `vxfab serve`: the index is loaded from the store it shares with the
// controller (a scan of the node and NIC keys), then kept current from the store's commit
// listener, which runs synchronously after each committed batch, in revision order. So a change
// is in the index and on its way to subscribers as soon as the controller's write is durable,
// and lookups never read the store.
import { pino, type Logger } from 'pino';
import { NIC_PREFIX, NODE_PREFIX } from '../model/keys.js';
import type { Change, Store } from '../store/store.js';
import { keyChangesOf } from './feed.js';
import { LookupIndex } from './index.js';
import type { LookupSource } from './service.js';
import { SubscriptionHub, type SubscriptionHubOptions } from './subscriptions.js';
import type { KeyChangeLike } from './types.js';

/** Key-value pairs per index page while loading (bounds the memory of one page). */
const LOAD_PAGE = 4096;

export interface LocalLookupOptions {
  /** History and queue bounds of the subscription hub (revision is set here). */
  hub?: Omit<SubscriptionHubOptions, 'revision' | 'log'>;
  logger?: Logger;
}

export interface LocalLookup extends LookupSource {
  /** Stops following the store. */
  close(): void;
}

/** Loads the index from `store` and follows its commits. Resolves once the index is complete. */
export async function startLocalLookup(store: Store, options: LocalLookupOptions = {}): Promise<LocalLookup> {
  const log = (options.logger ?? pino({ level: 'silent' })).child({ module: 'lookup-local' });
  const index = new LookupIndex({ log });
  // Listen before scanning: a batch committed while the scan runs is buffered and applied after
  // it. Changes are whole-key puts and deletes, so a batch the scan already saw applies again
  // harmlessly.
  let buffered: Change[] | undefined = [];
  let hub: SubscriptionHub | undefined;
  const follow = (change: Change): void => {
    const events = index.apply(change.revision, keyChangesOf(change.ops));
    hub!.publish(change.revision, events);
  };
  const unsubscribe = store.onCommit((change) => {
    if (buffered) buffered.push(change);
    else follow(change);
  });
  const started = Date.now();
  const revision = store.revision;
  try {
    for (const prefix of [NODE_PREFIX, NIC_PREFIX]) {
      let page: KeyChangeLike[] = [];
      for await (const [key, value] of store.scan(prefix)) {
        page.push({ key, value });
        if (page.length === LOAD_PAGE) {
          index.loadSnapshotPage(page);
          page = [];
        }
      }
      index.loadSnapshotPage(page);
    }
  } catch (e) {
    unsubscribe();
    throw e;
  }
  index.setRevision(revision);
  hub = new SubscriptionHub({ ...options.hub, revision, log });
  const late = buffered;
  buffered = undefined;
  for (const change of late) if (change.revision > revision) follow(change);
  log.info({ revision: index.revision, mappings: index.mappings, ms: Date.now() - started }, 'lookup index loaded');
  return {
    index,
    hub,
    source: 'local',
    close: unsubscribe,
  };
}
