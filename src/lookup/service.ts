// `service Lookup` on the wire: VL2 / VL3 / Bulk / Flood answered from the in-memory index, the
// Subscribe change stream from the subscription hub, and Status.
//
// VL2 is the hot path and is registered raw (handleRawSpan): the request bytes are read in place
// (vl2-request.ts) and the reply is the index's cached encoding of the node's Vl2Reply, so a
// found lookup allocates nothing here. Everything else goes through the ordinary decode/encode.
//
// Nothing here touches the disk or waits for a write: the index is changed only by whole batches
// applied synchronously between lookups (local-feed.ts, replica.ts).
import { pino, type Logger } from 'pino';
import { invalid, VxfabError } from '../model/errors.js';
import { encodedSizeBound, pagesBySize } from '../model/limits.js';
import { vxfab } from '../wire/gen/proto.js';
import { Lookup } from '../wire/gen/services.js';
import type { StreamContext } from '../wire/rpc.js';
import type { RpcServer } from '../wire/transport/server.js';
import { formatMac } from './addr.js';
import { DEFAULT_BULK_PAGE } from './bulk-cursor.js';
import type { LookupIndex } from './index.js';
import type { EventSink, Subscription, SubscriptionHub } from './subscriptions.js';
import type { LookupEventLike } from './types.js';
import { readVl2Request, vl2Parsed } from './vl2-request.js';

/** Most endpoints per Bulk page; a page also stops at STREAM_PAGE_BYTES of encoded endpoints, so
 *  endpoints with many addresses still make frames far below the frame limit. */
export const MAX_BULK_PAGE = 4096;

/** What the service answers from. A replica swaps `index` when it reloads from a snapshot, so the
 *  handlers read it on every call instead of keeping a reference. */
export interface LookupSource {
  readonly index: LookupIndex;
  readonly hub: SubscriptionHub;
  /** For Status: "local" (in `vxfab serve`) or "replica of ADDR". */
  readonly source: string;
}

export interface LookupServiceOptions {
  logger?: Logger;
}

function notFoundVl2(vnid: number, mac: string): VxfabError {
  return new VxfabError('NOT_FOUND', `no endpoint with mac ${mac} on vnid ${vnid}`, { field: 'mac', value: mac });
}

/** Registers every method of `service Lookup` on `server`. */
export function registerLookup(server: RpcServer, src: LookupSource, options: LookupServiceOptions = {}): void {
  const log = (options.logger ?? pino({ level: 'silent' })).child({ module: 'lookup-service' });

  server.handleRawSpan(Lookup.Vl2, (buf, start, end) => {
    const index = src.index;
    if (readVl2Request(buf, start, end)) {
      const node = index.vl2NodeParsed(vl2Parsed.vnid, vl2Parsed.hi, vl2Parsed.lo);
      if (node >= 0) return index.vl2ReplyBytes(node);
      throw notFoundVl2(vl2Parsed.vnid, formatMac(vl2Parsed.hi, vl2Parsed.lo));
    }
    // The general path: unusual encodings, and every bad request (it throws the typed error).
    const body = buf.subarray(start, end);
    let req: vxfab.v1.Vl2Request;
    try {
      req = vxfab.v1.Vl2Request.decode(body);
    } catch (e) {
      throw new VxfabError('INVALID_ARGUMENT', `Vl2Request does not decode: ${(e as Error).message}`,
        { field: 'body', value: `${body.length} bytes`, cause: e });
    }
    const node = index.vl2Node(req.vnid, req.mac);
    if (node < 0) throw notFoundVl2(req.vnid, req.mac.toLowerCase());
    return index.vl2ReplyBytes(node);
  });

  server.handle(Lookup.Vl3, (req) => {
    const answer = src.index.vl3(req.vnid, req.ip);
    if (answer === undefined) {
      throw new VxfabError('NOT_FOUND', `no endpoint with ip ${req.ip} on vnid ${req.vnid}`, { field: 'ip', value: req.ip });
    }
    return answer;
  });

  server.handleStream(Lookup.Bulk, async (req, ctx) => {
    const cursor = src.index.bulk(req.vnid);
    const size = req.pageSize === 0 ? DEFAULT_BULK_PAGE : Math.min(req.pageSize, MAX_BULK_PAGE);
    let sent = false;
    for (const endpoints of pagesBySize(cursor, size, encodedSizeBound, (ep) => `NIC ${ep.nicId}`)) {
      if (ctx.closed) return;
      sent = true;
      if (!ctx.send({ revision: cursor.revision, endpoints })) await ctx.drained();
    }
    // At least one page, so that a client learns the revision even for an empty vnid.
    if (!sent) ctx.send({ revision: cursor.revision, endpoints: [] });
  });

  server.handle(Lookup.Flood, (req) => {
    const index = src.index;
    return { revision: index.revision, members: index.flood(req.vnid) };
  });

  server.handleStream(Lookup.Subscribe, (req, ctx) => subscribe(src.hub, req, ctx, log));

  server.handle(Lookup.Status, () => ({
    revision: src.index.revision, mappings: src.index.mappings, subscribers: src.hub.size, source: src.source,
  }));
}

/** Each event's encoding, made by the first subscriber it is sent to and reused by the others:
 *  the hub hands the same event object to every subscriber of its vnid, so one change fanned out
 *  to a thousand streams is encoded once. Entries go with their events. */
const encodedEvents = new WeakMap<LookupEventLike, Uint8Array>();

function encodeEvent(event: LookupEventLike): Uint8Array {
  let bytes = encodedEvents.get(event);
  if (bytes === undefined) {
    bytes = vxfab.v1.LookupEvent.encode(event).finish();
    encodedEvents.set(event, bytes);
  }
  return bytes;
}

/**
 * One Subscribe stream: a hub subscription whose sink is the stream. Backpressure: when the
 * connection's output is over its high-water mark, the hub queues this subscriber's events (up to
 * its limit, then RESYNC) until the socket drains. The stream ends with the hub's typed error
 * (RESYNC), with COMPACTED when from_revision is gone, or quietly when the client cancels or goes.
 */
function subscribe(hub: SubscriptionHub, req: vxfab.v1.SubscribeRequest, ctx: StreamContext, log: Logger): Promise<void> {
  if (req.vnids.length === 0) throw invalid('vnids', '', 'name at least one vnid to subscribe to');
  return new Promise<void>((resolve, reject) => {
    let sub: Subscription | undefined;
    let waiting = false;
    const resumeOnDrain = (): void => {
      waiting = false;
      if (!ctx.closed) sub?.resume();
    };
    const sink: EventSink = {
      push(event) {
        if (ctx.closed) return true; // the close listener unsubscribes us
        const ok = ctx.sendEncoded(encodeEvent(event));
        if (!ok && !waiting) {
          waiting = true;
          // A promise continuation: by then subscribe() below has returned and `sub` is set.
          void ctx.drained().then(resumeOnDrain);
        }
        return ok;
      },
      close(error) {
        log.debug({ node: req.node, code: error.code }, 'subscription ended by the hub');
        reject(error);
      },
    };
    ctx.onClose(() => {
      sub?.close();
      resolve();
    });
    try {
      sub = hub.subscribe(req.vnids, req.fromRevision, sink);
    } catch (e) {
      reject(e);
      return;
    }
    log.debug({ node: req.node, vnids: req.vnids.length, from: req.fromRevision }, 'subscribed');
    if (ctx.closed) sub.close();
  });
}
