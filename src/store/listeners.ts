// The onCommit listener set both backends share. A throwing listener is logged and skipped: one
// broken subscriber must not stop the others from hearing about a write that did commit.

import type { Logger } from 'pino';
import type { Change } from './store.js';

export type CommitListener = (change: Change) => void;

export class CommitListeners {
  private readonly listeners = new Set<CommitListener>();

  constructor(private readonly log: Logger) {}

  add(listener: CommitListener): () => void {
    // Wrap so the same function may subscribe twice and each unsubscribe removes one.
    const entry: CommitListener = (change) => listener(change);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  emit(change: Change): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.log.error({ err, revision: change.revision }, 'onCommit listener threw');
      }
    }
  }
}
