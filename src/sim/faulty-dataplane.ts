// Deliberately broken data planes, to prove that the simulator's checker fails when an agent does
// the wrong thing: a wrapper around a SimDataPlane that silently drops some of what the agent asks
// for, while the agent believes it was done. The checker reads the SimDataPlane underneath.
import type { DataPlane, EnsureOutcome, MissListener, NetworkSpec, NetworkState, TableChanges, Tables } from '../dataplane/dataplane.js';
import type { SimDataPlane } from '../dataplane/sim/sim-dataplane.js';

export type Fault = 'ignore-removals' | 'no-flood';
export const FAULTS: readonly Fault[] = ['ignore-removals', 'no-flood'];

export class FaultyDataPlane implements DataPlane {
  readonly kind = 'sim' as const;

  constructor(readonly inner: SimDataPlane, readonly fault: Fault) {}

  ensureNetwork(spec: NetworkSpec): Promise<EnsureOutcome> {
    return this.inner.ensureNetwork(spec);
  }

  removeNetwork(vnid: number): Promise<void> {
    return this.fault === 'ignore-removals' ? Promise.resolve() : this.inner.removeNetwork(vnid);
  }

  listNetworks(): Promise<NetworkState[]> {
    return this.inner.listNetworks();
  }

  apply(vnid: number, changes: TableChanges): Promise<void> {
    const c = { ...changes };
    if (this.fault === 'ignore-removals') {
      delete c.fdbDel;
      delete c.neighDel;
      delete c.floodDel;
    } else {
      delete c.floodAdd;
    }
    return this.inner.apply(vnid, c);
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
