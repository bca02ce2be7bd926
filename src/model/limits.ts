// Numeric limits shared by every role. Each figure is named once here; derived ones say how.

import { parseIntegerInRange } from './integers.js';

/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers. */
export const VXLAN_OVERHEAD_V4 = 50;
/** As VXLAN_OVERHEAD_V4 with a 40-byte IPv6 outer header instead of 20. */
export const VXLAN_OVERHEAD_V6 = 70;
export const DEFAULT_UNDERLAY_MTU = 1500;
/** Tenant MTU that fits a standard 1500-byte IPv4 underlay without fragmentation. */
export const DEFAULT_MTU = DEFAULT_UNDERLAY_MTU - VXLAN_OVERHEAD_V4;
/** IPv4's minimum reassembly size (RFC 791); smaller tenant MTUs break too much. */
export const MTU_MIN = 576;
/** Common jumbo-frame ceiling. */
export const MTU_MAX = 9000;
/** IANA-assigned VXLAN UDP port (RFC 7348). */
export const DEFAULT_VTEP_PORT = 4789;
export const PORT_MIN = 1;
export const PORT_MAX = 65535;

/** A tenant MTU from a number or decimal text; INVALID_ARGUMENT unless within MTU_MIN..MTU_MAX. */
export function parseMtu(value: unknown, field = 'mtu'): number {
  return parseIntegerInRange(value, field, MTU_MIN, MTU_MAX);
}

/** A UDP/TCP port from a number or decimal text; INVALID_ARGUMENT unless within 1..65535. */
export function parsePort(value: unknown, field = 'port'): number {
  return parseIntegerInRange(value, field, PORT_MIN, PORT_MAX);
}
