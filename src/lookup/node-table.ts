// Nodes (hosts) interned to small integers. A NIC stores its node's index (4 bytes) instead of
// the node's name and underlay, and a node's move to a new underlay is one write here.
//
// A NIC may name a node the index has not seen (or no longer has): the node is then interned
// as absent, and its NICs are invisible (no VL2/VL3/bulk/flood answer) until it appears.
// Entries are never removed; the table holds one entry per node name ever seen, a few thousand.

import { vxfab } from '../wire/gen/proto.js';
import type { FloodMemberInfo } from './types.js';

export class NodeTable {
  private readonly byName = new Map<string, number>();
  /** Where each node is; for an absent node, the last known place (or empty). */
  private readonly members: FloodMemberInfo[] = [];
  private readonly present: boolean[] = [];
  /** Encoded vxfab.v1.Vl2Reply per node, built on first use, dropped when the node changes. */
  private readonly replies: (Uint8Array | undefined)[] = [];

  get size(): number {
    return this.members.length;
  }

  /** The index of `name`, interning it (as absent) when new. */
  intern(name: string): number {
    let idx = this.byName.get(name);
    if (idx === undefined) {
      idx = this.members.length;
      this.byName.set(name, idx);
      this.members.push({ underlay: '', port: 0, node: name });
      this.present.push(false);
      this.replies.push(undefined);
    }
    return idx;
  }

  indexOf(name: string): number {
    return this.byName.get(name) ?? -1;
  }

  isPresent(idx: number): boolean {
    return this.present[idx];
  }

  /** The node's place; immutable, replaced when the node changes, so callers may keep it. */
  member(idx: number): FloodMemberInfo {
    return this.members[idx];
  }

  /** True when the node was absent or had another underlay or port (a heartbeat is no change). */
  wouldChange(idx: number, underlay: string, port: number): boolean {
    const m = this.members[idx];
    return !this.present[idx] || m.underlay !== underlay || m.port !== port;
  }

  set(idx: number, underlay: string, port: number): void {
    this.members[idx] = { underlay, port, node: this.members[idx].node };
    this.present[idx] = true;
    this.replies[idx] = undefined;
  }

  markAbsent(idx: number): void {
    this.present[idx] = false;
    this.replies[idx] = undefined;
  }

  /** The encoded Vl2Reply for a present node, cached until the node changes. */
  vl2Reply(idx: number): Uint8Array {
    let bytes = this.replies[idx];
    if (bytes === undefined) {
      const m = this.members[idx];
      bytes = vxfab.v1.Vl2Reply.encode({ underlay: m.underlay, port: m.port, node: m.node }).finish();
      this.replies[idx] = bytes;
    }
    return bytes;
  }

  clear(): void {
    this.byName.clear();
    this.members.length = 0;
    this.present.length = 0;
    this.replies.length = 0;
  }
}
