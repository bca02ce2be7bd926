// The authorization policy's facts on a lookup replica: it has no controller state, only the
// index, which knows which nodes carry which vnids. The controller methods that need NIC and
// network facts are not served here, so those answer "unknown".
import type { PolicyFacts } from '../security/policy.js';
import type { LookupSource } from './service.js';

export function indexFacts(src: Pick<LookupSource, 'index'>): PolicyFacts {
  return {
    nic: () => undefined,
    networkVnid: () => undefined,
    carries: (node, vnid) => src.index.carries(node, vnid),
  };
}
