// The revisioned change feed over the wire, for lookup replicas.
//
// Snapshot: every stored object as of one revision, in pages. Watch: every committed batch after a
// revision, first from the store's change log, then live as batches commit. Changes are whole-key
// puts and deletes, so applying one twice is harmless; that is what lets a replica take a
// snapshot while writes go on and then watch from the snapshot's revision without a gap.
//
// Every page is bounded by encoded size (STREAM_PAGE_BYTES) as well as by count, so objects with
// many addresses never make a frame over the limit. A committed batch bigger than one page is sent
// as several ChangeBatch parts: every part but the final one carries revision R − 1 (the revision
// before the batch's own), the final part carries R. A receiver whose index is at R − 1 applies
// the earlier parts as a continuation of the revision it has (LookupIndex.apply: whole-key puts and
// deletes, so applying them early or twice is harmless) and publishes the batch's events only with
// the final part; a watcher that loses the stream mid-batch is still at R − 1, resumes with
// after = R − 1, and gets the whole batch again. No wire field changed: an unsplit batch is sent
// exactly as before.
import { Controller as Methods } from '../wire/gen/services.js';
import type { StreamContext } from '../wire/rpc.js';
import type { RpcServer } from '../wire/transport/server.js';
import type { Change, Store } from '../store/store.js';
import { VxfabError } from '../model/errors.js';
import { vxfab } from '../wire/gen/proto.js';
import { checkFitsFrame, encodedSizeBound, STREAM_PAGE_BYTES } from '../model/limits.js';
import { isControllerOnlyKey } from '../model/keys.js';

const SNAPSHOT_PAGE = 1000;
const CATCH_UP_PAGE = 1000;
/** Live batches a slow watcher may have queued before it is told to resync. */
export const WATCH_QUEUE_LIMIT = 10_000;

type KeyChange = vxfab.v1.IKeyChange;

/** A batch's changes as the feed sends them: without the keys that stay on the controller (token
 *  hashes, the issued-certificate list). A batch of only those still goes out, empty, so that a
 *  replica's revision keeps step with the store's. */
export function toKeyChanges(change: Change): KeyChange[] {
  const out: KeyChange[] = [];
  for (const op of change.ops) {
    if (isControllerOnlyKey(op.key)) continue;
    out.push(op.type === 'put' ? { key: op.key, value: op.value } : { key: op.key, deleted: true });
  }
  return out;
}

/** encodedSizeBound of a KeyChange, without walking it. */
function changeBytes(c: KeyChange): number {
  return encodedSizeBound({ key: c.key, value: c.value ?? undefined, deleted: c.deleted ?? undefined });
}

/** The changes cut into parts of at most STREAM_PAGE_BYTES (and `maxItems`); a change that alone
 *  is bigger has a part of its own, one too big for any frame throws RESOURCE_EXHAUSTED. */
export function splitChanges(changes: KeyChange[], maxItems = Infinity): KeyChange[][] {
  const parts: KeyChange[][] = [];
  let part: KeyChange[] = [];
  let bytes = 0;
  for (const c of changes) {
    const n = changeBytes(c);
    checkFitsFrame(n, () => `key ${c.key}`);
    if (part.length > 0 && (part.length >= maxItems || bytes + n > STREAM_PAGE_BYTES)) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(c);
    bytes += n;
  }
  parts.push(part);
  return parts;
}

async function snapshot(store: Store, ctx: StreamContext): Promise<void> {
  const revision = store.revision;
  let page: KeyChange[] = [];
  let bytes = 0;
  for await (const [key, value] of store.scan('')) {
    if (ctx.closed) return;
    if (isControllerOnlyKey(key)) continue;
    const change = { key, value };
    const n = changeBytes(change);
    checkFitsFrame(n, () => `key ${key}`);
    if (page.length > 0 && (page.length >= SNAPSHOT_PAGE || bytes + n > STREAM_PAGE_BYTES)) {
      if (!ctx.send({ revision, changes: page, last: false })) await ctx.drained();
      page = [];
      bytes = 0;
    }
    page.push(change);
    bytes += n;
  }
  ctx.send({ revision, changes: page, last: true });
}

/** Sends one committed batch, in parts when it is bigger than a page (see the header). */
async function sendBatch(ctx: StreamContext, change: Change): Promise<void> {
  const parts = splitChanges(toKeyChanges(change));
  for (let i = 0; i < parts.length; i++) {
    if (ctx.closed) return;
    const revision = i === parts.length - 1 ? change.revision : change.revision - 1;
    if (!ctx.send({ revision, changes: parts[i] })) await ctx.drained();
  }
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
        await sendBatch(ctx, ch);
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
        await sendBatch(ctx, ch);
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
