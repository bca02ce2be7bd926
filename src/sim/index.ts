// The simulator's public surface.
export { loadTopologyFile, parseTopology } from './loader.js';
export { expandTopology } from './expand.js';
export { runTopology, type RunOptions } from './runner.js';
export type { Progress } from './timeline.js';
export { runLinuxTopology, type LinuxRunOptions } from './linux-runner.js';
export { LINUX_MAX_HOSTS, LINUX_MAX_NICS, checkLinuxPlan } from './linux-limits.js';
export { checkFabric, type CheckOptions, type CheckResult, type Violation } from './checker.js';
export { FabricView, type SimEndpoint, type SimHost } from './fabric.js';
export { diffHost, formatDiff, type TableDiff } from './desired.js';
export { renderDot } from './render.js';
export { formatReport, type RunReport, type CheckpointReport, type StepReport } from './report.js';
export { FaultyDataPlane, FAULTS, type Fault } from './faulty-dataplane.js';
export { TopologyError } from './yaml-reader.js';
export type { Plan, TopologyFile } from './topology.js';
