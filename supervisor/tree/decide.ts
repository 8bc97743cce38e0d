// The supervision decisions, as a pure state machine: the runtime reports starts and
// exits, the machine answers with actions. No processes, timers or I/O live here, so
// every OTP rule can be tested without spawning (supervisor.ts carries the actions out).
// Two rules for too many restarts live side by side: OTP's (a supervisor over its
// intensity escalates) and systemd's (a child over its own start limit is failed, and
// the rest run on); Policy.escalate and ChildSpec.startLimit choose per supervisor.
// (About 300 lines: one machine, whose rules refer to each other; reshape carries its state over.)
import { countFailure, restartDelay } from './backoff.js';
import { RestartHistory } from './intensity.js';
import type { Action, ChildState, ChildSpec, Policy, RestartType, StartLimit, TreeSpec } from './spec.js';

interface Agent {
  kind: 'agent';
  name: string;
  restart: RestartType;
  parent: Group;
  state: ChildState;
  startedAt: number | undefined;
  /** Consecutive failures, as seen by the parent (drives the backoff). */
  streak: number;
  /** Its restarts for failures, against its start limit (none: no limit). */
  starts: RestartHistory | undefined;
}

interface Group {
  kind: 'group';
  name: string;
  policy: Policy;
  parent: Group | undefined; // undefined: the root
  children: Child[];
  history: RestartHistory;
  /** First agent start since this group was last (re)started. */
  startedAt: number | undefined;
  streak: number;
  starts: RestartHistory | undefined;
  /** Over its start limit: its agents are failed until the operator restarts one. */
  failed: boolean;
  /** Over its intensity without escalating: said once per episode. */
  over: boolean;
}

type Child = Agent | Group;

const agentsIn = (c: Child): Agent[] => (c.kind === 'agent' ? [c] : c.children.flatMap(agentsIn));
const namesOf = (agents: Agent[]): string[] => agents.map((a) => a.name);
const labelOf = (g: Group): string => (g.parent ? `group ${g.name}` : 'root supervisor');
const historyOf = (limit: StartLimit | undefined): RestartHistory | undefined =>
  limit && limit.intervalMs > 0 ? new RestartHistory(limit.burst, limit.intervalMs) : undefined;

const resized = (old: RestartHistory | undefined, now: RestartHistory | undefined): RestartHistory | undefined =>
  old && now ? old.resized(now.intensity, now.periodMs) : now;

function carryAgent(old: Agent, now: Agent): void {
  Object.assign(now, { state: old.state, startedAt: old.startedAt, streak: old.streak, starts: resized(old.starts, now.starts) });
}

function carryGroup(old: Group, now: Group): void {
  Object.assign(now, {
    history: old.history.resized(now.history.intensity, now.history.periodMs), startedAt: old.startedAt,
    streak: old.streak, starts: resized(old.starts, now.starts), failed: old.failed, over: old.over,
  });
}

export class SupervisionTree {
  private root: Group;
  private readonly agents = new Map<string, Agent>();
  private readonly groups = new Map<string, Group>();
  private shutDown = false;

  constructor(spec: TreeSpec) {
    this.root = this.build({ kind: 'group', name: 'root', ...spec }, undefined);
  }

  /** The runtime started `agent` (spawned it) at `now`. */
  started(agent: string, now: number): void {
    const a = this.agent(agent);
    a.state = 'running';
    a.startedAt = now;
    for (let g: Group | undefined = a.parent; g; g = g.parent) g.startedAt ??= now;
  }

  /** An agent exited without the runtime having asked it to; returns what to do about it. */
  exited(agent: string, exit: { abnormal: boolean }, now: number): Action[] {
    const a = this.agent(agent);
    if (this.shutDown || a.state !== 'running') return []; // stale: already handled
    const how = exit.abnormal ? 'exited abnormally' : 'exited normally';
    if (a.restart === 'temporary' || (a.restart === 'transient' && !exit.abnormal)) {
      a.state = 'removed';
      return [{ type: 'remove', agent, reason: `${agent} ${how} and is ${a.restart}: not restarted` }];
    }
    a.state = 'pending';
    const actions: Action[] = [];
    this.restartChild(a.parent, a, `${agent} ${how}`, now, actions);
    return actions;
  }

  /** Operator stop: not a failure; the agent stays stopped until started or restarted again. */
  stopped(agent: string): void {
    this.agent(agent).state = 'removed';
  }

  /**
   * Operator restart of one agent: not a failure, so it neither counts toward intensity
   * nor backs off, and it forgets the agent's start limit (systemd's reset-failed). In a
   * failed group the whole group comes back, as when its parent restarts it. Returns
   * the agents to start: this one, and the rest of a revived group.
   */
  restartRequested(agent: string): string[] {
    const a = this.agent(agent);
    let revived: Group | undefined;
    for (let g: Group | undefined = a.parent; g; g = g.parent) if (g.failed) revived = g;
    a.state = 'pending';
    a.streak = 0;
    a.starts?.clear();
    if (!revived) return [agent];
    revived.failed = false;
    revived.starts?.clear();
    revived.streak = 0;
    this.refresh(revived);
    return namesOf(agentsIn(revived));
  }

  /**
   * The tree of a reloaded config, in place (the runtime holds this object). Children
   * kept (same name, not in `fresh`) carry over their state, start time, failure streak
   * and restart histories, the histories judged by the new limits; kept groups keep
   * their intensity window. New children, and those in `fresh` (a changed agent, a
   * rebuilt group and what is in it), start over: pending, with no history. The root
   * is never rebuilt: its policy, strategy included, changes in place.
   */
  reshape(spec: TreeSpec, fresh: { agents: ReadonlySet<string>; groups: ReadonlySet<string> }): void {
    const was = { root: this.root, agents: new Map(this.agents), groups: new Map(this.groups) };
    this.agents.clear();
    this.groups.clear();
    this.root = this.build({ kind: 'group', name: 'root', ...spec }, undefined);
    carryGroup(was.root, this.root);
    for (const [name, a] of this.agents) {
      const old = was.agents.get(name);
      if (old && !fresh.agents.has(name)) carryAgent(old, a);
    }
    for (const [name, g] of this.groups) {
      const old = was.groups.get(name);
      if (old && !fresh.groups.has(name)) carryGroup(old, g);
    }
  }

  /** Whether the tree has this agent (a reload may have taken it out). */
  has(agent: string): boolean {
    return this.agents.has(agent);
  }

  /** The group's restart policy as the tree now judges by it ('root': the root's). */
  policyOf(group: string): Policy {
    const g = group === 'root' ? this.root : this.groups.get(group);
    if (!g) throw new Error(`unknown group "${group}"`);
    return g.policy;
  }

  /** Restarts within the group's intensity window now ('root': the root's). */
  restartsOf(group: string, now: number): number {
    const g = group === 'root' ? this.root : this.groups.get(group);
    return g ? g.history.count(now) : 0;
  }

  state(agent: string): ChildState {
    return this.agent(agent).state;
  }

  /** All agent names, depth-first, in start order. */
  startOrder(): string[] {
    return namesOf(agentsIn(this.root));
  }

  agentsOf(group: string): string[] {
    const g = this.groups.get(group);
    if (!g) throw new Error(`unknown group "${group}"; expected one of: ${[...this.groups.keys()].join(', ') || '(none)'}`);
    return namesOf(agentsIn(g));
  }

  // ---- the OTP rules ----------------------------------------------------------

  /**
   * `child` of `sup` failed (an agent crashed, or a group escalated): escalate (OTP),
   * fail the child alone (its start limit), or restart by strategy. An escalating
   * supervisor's intensity is judged first: inside it, OTP's rule holds.
   */
  private restartChild(sup: Group, child: Child, why: string, now: number, actions: Action[]): void {
    const withinIntensity = sup.history.record(now);
    if (!withinIntensity && sup.policy.escalate) return this.escalate(sup, why, actions, now);
    if (child.starts && !child.starts.record(now)) return this.fail(child, why, actions);
    if (withinIntensity) sup.over = false;
    else if (!sup.over) {
      sup.over = true;
      const { intensity, periodMs } = sup.policy;
      actions.push({ type: 'over_intensity', group: sup.parent ? sup.name : 'root', reason: `${labelOf(sup)}: more than ${intensity} restart(s) within ${periodMs}ms (last: ${why}); escalate is off, so it restarts on` });
    }
    const { strategy, backoff } = sup.policy;
    child.streak = countFailure(child.streak, child.startedAt, now, backoff);
    const at = sup.children.indexOf(child);
    const targets =
      strategy === 'one_for_one' ? [child] : strategy === 'one_for_all' ? sup.children : sup.children.slice(at);
    const reason = `${strategy} in ${labelOf(sup)}: ${why}`;

    const stopping = targets.flatMap(agentsIn).filter((a) => a.state === 'running').reverse();
    if (stopping.length) actions.push({ type: 'stop', agents: namesOf(stopping), reason });
    for (const t of targets) {
      // OTP never restarts a temporary child, not even one a sibling's death terminated.
      if (t.kind === 'agent' && t.restart === 'temporary' && stopping.includes(t)) {
        t.state = 'removed';
        actions.push({ type: 'remove', agent: t.name, reason: `${t.name} is temporary: not restarted (${reason})` });
      }
      if (t.kind === 'group') this.refresh(t);
    }
    // A failed sibling stays failed (until the operator restarts it); a restarted group (refreshed above) starts them all.
    const starting = targets.flatMap(agentsIn).filter((a) => a.state !== 'removed' && a.state !== 'failed');
    for (const a of starting) a.state = 'pending';
    // The failed child's streak sets the pace, also when its siblings restart with it.
    actions.push({ type: 'start', agents: namesOf(starting), delayMs: restartDelay(child.streak, backoff), reason });
  }

  /** `sup` exceeded its intensity: it stops its agents and fails in its own parent, or ends everything. */
  private escalate(sup: Group, why: string, actions: Action[], now: number): void {
    const { intensity, periodMs } = sup.policy;
    const reason = `${labelOf(sup)}: more than ${intensity} restart(s) within ${periodMs}ms (last: ${why})`;
    const scope = agentsIn(sup);
    const running = scope.filter((a) => a.state === 'running').reverse();
    if (!sup.parent) {
      // The runtime needs the full stop list even when it is empty: it precedes the exit.
      this.shutDown = true;
      for (const a of scope) a.state = 'removed';
      actions.push({ type: 'stop', agents: namesOf(running), reason });
      actions.push({ type: 'shutdown', exitCode: 1, reason });
      return;
    }
    for (const a of running) a.state = 'pending'; // until the parent decides: restart, or escalate further
    if (running.length) actions.push({ type: 'stop', agents: namesOf(running), reason });
    actions.push({ type: 'escalate', group: sup.name, reason });
    // A group is a permanent child of its parent, and its escalation is an abnormal exit.
    this.restartChild(sup.parent, sup, `group ${sup.name} escalated`, now, actions);
  }

  /** `child` restarted more than its start limit allows: it alone is failed, and stays so until the operator restarts it. */
  private fail(child: Child, why: string, actions: Action[]): void {
    const { intensity: burst, periodMs: interval } = child.starts!;
    const label = child.kind === 'group' ? `group ${child.name}` : child.name;
    const reason = `${label}: more than ${burst} restart(s) within ${interval}ms (last: ${why}): failed until \`outheis restart\``;
    const scope = agentsIn(child).filter((a) => a.state !== 'removed');
    const running = scope.filter((a) => a.state === 'running').reverse();
    if (running.length) actions.push({ type: 'stop', agents: namesOf(running), reason });
    for (const a of scope) a.state = 'failed';
    if (child.kind === 'group') child.failed = true;
    actions.push({ type: 'fail', agents: namesOf(scope), reason });
  }

  /** A restarted group is a new supervisor: empty histories, every child spec started again (failed ones too). */
  private refresh(g: Group): void {
    g.history.clear();
    g.startedAt = undefined;
    g.over = false;
    for (const c of g.children) {
      c.streak = 0;
      c.starts?.clear();
      if (c.kind === 'group') {
        c.failed = false;
        this.refresh(c);
      } else c.state = 'pending';
    }
  }

  // ---- construction and lookup ------------------------------------------------

  private build(spec: ChildSpec & { kind: 'group' }, parent: Group | undefined): Group {
    const { intensity, periodMs } = spec.policy;
    const g: Group = {
      kind: 'group', name: spec.name, policy: spec.policy, parent, children: [],
      history: new RestartHistory(intensity, periodMs), startedAt: undefined, streak: 0,
      starts: historyOf(spec.startLimit), failed: false, over: false,
    };
    if (parent) this.claim(this.groups, g, 'group');
    for (const c of spec.children) {
      if (c.kind === 'group') {
        g.children.push(this.build(c, g));
        continue;
      }
      const a: Agent = { kind: 'agent', name: c.name, restart: c.restart, parent: g, state: 'pending', startedAt: undefined, streak: 0, starts: historyOf(c.startLimit) };
      this.claim(this.agents, a, 'agent');
      g.children.push(a);
    }
    return g;
  }

  private claim<T extends Child>(names: Map<string, T>, node: T, kind: string): void {
    if (names.has(node.name)) throw new Error(`${kind} "${node.name}" appears twice in the supervision tree`);
    names.set(node.name, node);
  }

  private agent(name: string): Agent {
    const a = this.agents.get(name);
    if (!a) throw new Error(`unknown agent "${name}"; expected one of: ${[...this.agents.keys()].join(', ') || '(none)'}`);
    return a;
  }
}
