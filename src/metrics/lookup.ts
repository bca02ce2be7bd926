// Gauges of a lookup service (in serve or a replica), read when Prometheus scrapes: nothing is
// counted on the lookup hot path, so serving keeps its speed.
import { Gauge, type Registry } from 'prom-client';
import type { LookupSource } from '../lookup/service.js';

export function registerLookupMetrics(registry: Registry, lookup: LookupSource, storeRevision?: () => number): void {
  new Gauge({
    name: 'vxfab_lookup_index_mappings', help: 'Mappings (endpoint addresses) held in the lookup index', registers: [registry],
    collect() { this.set(lookup.index.mappings); },
  });
  new Gauge({
    name: 'vxfab_lookup_revision', help: 'Change-feed revision last applied to the lookup index', registers: [registry],
    collect() { this.set(lookup.index.revision); },
  });
  new Gauge({
    name: 'vxfab_lookup_subscribers', help: 'Agents subscribed to the lookup stream', registers: [registry],
    collect() { this.set(lookup.hub.size); },
  });
  if (storeRevision) {
    new Gauge({
      name: 'vxfab_feed_lag_revisions', help: 'Store revision minus the lookup index revision', registers: [registry],
      collect() { this.set(Math.max(0, storeRevision() - lookup.index.revision)); },
    });
  }
}
