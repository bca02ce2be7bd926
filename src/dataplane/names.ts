// Device names derived from the VNID. Decimal, so `vx-5001` matches `vxlan id 5001` in
// `ip -d link` and the VNID the CLI shows; the longest, `vx-16777215`, is 11 characters (IFNAMSIZ
// allows 15).

import { VNID_MAX, VNID_MIN } from '../model/vnid.js';
import { invalid } from '../model/errors.js';

const VXLAN_PREFIX = 'vx-';
const BRIDGE_PREFIX = 'br-';
const NAME_RE = /^(vx|br)-(0|[1-9][0-9]{0,7})$/;

/** Throws INVALID_ARGUMENT unless vnid is an integer in the 24-bit range. */
export function checkVnid(vnid: number, field = 'vnid'): number {
  if (!Number.isInteger(vnid) || vnid < VNID_MIN || vnid > VNID_MAX) {
    throw invalid(field, vnid, `must be an integer from ${VNID_MIN} to ${VNID_MAX}`);
  }
  return vnid;
}

export function vxlanDeviceName(vnid: number): string {
  return VXLAN_PREFIX + checkVnid(vnid);
}

export function bridgeDeviceName(vnid: number): string {
  return BRIDGE_PREFIX + checkVnid(vnid);
}

/** The VNID of a VXLAN device named by our convention, or undefined for any other name. */
export function vnidFromVxlanDevice(name: string): number | undefined {
  const m = NAME_RE.exec(name);
  if (m === null || m[1] !== 'vx') return undefined;
  const vnid = Number(m[2]);
  return vnid <= VNID_MAX ? vnid : undefined;
}
