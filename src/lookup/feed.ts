// The index takes the controller's KeyChange shape. In-process (vxfab serve), the feed is the
// store's onCommit, whose ops have another shape; this converts without copying values.

import type { StoreOp } from '../store/store.js';
import type { KeyChangeLike } from './types.js';

export function keyChangesOf(ops: readonly StoreOp[]): KeyChangeLike[] {
  return ops.map((op) => (op.type === 'put' ? { key: op.key, value: op.value } : { key: op.key, deleted: true }));
}
