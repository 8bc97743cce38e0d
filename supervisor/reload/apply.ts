// The second half of a reload: the difference carried out, in the order that keeps
// a refusal clean and loses nothing. The new agents' domains are prepared first
// (a failure there refuses the reload before anything stops); then the tree takes
// its new shape, the agents that go or change stop gracefully (their shutdown
// budgets, reverse start order), what was owed to a removed agent becomes dead
// letters (journaled: `outheis redrive` sends them again), and the added and
// changed agents start in the new start order, after their `after` dependencies.
import type { IsolationPlans } from '../../policies/isolation.js';
import { adoptPlans } from '../../policies/isolation.js';
import type { Grant } from '../../policies/acl.js';
import { AgentSlot, type AgentSlots } from '../agent-slot.js';
import { ConfigError, recheckPaths, type AgentConfig, type Config, type ConfigIssue } from '../config/index.js';
import type { Reports } from '../reports.js';
import type { Router, RouteSpec } from '../router/index.js';
import type { Starter } from '../starter.js';
import { treeSpecOf } from '../tree-spec.js';
import type { SupervisionTree } from '../tree/index.js';
import type { Prepared } from './prepare.js';

export interface ApplyContext extends Reports {
  readonly slots: AgentSlots;
  readonly router: Router;
  readonly tree: SupervisionTree;
  readonly starter: Starter;
  readonly isolation: IsolationPlans | undefined;
  running(): Config;
  /** The config in force from now on. */
  adopt(cfg: Config): void;
  /** Graceful stop (terminate.ts); the tree is not told. */
  stopAgent(name: string): Promise<void>;
}

export type Applied = { ok: true; started: string[]; deadLettered: number } | { ok: false; issues: ConfigIssue[] };

export const routeSpecOf = (cfg: AgentConfig): RouteSpec => ({ name: cfg.name, qos: cfg.qos, pledge: cfg.pledge, mailbox: cfg.limits.mailbox, maxFrame: cfg.limits.frame });

/** Domains of the agents about to start, and the path rules on their real paths; undefined: refused, nothing kept of it. */
function prepareDomains(ctx: ApplyContext, p: Prepared & { ok: true }, starting: string[]): { needed: Grant[] } | { issues: ConfigIssue[] } {
  if (!ctx.isolation) return { needed: [] };
  let needed: Grant[] = [];
  try {
    ({ needed } = ctx.isolation.domains.extend(p.next, p.replan?.accounts, starting));
    recheckPaths(p.next);
    return { needed };
  } catch (err) {
    // What this reload granted to added agents goes back; a changed agent's stays with it until stop.
    ctx.isolation.domains.releaseOf(new Set(p.diff.added), []);
    if (err instanceof ConfigError) return { issues: err.issues };
    return { issues: [{ path: '', message: (err as Error).message }] };
  }
}

export async function applyReload(ctx: ApplyContext, p: Prepared & { ok: true }): Promise<Applied> {
  const { diff, next } = p;
  const run = ctx.running();
  const restarted = new Set(diff.restarted);
  const leaving = new Set([...diff.removed, ...diff.restarted]);
  const domains = prepareDomains(ctx, p, [...diff.added, ...diff.restarted]);
  if ('issues' in domains) return { ok: false, issues: domains.issues };
  for (const grant of ctx.isolation?.domains.grants ?? []) {
    if (diff.added.includes(grant.agent) || restarted.has(grant.agent)) ctx.log.warn({ agent: grant.agent, path: grant.path, uid: grant.uid, acl: grant.perms, key: grant.key }, 'ACL GRANTED (reload): this path belongs to someone else; the agent\'s uid has an ACL until stop');
  }

  // From here on the reload goes ahead. Exits of what leaves are ours, not failures;
  // an agent that stays stopped (operator stop, or done) stays so with its new manifest.
  for (const name of leaving) {
    const slot = ctx.slots.get(name);
    clearTimeout(slot.backoffTimer);
    if (slot.proc) slot.stopping = true;
    else if (slot.state === 'starting' || slot.state === 'backoff') slot.state = 'stopped';
  }
  const stayStopped = diff.restarted.filter((n) => ctx.tree.state(n) === 'removed');
  ctx.tree.reshape(treeSpecOf(next), { agents: restarted, groups: new Set(diff.freshGroups) });
  for (const name of stayStopped) ctx.tree.stopped(name);
  ctx.adopt(next);
  if (ctx.isolation && p.replan) adoptPlans(ctx.isolation, p.replan, diff.removed);

  for (const name of [...run.order].reverse()) if (leaving.has(name)) await ctx.stopAgent(name);

  let deadLettered = 0;
  for (const name of diff.removed) {
    const slot = ctx.slots.get(name);
    deadLettered += ctx.router.delete(slot.route, `agent "${name}" was removed from the config by a reload`).length;
    ctx.emit('removed', name, 'removed from the config by a reload');
  }
  for (const err of ctx.isolation?.domains.releaseOf(leaving, domains.needed) ?? []) ctx.log.error({ err }, 'could not take back an ACL of an agent a reload stopped');

  ctx.slots.replace(next.order.map((name) => {
    const cfg = next.agents[name]!;
    const slot = ctx.slots.find(name);
    if (!slot) return new AgentSlot(cfg, ctx.router.add(routeSpecOf(cfg)));
    if (restarted.has(name)) {
      slot.cfg = cfg;
      slot.route.update(routeSpecOf(cfg));
    }
    return slot;
  }));

  const started: string[] = [];
  for (const name of next.order) {
    if (!(restarted.has(name) || diff.added.includes(name)) || stayStopped.includes(name)) continue;
    const slot = ctx.slots.get(name);
    if (restarted.has(name)) {
      slot.restarts++;
      const reason = diff.changed.find((c) => c.agent === name) ? 'reload: its manifest changed' : 'reload: its group was rebuilt';
      ctx.note({ type: 'restart', agent: name, delayMs: 0, reason });
      ctx.emit('restart', name, 0, reason);
    }
    ctx.starter.schedule(slot, 0);
    started.push(name);
  }
  return { ok: true, started, deadLettered };
}
