// `vxfab topology render`: a Graphviz DOT picture of a plan — hosts as boxes holding their NICs,
// NICs coloured by network, one legend entry per network. Large plans are summarised (NIC counts per
// host and network) so that the picture stays drawable.
import type { Plan } from './topology.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
/** Above this many NICs, hosts show counts per network instead of one node per NIC. */
export const DETAIL_LIMIT = 300;

const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const id = (kind: string, s: string) => q(`${kind}:${s}`);

export function renderDot(plan: Plan): string {
  const color = new Map(plan.networks.map((n, i) => [n.ref, PALETTE[i % PALETTE.length]!]));
  const lines: string[] = [`digraph ${q(plan.name)} {`, '  rankdir=LR;', '  compound=true;', '  node [fontname="Helvetica", fontsize=10];',
    `  label=${q(`${plan.name}: ${plan.hosts.length} hosts, ${plan.networks.length} networks, ${plan.nics.length} NICs`)};`];
  lines.push('  subgraph "cluster_networks" {', '    label="networks";', '    style=dashed;');
  for (const n of plan.networks) {
    lines.push(`    ${id('net', n.ref)} [shape=ellipse, style=filled, fillcolor=${q(color.get(n.ref)!)}, fontcolor=white, ` +
      `label=${q(`${n.ref}\\n${[n.subnet, n.subnet6].filter(Boolean).join(' ')}${n.vnid ? `\\nvnid ${n.vnid}` : ''}`)}];`);
  }
  lines.push('  }');
  const detailed = plan.nics.length <= DETAIL_LIMIT;
  for (const h of plan.hosts) {
    const mine = plan.nics.filter((n) => n.host === h.name);
    lines.push(`  subgraph ${q(`cluster_${h.name}`)} {`, `    label=${q(`${h.name}\\n${h.underlay} (${h.mode})`)};`, '    style=rounded;');
    if (detailed) {
      for (const n of mine) {
        lines.push(`    ${id('nic', n.name)} [shape=box, color=${q(color.get(n.network) ?? 'black')}, label=${q(`${n.name}${n.ip ? `\\n${n.ip}` : ''}`)}];`);
      }
      if (mine.length === 0) lines.push(`    ${id('host', h.name)} [shape=point, style=invis];`);
    } else {
      const counts = new Map<string, number>();
      for (const n of mine) counts.set(n.network, (counts.get(n.network) ?? 0) + 1);
      lines.push(`    ${id('host', h.name)} [shape=box, label=${q([...counts].map(([r, c]) => `${r}: ${c}`).join('\\n') || 'no NICs')}];`);
    }
    lines.push('  }');
  }
  if (detailed) {
    for (const n of plan.nics) lines.push(`  ${id('nic', n.name)} -> ${id('net', n.network)} [color=${q(color.get(n.network) ?? 'black')}, arrowhead=none];`);
  } else {
    const edges = new Set<string>();
    for (const n of plan.nics) edges.add(`  ${id('host', n.host)} -> ${id('net', n.network)} [color=${q(color.get(n.network) ?? 'black')}, arrowhead=none];`);
    lines.push(...edges);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
