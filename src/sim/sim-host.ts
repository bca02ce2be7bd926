// One simulated host: the agent programs its SimDataPlane (the "kernel"), through a faulty wrapper
// when the run breaks this host's agent on purpose.
import type { DataPlane } from '../dataplane/dataplane.js';
import { FaultyDataPlane, type Fault } from './faulty-dataplane.js';
import { HostRuntime } from './host-runtime.js';
import { ObservedDataPlane } from './observed-dataplane.js';
import type { PlanHost } from './topology.js';

export class SimHostRuntime extends HostRuntime {
  constructor(spec: PlanHost, readonly fault: Fault | undefined) {
    super(spec);
  }

  protected override agentDataPlane(): DataPlane {
    return new ObservedDataPlane(this.fault === undefined ? this.dp : new FaultyDataPlane(this.dp, this.fault), () => this.onNetworkChange());
  }
}
