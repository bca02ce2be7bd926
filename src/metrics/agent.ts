// An agent's metrics, read from its status() when Prometheus scrapes (once per scrape, shared by
// every gauge of that scrape): entries programmed by table, misses, reconcile corrections,
// degraded state, lookup sessions (a session after the first is a reconnect or a failover).
import { Gauge, type Registry } from 'prom-client';
import type { Agent, AgentStatus } from '../agent/agent.js';

export function registerAgentMetrics(registry: Registry, agent: Pick<Agent, 'status'>): void {
  // One status() per scrape: the gauges below collect in turn within one registry.metrics() call.
  let cached: { at: number; status: AgentStatus } | undefined;
  const status = (): AgentStatus => {
    const now = Date.now();
    if (!cached || now - cached.at > 100) cached = { at: now, status: agent.status() };
    return cached.status;
  };
  new Gauge({
    name: 'vxfab_agent_entries', help: 'Kernel entries the agent has programmed, by table (fdb, neigh, flood)', labelNames: ['table'], registers: [registry],
    collect() {
      const s = status();
      this.set({ table: 'fdb' }, s.entries.fdb);
      this.set({ table: 'neigh' }, s.entries.neigh);
      this.set({ table: 'flood' }, s.entries.flood);
    },
  });
  new Gauge({
    name: 'vxfab_agent_networks', help: 'Virtual networks present on this host', registers: [registry],
    collect() { this.set(status().networks.length); },
  });
  new Gauge({
    name: 'vxfab_agent_misses_total', help: 'Kernel misses, by outcome (received, resolved, not_found)', labelNames: ['outcome'], registers: [registry],
    collect() {
      const m = status().misses;
      this.set({ outcome: 'received' }, m.received);
      this.set({ outcome: 'resolved' }, m.resolved);
      this.set({ outcome: 'not_found' }, m.notFound);
    },
  });
  new Gauge({
    name: 'vxfab_agent_last_reconcile_corrections', help: 'Entries the last reconcile had to set or delete (0: the kernel matched)', registers: [registry],
    collect() {
      const r = status().lastReconcile;
      this.set(r ? r.fdbSet + r.fdbDel + r.neighSet + r.neighDel + r.floodAdd + r.floodDel + r.networksAdded + r.networksRemoved : 0);
    },
  });
  new Gauge({
    name: 'vxfab_agent_degraded', help: '1 while the agent has no lookup service and keeps its programmed entries', registers: [registry],
    collect() { this.set(status().degraded ? 1 : 0); },
  });
  new Gauge({
    name: 'vxfab_agent_lookup_connected', help: '1 while the agent is connected to a lookup service', registers: [registry],
    collect() { this.set(status().lookup.state === 'connected' ? 1 : 0); },
  });
  new Gauge({
    name: 'vxfab_agent_lookup_sessions', help: 'Lookup sessions opened since start (more than 1: reconnects or failovers)', registers: [registry],
    collect() { this.set(status().lookup.sessions); },
  });
  new Gauge({
    name: 'vxfab_agent_lookup_revision', help: 'Change-feed revision the agent has applied', registers: [registry],
    collect() { this.set(status().revision); },
  });
}
