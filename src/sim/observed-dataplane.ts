// Passes every call through and reports network creations and removals, which SimDataPlane's write
// observer does not see (it reports table entries only): the runner needs both to know when a
// host's state changed without re-reading every host's tables on a timer.
import type { DataPlane, EnsureOutcome, MissListener, NetworkSpec, NetworkState, TableChanges, Tables } from '../dataplane/dataplane.js';

export class ObservedDataPlane implements DataPlane {
  readonly kind = 'sim' as const;

  constructor(private readonly inner: DataPlane, private readonly changed: () => void) {}

  async ensureNetwork(spec: NetworkSpec): Promise<EnsureOutcome> {
    const outcome = await this.inner.ensureNetwork(spec);
    if (outcome.action !== 'unchanged') this.changed();
    return outcome;
  }

  async removeNetwork(vnid: number): Promise<void> {
    await this.inner.removeNetwork(vnid);
    this.changed();
  }

  listNetworks(): Promise<NetworkState[]> {
    return this.inner.listNetworks();
  }

  apply(vnid: number, changes: TableChanges): Promise<void> {
    return this.inner.apply(vnid, changes);
  }

  read(vnid: number): Promise<Tables> {
    return this.inner.read(vnid);
  }

  onMiss(listener: MissListener): () => void {
    return this.inner.onMiss(listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
