// Rules that span more than one key, run once the structure is valid.
//
// Each rule reports at the key the operator has to edit, and names the other
// party (the other owner, the cycle, the missing agent), because "invalid
// config" without both ends of the conflict sends people grepping.
//
// The path rules (owners, rw on owned paths, unveil keys, the state directory)
// live in real-paths.ts: they compare resolved real paths, not strings.

import { RESERVED_AGENT_NAMES, type ResolvedConfig } from './schema.js';
import { pathIssues } from './real-paths.js';
import { scheduleIssues } from '../schedules/spec.js';

export { pathRelation, pathsOverlap } from './real-paths.js';

export interface CrossCheckIssue {
  path: (string | number)[];
  message: string;
}

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length]!;
}

/** `; did you mean "x"?` for a near miss, else ''. Typos are the usual cause of unknown names. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? `; did you mean ${JSON.stringify(best)}?` : '';
}

/** Rotate a cycle to start at its earliest-declared member, so the same cycle always reads the same. */
function canonicalCycle(cycle: string[], rank: Map<string, number>): string[] {
  let start = 0;
  cycle.forEach((n, i) => {
    if ((rank.get(n) ?? 0) < (rank.get(cycle[start]!) ?? 0)) start = i;
  });
  return [...cycle.slice(start), ...cycle.slice(0, start)];
}

/** Every elementary cycle reachable by a depth-first walk in declaration order, each once. */
function findCycles(nodes: string[], edges: (n: string) => string[]): string[][] {
  const rank = new Map(nodes.map((n, i) => [n, i]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found = new Map<string, string[]>();
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of edges(n)) {
      const s = state.get(m);
      if (s === 'open') {
        const cycle = canonicalCycle(stack.slice(stack.indexOf(m)), rank);
        found.set(cycle.join('\0'), cycle);
      } else if (s === undefined) {
        visit(m);
      }
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of nodes) if (!state.has(n)) visit(n);
  return [...found.values()].sort((a, b) => rank.get(a[0]!)! - rank.get(b[0]!)!);
}

const cycleText = (cycle: string[]) => [...cycle, cycle[0]!].join(' -> ');

function knownList(what: string, names: string[]): string {
  return names.length ? ` (known ${what}: ${names.join(', ')})` : ` (no ${what} are defined)`;
}

export function crossCheck(c: ResolvedConfig): CrossCheckIssue[] {
  const issues: CrossCheckIssue[] = [];
  const add = (p: (string | number)[], message: string) => issues.push({ path: p, message });
  const groupNames = Object.keys(c.groups);
  const agentNames = Object.keys(c.agents);
  const agents = Object.values(c.agents);

  // --- groups: references and nesting cycles
  const unknownGroup = (g: string) =>
    `unknown group ${JSON.stringify(g)}${didYouMean(g, groupNames)}${knownList('groups', groupNames)}; omit "group" to use the root supervisor`;
  for (const [name, g] of Object.entries(c.groups)) {
    if (g.group !== undefined && !hasOwn(c.groups, g.group)) add(['groups', name, 'group'], unknownGroup(g.group));
  }
  const parentOf = (g: string) => {
    const p = c.groups[g]?.group;
    return p !== undefined && hasOwn(c.groups, p) ? [p] : [];
  };
  for (const cycle of findCycles(groupNames, parentOf)) {
    add(['groups', cycle[0]!, 'group'], `nesting cycle ${cycleText(cycle)}; a group must end at the root supervisor`);
  }
  for (const a of agents) {
    if (a.group !== undefined && !hasOwn(c.groups, a.group)) add(['agents', a.name, 'group'], unknownGroup(a.group));
  }

  // --- after: references and dependency cycles (a cycle would never start)
  for (const a of agents) {
    a.after.forEach((dep, i) => {
      if (!hasOwn(c.agents, dep)) add(['agents', a.name, 'after', i], `unknown agent ${JSON.stringify(dep)}${didYouMean(dep, agentNames)}`);
    });
  }
  const depsOf = (n: string) => (c.agents[n]?.after ?? []).filter((d) => hasOwn(c.agents, d));
  for (const cycle of findCycles(agentNames, depsOf)) {
    add(['agents', cycle[0]!, 'after'], `dependency cycle ${cycleText(cycle)}`);
  }

  // --- pledges: a send capability must name someone who exists
  for (const a of agents) {
    a.pledge.forEach((p, i) => {
      if (!p.startsWith('send:') || p === 'send:*') return;
      const to = p.slice('send:'.length);
      if (hasOwn(c.agents, to) || (c.cluster && hasOwn(c.cluster.agents, to))) return;
      const why = RESERVED_AGENT_NAMES.has(to)
        ? `${JSON.stringify(to)} is not an agent (replies need no pledge)`
        : `send to unknown agent ${JSON.stringify(to)}${didYouMean(to, agentNames)}`;
      add(['agents', a.name, 'pledge', i], why);
    });
  }

  // --- cluster: a remote agent is addressed by its bare name, so it must not be a local one too
  if (c.cluster) {
    for (const [name, host] of Object.entries(c.cluster.agents)) {
      if (hasOwn(c.agents, name)) add(['cluster', 'agents', name], `agent ${JSON.stringify(name)} is defined here too: a name is either local or on host ${JSON.stringify(host)}, not both`);
      else if (host === c.cluster.host) add(['cluster', 'agents', name], `host ${JSON.stringify(host)} is this supervisor (cluster.host): define the agent under agents instead`);
    }
  }

  issues.push(...scheduleIssues(c.schedules, c.agents, didYouMean));

  issues.push(...pathIssues({ dir: c.dir, file: c.file, stateDir: c.state_dir, agents }));

  return issues;
}

/**
 * Start order: each agent after everything in its `after`, ties broken by
 * declaration order (the earliest-declared agent that may start, starts).
 * Total even on unchecked input: unknown names are ignored and agents stuck
 * in a cycle are appended in declaration order.
 */
export function startOrder(agents: Record<string, { after: readonly string[] }>): string[] {
  const names = Object.keys(agents);
  const placed = new Set<string>();
  const order: string[] = [];
  const ready = (n: string) => agents[n]!.after.every((d) => placed.has(d) || !hasOwn(agents, d));
  while (order.length < names.length) {
    const next = names.find((n) => !placed.has(n) && ready(n)) ?? names.find((n) => !placed.has(n))!;
    placed.add(next);
    order.push(next);
  }
  return order;
}
