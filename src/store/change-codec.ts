// The change-log entry on disk is the wire's ChangeBatch, so a logged batch and a watched batch
// are one encoding and one schema.

import { vxfab } from '../wire/gen/proto.js';
import type { Change, StoreOp } from './store.js';

export function encodeChange(change: Change): Uint8Array {
  return vxfab.v1.ChangeBatch.encode({
    revision: change.revision,
    changes: change.ops.map((op) =>
      op.type === 'put' ? { key: op.key, value: op.value } : { key: op.key, deleted: true }),
  }).finish();
}

export function decodeChange(bytes: Uint8Array): Change {
  const batch = vxfab.v1.ChangeBatch.decode(bytes);
  const ops = batch.changes.map((c): StoreOp => {
    const key = c.key ?? '';
    if (c.deleted) return { type: 'del', key };
    const v = c.value ?? new Uint8Array(0);
    // protobufjs hands out Buffers; give callers the same plain Uint8Array every backend returns.
    return { type: 'put', key, value: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
  });
  return { revision: Number(batch.revision), ops };
}
