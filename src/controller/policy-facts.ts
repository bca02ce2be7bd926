// The facts the authorization policy needs (src/security/policy.ts), from the controller's state.
// Whether a node carries a vnid is asked on every agent lookup, so it is answered first from the
// lookup index's per-vnid node counts (O(1)); only when the index says no (a NIC placed a moment
// ago, not yet committed) is the node's NIC list walked.
import { networkRef } from '../model/objects.js';
import type { PolicyFacts } from '../security/policy.js';
import type { FabricState } from './state.js';

export interface CarriesIndex {
  carries(node: string, vnid: number): boolean;
}

export function controllerFacts(state: FabricState, index?: () => CarriesIndex): PolicyFacts {
  return {
    nic(id) {
      const nic = state.nics.get(id);
      return nic === undefined ? undefined : { tenant: nic.tenant, node: nic.node };
    },
    networkVnid(tenant, name) {
      return state.networks.get(networkRef({ tenant, name }))?.net.vnid;
    },
    carries(node, vnid) {
      if (index?.().carries(node, vnid)) return true;
      for (const id of state.nicsByNode.get(node) ?? []) if (state.nics.get(id)?.vnid === vnid) return true;
      return false;
    },
  };
}
