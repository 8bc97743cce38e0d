// Config → supervision tree spec. A group sits in its parent's child list at the
// position of its first agent in start order, so start order is one global order.
import type { Config, GroupConfig } from './config/index.js';
import type { ChildSpec, Policy, TreeSpec } from './tree/index.js';

export function policyOf(g: GroupConfig): Policy {
  return {
    strategy: g.strategy,
    intensity: g.intensity,
    periodMs: g.period,
    backoff: { initialMs: g.backoff.initial, maxMs: g.backoff.max, resetMs: g.backoff.reset },
  };
}

export function treeSpecOf(cfg: Config): TreeSpec {
  const root: TreeSpec = { policy: policyOf(cfg.supervisor), children: [] };
  const nodes = new Map<string, ChildSpec & { kind: 'group' }>();
  const chainOf = (group: string | undefined): string[] => {
    const chain: string[] = [];
    for (let g = group; g !== undefined; g = cfg.groups[g]?.group) chain.unshift(g);
    return chain;
  };
  for (const name of cfg.order) {
    const agent = cfg.agents[name]!;
    let children = root.children;
    for (const g of chainOf(agent.group)) {
      let node = nodes.get(g);
      if (!node) {
        node = { kind: 'group', name: g, policy: policyOf(cfg.groups[g]!), children: [] };
        nodes.set(g, node);
        children.push(node);
      }
      children = node.children;
    }
    children.push({ kind: 'agent', name, restart: agent.restart });
  }
  return root;
}
