// One network's flush: bring the kernel tables in line with what the NetState asks for, writing
// only the difference from the mirror (see net-state.ts for the full and delta paths). Shared by
// the agent and the tests that hold the two paths against each other.

import type { DataPlane, TableChanges } from '../dataplane/dataplane.js';
import { isNoChange } from '../dataplane/diff.js';
import type { NetState } from './net-state.js';

/** Writes what differs through `write`; resolves to the changes written (undefined: none). On a
 *  throw (an invalid desired entry, a failed write) the caller is to drop `net.mirror`, so that
 *  the next flush re-reads the kernel. `forceFull`: always the full path. */
export async function flushNetwork(net: NetState, dp: DataPlane, mode: 'push' | 'on-demand', write: (changes: TableChanges) => Promise<void>,
  forceFull = false): Promise<TableChanges | undefined> {
  if (net.mirror === undefined) {
    net.mirror = await dp.read(net.vnid);
    net.markAllDirty(); // a fresh read: only a full diff knows what differs
  }
  const plan = net.plan(mode, forceFull);
  if (plan === undefined || isNoChange(plan.changes)) return undefined;
  await write(plan.changes);
  plan.commit();
  return plan.changes;
}
