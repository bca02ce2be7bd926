// The data-plane role's public surface.
export * from './dataplane.js';
export { bridgeDeviceName, checkVnid, vnidFromVxlanDevice, vxlanDeviceName } from './names.js';
export { canonicalIp, canonicalMac } from './validate.js';
export { diffTables, emptyTables, isNoChange } from './diff.js';
export { LinuxDataPlane, type LinuxDataPlaneOptions } from './linux/linux-dataplane.js';
export { SimDataPlane, type ForwardDecision, type SimWrite } from './sim/sim-dataplane.js';
