// The kernel data plane of a namespaced host, with an in-memory copy of every write that succeeded
// in the kernel. The copy is what the linux runner watches to know when a host converged (reading
// every host's kernel tables every few milliseconds would cost more than the run); what the
// checkpoints judge is the kernel itself, by pings and by reading its tables back. Reads, network
// lists and misses come from the kernel, so the agent sees exactly what it would see alone.
import type { DataPlane, EnsureOutcome, MissListener, NetworkSpec, NetworkState, TableChanges, Tables } from '../dataplane/dataplane.js';
import type { SimDataPlane } from '../dataplane/sim/sim-dataplane.js';

export class MirroredDataPlane implements DataPlane {
  readonly kind = 'linux' as const;

  constructor(private readonly kernel: DataPlane, readonly mirror: SimDataPlane, private readonly changed: () => void) {}

  async ensureNetwork(spec: NetworkSpec): Promise<EnsureOutcome> {
    const outcome = await this.kernel.ensureNetwork(spec);
    // A recreate dropped the kernel's entries: drop the copy's too.
    if (outcome.action === 'recreated') await this.mirror.removeNetwork(spec.vnid);
    await this.mirror.ensureNetwork(spec);
    if (outcome.action !== 'unchanged') this.changed();
    return outcome;
  }

  async removeNetwork(vnid: number): Promise<void> {
    await this.kernel.removeNetwork(vnid);
    await this.mirror.removeNetwork(vnid);
    this.changed();
  }

  listNetworks(): Promise<NetworkState[]> {
    return this.kernel.listNetworks();
  }

  async apply(vnid: number, changes: TableChanges): Promise<void> {
    await this.kernel.apply(vnid, changes);
    await this.mirror.apply(vnid, changes);
  }

  read(vnid: number): Promise<Tables> {
    return this.kernel.read(vnid);
  }

  onMiss(listener: MissListener): () => void {
    return this.kernel.onMiss(listener);
  }

  /** The kernel's helper processes stop (its state stays); the copy stays readable. */
  close(): Promise<void> {
    return this.kernel.close();
  }
}
