// Secure by default: every agent's manifest is planned against what this machine
// can enforce before anything starts. A layer that cannot be applied stops the
// start, naming the agent and the layer, unless the operator said
// --allow-weaker-isolation; then it is logged loudly and shown in `status`.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { codeOf, type Code } from './code.js';
import { probeMachine, type Machine } from './machine.js';
import { planSandbox, readableByOthers, type SandboxPlan } from './sandbox.js';
import { allocateAccounts, type Account } from './users.js';
import { prepareDomains, type Domains } from './domains.js';
import type { AgentManifest, Manifests } from './manifest.js';
import { detectCgroups, type Cgroups } from './cgroups/detect.js';
import { createGroup, type AgentGroup, type GroupSpec } from './cgroups/group.js';

export class IsolationError extends Error {}

/** An agent's plan, and its cgroup when it has one (policies/cgroups/). */
export type AgentPlan = SandboxPlan & { weaker: boolean; cgroup?: AgentGroup | undefined; cgroupWhy?: string | undefined };

export interface IsolationPlans {
  machine: Machine;
  accounts: Map<string, Account> | undefined;
  plans: Map<string, AgentPlan>;
  /** The cgroup hierarchy agents run in, or why there is none (then nice and sampling stand in). */
  cgroups: Cgroups;
  /** Groups a previous supervisor of this state directory left behind, emptied and removed at start. */
  staleGroups: string[];
  /** Domains created and ACLs granted for the agents' uids (logged at start). */
  domains: Domains;
  /** Take back the ACLs granted at start: call once every agent has stopped. Returns what could not be undone. */
  release(): string[];
}

/** Where the grants standing are recorded, so that a supervisor that died has them taken back at its next start. */
export const grantsRecord = (stateDir: string): string => join(stateDir, 'acl-grants.json');

/** With a dropped uid the agent must be able to read its own code, and bubblewrap (as that uid) reach it. */
function codeReadable(code: Code): string | undefined {
  // Staged where the install is out of the agent's reach (sdk.ts, bundled.ts).
  if (code.kind === 'bundled') return undefined;
  const dir = code.kind === 'file' ? undefined : code.root;
  const d = dir ? statSync(dir, { throwIfNoEntry: false }) : undefined;
  if (dir && d && (d.mode & 0o005) !== 0o005) return `code: ${dir} is mode 0${(d.mode & 0o777).toString(8)}; an agent's own uid needs o+rx on its code directory`;
  if (!readableByOthers(code.entry)) return `code: an agent's own uid cannot reach ${code.entry}: the file needs o+r and every directory above it o+x`;
  return undefined;
}

type Plans = Map<string, AgentPlan>;

export const groupSpecOf = (agent: AgentManifest): GroupSpec => ({ qos: agent.qos, cpu: agent.limits.cpu, memory: agent.limits.memory, nproc: agent.limits.nproc });

/**
 * The agent's group. At start it is made before the agent is planned, so a write the
 * kernel refuses leaves it on the fallback, with the reason. A reload only describes
 * it: the group is written at the agent's next spawn, once the reload went ahead.
 */
function groupFor(cgroups: Cgroups, agent: AgentManifest, write: boolean): { cgroup?: AgentGroup; cgroupWhy?: string } {
  if (!cgroups.driver) return { cgroupWhy: cgroups.why };
  try {
    const spec = groupSpecOf(agent);
    return { cgroup: write ? createGroup(cgroups.driver, agent.name, spec) : cgroups.driver.describe(agent.name, spec) };
  } catch (err) {
    return { cgroupWhy: (err as Error).message };
  }
}

/** Each named agent's plan against `machine`, and what this machine cannot apply of them. */
function planAgents(config: Manifests & { file?: string }, names: readonly string[], machine: Machine, accounts: Map<string, Account> | undefined, nodeArgs: string[] | undefined, cgroups: Cgroups, writeGroups: boolean): { plans: Plans; refused: string[] } {
  const plans: Plans = new Map();
  const refused: string[] = [];
  const scanned = new Map<string, Code['masks']>();
  for (const name of names) {
    const agent = config.agents[name]!;
    const code = codeOf(agent.run, config.dir, scanned);
    const group = groupFor(cgroups, agent, writeGroups);
    const plan = planSandbox(agent, { config, machine, account: accounts?.get(name), nodeArgs, code, cgroup: group.cgroup });
    const unreadable = machine.root ? codeReadable(code) : undefined;
    if (unreadable) plan.missing.push(unreadable);
    if (plan.missing.length) refused.push(...plan.missing.map((m) => `agents.${name}: ${m}`));
    // Assigned, not spread: a spread would render the plan's argv getters into copies (sandbox.ts).
    plans.set(name, Object.assign(plan, { weaker: plan.missing.length > 0, ...group }));
  }
  return { plans, refused };
}

function refuse(refused: string[], allowWeaker: boolean, what: string): void {
  if (refused.length && !allowWeaker) {
    throw new IsolationError(`${what}: these agents need isolation this machine cannot apply (or pass --allow-weaker-isolation to run them with less, loudly):\n${refused.map((r) => `  ${r}`).join('\n')}`);
  }
}

const accountsFor = (config: Manifests, machine: Machine): Map<string, Account> | undefined =>
  machine.root ? allocateAccounts(config.order.map((n) => ({ name: n, user: config.agents[n]!.user }))) : undefined;

export function planIsolation(config: Manifests & { file?: string }, opts: { allowWeaker: boolean; nodeArgs?: string[]; machine?: Machine; cgroups?: Cgroups }): IsolationPlans {
  const machine = opts.machine ?? probeMachine();
  const accounts = accountsFor(config, machine);
  // A machine passed in (a simulated host) brings its cgroups along, or has none: only the real one is probed.
  const cgroups = opts.cgroups ?? (opts.machine ? { driver: undefined, why: 'not probed: a machine was given without cgroups' } : detectCgroups({ stateDir: config.stateDir }));
  // What a SIGKILLed supervisor of this state directory left goes first: its processes, then its groups.
  let staleGroups: string[] = [];
  try {
    staleGroups = cgroups.driver?.prepare() ?? [];
  } catch (err) {
    throw new IsolationError(`not starting: cgroups at ${cgroups.driver!.where}: ${(err as Error).message}`);
  }
  const { plans, refused } = planAgents(config, config.order, machine, accounts, opts.nodeArgs, cgroups, true);
  try {
    refuse(refused, opts.allowWeaker, 'not starting');
  } catch (err) {
    cgroups.driver?.removeAll();
    throw err;
  }
  const domains = prepareDomains(config, accounts, { record: grantsRecord(config.stateDir) });
  const release = (): string[] => {
    const errors = domains.release();
    try {
      cgroups.driver?.removeAll();
    } catch (err) {
      errors.push((err as Error).message);
    }
    return errors;
  };
  return { machine, accounts, plans, cgroups, staleGroups, domains, release };
}

export interface Replan {
  accounts: Map<string, Account> | undefined;
  /** The named agents' new plans. */
  plans: Plans;
  /** Kept agents whose uid the new config's allocation moves (a new agent's name collided): they restart too. */
  uidMoved: string[];
}

/**
 * A reload's plans for the agents it starts (added, or changed), against the machine
 * probed at start; refused as at start. Nothing on disk changes here: the domains
 * are prepared by IsolationPlans.domains.extend once the reload goes ahead.
 */
export function replanIsolation(current: IsolationPlans, config: Manifests & { file?: string }, names: readonly string[], opts: { allowWeaker: boolean; nodeArgs?: string[] }): Replan {
  const accounts = accountsFor(config, current.machine);
  const uidMoved = config.order.filter((n) => !names.includes(n) && current.accounts?.get(n) && current.accounts.get(n)!.uid !== accounts?.get(n)?.uid);
  const { plans, refused } = planAgents(config, [...names, ...uidMoved], current.machine, accounts, opts.nodeArgs, current.cgroups, false);
  refuse(refused, opts.allowWeaker, 'not reloading');
  return { accounts, plans, uidMoved };
}

/** A reload's plans in force: the supervisor starts with these from now on. */
export function adoptPlans(current: IsolationPlans, replan: Replan, removed: readonly string[]): void {
  for (const name of removed) current.plans.delete(name);
  for (const [name, plan] of replan.plans) current.plans.set(name, plan);
  current.accounts = replan.accounts;
}

/**
 * An agent's process has exited: when a reload removed the agent (its plan is gone),
 * its cgroup goes too. Groups of agents still configured stay for their next start;
 * all of them go at stop (IsolationPlans.release).
 */
export function releaseGroupOf(current: IsolationPlans, name: string): string | undefined {
  if (current.plans.has(name) || !current.cgroups.driver) return undefined;
  try {
    current.cgroups.driver.remove(name);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
