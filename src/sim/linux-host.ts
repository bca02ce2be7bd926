// One namespaced host of a `--dataplane linux` run: its network namespace (with `ul0` on the
// underlay) and the kernel data plane programming it (LinuxDataPlane, which outlives the agent as the
// kernel does). The agent runs in this process like the simulator's (only the data plane has to be
// real; it talks to the controller and the lookup servers over loopback TCP); what it writes into
// the kernel is mirrored into `dp`, which the runner watches for convergence.
import type { Logger } from 'pino';
import type { DataPlane } from '../dataplane/dataplane.js';
import { LinuxDataPlane } from '../dataplane/linux/linux-dataplane.js';
import { HostRuntime } from './host-runtime.js';
import { MirroredDataPlane } from './mirrored-dataplane.js';
import type { PlanHost } from './topology.js';

/** The host's underlay interface (in its namespace). */
export const UNDERLAY_DEV = 'ul0';

export class LinuxHostRuntime extends HostRuntime {
  readonly kernel: LinuxDataPlane;

  constructor(spec: PlanHost, readonly netns: string, log: Logger) {
    super(spec);
    this.kernel = new LinuxDataPlane({ netns, logger: log });
  }

  protected override agentDataPlane(): DataPlane {
    return new MirroredDataPlane(this.kernel, this.dp, () => this.onNetworkChange());
  }

  protected override underlayDev(): string {
    return UNDERLAY_DEV;
  }

  /** The kernel data plane's helper processes (`ip -batch`, `ip monitor`) stop; the namespace
   * itself is the runner's to delete. */
  protected override async closeDataPlane(): Promise<void> {
    await this.kernel.close();
    await this.dp.close();
  }
}
