// Wraps the agent's controller and lookup ports to count the wire messages they cause: each call is
// a request and a reply, each streamed item (bulk page, lookup event) one message. The counts are
// what the simulator reports as "messages sent" per checkpoint.
import type { ControllerPort, LookupConnection, LookupDialer } from '../agent/ports.js';

/** Bulk page size the lookup service uses by default (BulkRequest page_size 0). */
const BULK_PAGE = 512;

export class MessageCounter {
  lookup = 0;
  controller = 0;
  events = 0;

  get total(): number {
    return this.lookup + this.controller;
  }
}

export function countingController(port: ControllerPort, c: MessageCounter): ControllerPort {
  const two = <T>(p: Promise<T>): Promise<T> => {
    c.controller += 2;
    return p;
  };
  return {
    registerNode: (n, u, p) => two(port.registerNode(n, u, p)),
    heartbeat: (n) => two(port.heartbeat(n)),
    listNics: async (n) => {
      const nics = await two(port.listNics(n));
      c.controller += Math.floor(nics.length / 500);
      return nics;
    },
    getNetwork: (t, n) => two(port.getNetwork(t, n)),
  };
}

export function countingDialer(dial: LookupDialer, c: MessageCounter): LookupDialer {
  return async (address) => {
    const conn = await dial(address);
    const two = <T>(p: Promise<T>): Promise<T> => {
      c.lookup += 2;
      return p;
    };
    const wrapped: LookupConnection = {
      address: conn.address,
      lost: conn.lost,
      vl2: (v, m) => two(conn.vl2(v, m)),
      vl3: (v, ip) => two(conn.vl3(v, ip)),
      flood: (v) => two(conn.flood(v)),
      bulk: async (v) => {
        const r = await conn.bulk(v);
        c.lookup += 1 + Math.max(1, Math.ceil(r.endpoints.length / BULK_PAGE));
        return r;
      },
      subscribe: (node, vnids, from, onEvent) => {
        c.lookup += 1;
        return conn.subscribe(node, vnids, from, (e) => {
          c.lookup += 1;
          c.events += 1;
          onEvent(e);
        });
      },
      close: () => conn.close(),
    };
    return wrapped;
  };
}
