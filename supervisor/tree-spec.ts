// Config → supervision tree spec. A group sits in its parent's child list at the
// position of its first agent in start order, so start order is one global order.
// The config has already resolved what is inherited (a group's backoff from the root,
// a child's start limit from its supervisor's intensity and period).
import type { Config, GroupConfig } from './config/index.js';
import type { ChildSpec, Policy, StartLimit, TreeSpec } from './tree/index.js';

export function policyOf(g: GroupConfig): Policy {
  return {
    strategy: g.strategy,
    intensity: g.intensity,
    periodMs: g.period,
    escalate: g.escalate,
    backoff: { initialMs: g.backoff.initial, maxMs: g.backoff.max, resetMs: g.backoff.reset },
  };
}

const startLimitOf = (l: { burst: number; interval: number }): StartLimit => ({ burst: l.burst, intervalMs: l.interval });

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
        const group = cfg.groups[g]!;
        node = { kind: 'group', name: g, policy: policyOf(group), children: [], startLimit: startLimitOf(group.startLimit) };
        nodes.set(g, node);
        children.push(node);
      }
      children = node.children;
    }
    children.push({ kind: 'agent', name, restart: agent.restart, startLimit: startLimitOf(agent.startLimit) });
  }
  return root;
}
