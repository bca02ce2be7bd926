// The revoked certificates, by serial. It is a view of the store's r/<serial> records: vxfab serve
// loads it from its store and follows its commits; a lookup replica follows the change feed
// (revocations are in it, tokens are not). A listener hears each new revocation, so the server can
// close that certificate's live connections at once; `isRevoked` answers the TLS layer for new ones.
import { REVOCATION_PREFIX } from '../model/keys.js';
import { vxfab } from '../wire/gen/proto.js';
import type { Store } from '../store/store.js';

export interface KeyChangeLike {
  key: string;
  value?: Uint8Array | null;
  deleted?: boolean | null;
}

export interface RevokedCert {
  serial: string;
  identity: string;
}

export class RevocationList {
  private readonly revoked = new Map<string, RevokedCert>();
  private readonly listeners: Array<(r: RevokedCert) => void> = [];

  get size(): number {
    return this.revoked.size;
  }

  isRevoked(serial: string): boolean {
    return this.revoked.has(serial);
  }

  /** Called for each serial newly revoked (not for ones loaded at start). */
  onRevoked(listener: (r: RevokedCert) => void): void {
    this.listeners.push(listener);
  }

  /** Applies one changed key; keys outside r/ are ignored. */
  apply(change: KeyChangeLike, notify = true): void {
    if (!change.key.startsWith(REVOCATION_PREFIX)) return;
    const serial = change.key.slice(REVOCATION_PREFIX.length);
    if (change.deleted === true) {
      this.revoked.delete(serial);
      return;
    }
    let identity = '';
    try {
      identity = vxfab.v1.Revocation.decode(change.value ?? new Uint8Array(0)).identity;
    } catch {
      // An undecodable record still revokes its serial: failing closed is the safe side.
    }
    const fresh = !this.revoked.has(serial);
    const r = { serial, identity };
    this.revoked.set(serial, r);
    if (fresh && notify) for (const l of this.listeners) l(r);
  }

  /** Drops everything (a replica reloading from a snapshot). */
  clear(): void {
    this.revoked.clear();
  }

  /** Loads the store's records and follows its commits; returns the unsubscribe. */
  static async follow(store: Store, list = new RevocationList()): Promise<{ list: RevocationList; stop: () => void }> {
    const stop = store.onCommit((change) => {
      for (const op of change.ops) list.apply(op.type === 'put' ? { key: op.key, value: op.value } : { key: op.key, deleted: true });
    });
    for await (const [key, value] of store.scan(REVOCATION_PREFIX)) list.apply({ key, value }, false);
    return { list, stop };
  }
}
