// The revisioned change feed over the wire, for lookup replicas.
//
// Snapshot: every stored object as of one revision, in pages. Watch: every committed batch after a
// revision, first from the store's change log, then live as batches commit. Changes are whole-key
// puts and deletes, so applying one twice is harmless; that is what lets a replica take a
// snapshot while writes go on and then watch from the snapshot's revision without a gap.
import { Controller as Methods } from '../wire/gen/services.js';
import type { StreamContext } from '../wire/rpc.js';
import type { RpcServer } from '../wire/transport/server.js';
import type { Change, Store } from '../store/store.js';
import { VxfabError } from '../model/errors.js';
import { vxfab } from '../wire/gen/proto.js';

const SNAPSHOT_PAGE = 1000;
const CATCH_UP_PAGE = 1000;
/** Live batches a slow watcher may have queued before it is told to resync. */
export const WATCH_QUEUE_LIMIT = 10_000;

type KeyChange = vxfab.v1.IKeyChange;

export function toKeyChanges(change: Change): KeyChange[] {
  return change.ops.map((op) => (op.type === 'put'
    ? { key: op.key, value: op.value }
    : { key: op.key, deleted: true }));
}

async function snapshot(store: Store, ctx: StreamContext): Promise<void> {
  const revision = store.revision;
  let page: KeyChange[] = [];
  for await (const [key, value] of store.scan('')) {
    if (ctx.closed) return;
    page.push({ key, value });
    if (page.length >= SNAPSHOT_PAGE) {
      if (!ctx.send({ revision, changes: page, last: false })) await ctx.drained();
      page = [];
    }
  }
  ctx.send({ revision, changes: page, last: true });
}

async function watch(store: Store, after: number, ctx: StreamContext): Promise<void> {
  // Listen first and buffer, then catch up from the log: nothing committed in between is lost.
  let live: Change[] | undefined = [];
  let overflow = false;
  let sent = after;
  let wake: (() => void) | undefined;
  const unsubscribe = store.onCommit((change) => {
    if (!live) return;
    if (live.length >= WATCH_QUEUE_LIMIT) { overflow = true; live = undefined; }
    else live.push(change);
    wake?.();
  });
  ctx.onClose(() => { unsubscribe(); wake?.(); });
  try {
    for (;;) {
      const res = await store.changes(sent, CATCH_UP_PAGE);
      if (res.compacted) {
        throw new VxfabError('COMPACTED', `revision ${after} is compacted away (oldest kept: ${res.oldest}): take a snapshot`,
          { field: 'after_revision', value: String(after) });
      }
      for (const ch of res.changes) {
        if (ctx.closed) return;
        if (!ctx.send({ revision: ch.revision, changes: toKeyChanges(ch) })) await ctx.drained();
        sent = ch.revision;
      }
      if (res.changes.length < CATCH_UP_PAGE) break;
    }
    while (!ctx.closed) {
      if (overflow || !live) {
        throw new VxfabError('RESYNC', `watcher fell more than ${WATCH_QUEUE_LIMIT} batches behind: take a snapshot`);
      }
      const batch = live;
      live = [];
      for (const ch of batch) {
        if (ch.revision <= sent) continue;
        if (!ctx.send({ revision: ch.revision, changes: toKeyChanges(ch) })) await ctx.drained();
        sent = ch.revision;
      }
      if (live && live.length === 0 && !overflow && !ctx.closed) await new Promise<void>((r) => { wake = r; });
      wake = undefined;
    }
  } finally {
    unsubscribe();
  }
}

export function registerFeed(server: RpcServer, store: Store): void {
  server.handleStream(Methods.Snapshot, (_req, ctx) => snapshot(store, ctx));
  server.handleStream(Methods.Watch, (req, ctx) => watch(store, Number(req.afterRevision), ctx));
}
