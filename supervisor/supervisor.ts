// The supervisor: runs the agents of one config under the supervision tree.
// Decisions (what to restart, when to escalate) come from the pure
// SupervisionTree; this module carries them out with real processes, and is the
// API an embedder, the control socket and tests use. The rest is in modules of
// its own: starting (starter.ts), exits and faults (exits.ts), limits (limits.ts),
// and the journal's side (recovery.ts, snapshot.ts, retention.ts), hang and stall
// detection (watchdog.ts), reloads (reload/), schedules (schedules/), other hosts (remote/). About 400 lines: the embedder's API,
// the carrying out of the tree's actions and the wiring of a reload into the
// supervisor's internals are one object's job.
import { EventEmitter } from 'node:events';
import type { Logger } from '../logs/logger.js';
import { releaseGroupOf, type IsolationPlans } from '../policies/isolation.js';
import { AgentSlot, AgentSlots, type AgentStatus } from './agent-slot.js';
import type { Config } from './config/index.js';
import { Exits } from './exits.js';
import { JournalFailures } from './journal-failures.js';
import { enforceLimits, samplingTargets } from './limits.js';
import { ResourceSampler } from './metrics.js';
import { OperatorOutlet } from './operator.js';
import { recover } from './recovery.js';
import type { Reports } from './reports.js';
import { keepCheckpoint, Retention } from './retention.js';
import { OPERATOR, Router } from './router/index.js';
import { snapshot } from './snapshot.js';
import { Starter } from './starter.js';
import { terminate } from './terminate.js';
import { treeSpecOf } from './tree-spec.js';
import { SupervisionTree, type Action } from './tree/index.js';
import { VERSION } from './version.js';
import { Watchdog } from './watchdog.js';
import { reload, ReloadRefused } from './reload/index.js';
import { routeSpecOf } from './reload/apply.js';
import type { ReloadResult } from './control/protocol.js';
import type { Journal } from '../logs/journal/journal.js';
import type { LineSink } from '../logs/lines.js';
import type { StateView } from '../logs/journal/replay.js';
import { Scheduler } from './schedules/scheduler.js';
import { SCHEDULER, type ScheduleStatus } from './schedules/spec.js';
import { ScheduleTap } from './schedules/tap.js';
import { remoteAgents } from './remote/routes.js';
import type { RemoteAgent } from './remote/origin.js';
import type { ClusterMember } from './remote/index.js';

export type { AgentState, AgentStatus, LastExit } from './agent-slot.js';
export type { SupervisorEvents } from './reports.js';

export interface SupervisorOptions {
  log: Logger;
  /** Max bytes kept of one stdout/stderr line (default: logs.maxLine). */
  maxLogLine?: number;
  /** Extra node flags for every agent (tests and benchmarks). */
  nodeArgs?: string[];
  /** Where agents' output lines go, with backpressure (logs/agent-output.ts); they are also emitted as 'output'. */
  output?: (agent: string, stream: 'stdout' | 'stderr') => LineSink;
  /**
   * How each agent is confined (policies/isolation.ts planIsolation). Without it
   * agents run as plain node processes with a scrubbed environment, and `status`
   * says they run weaker than their manifests: for tests and benchmarks of the
   * supervisor itself. `outheis start` always plans.
   */
  isolation?: IsolationPlans;
  /** Whether a reload may run a new manifest with less isolation than it asks for (`start --allow-weaker-isolation`). */
  allowWeakerIsolation?: boolean;
  /**
   * Where accepted messages, deliveries, acks, checkpoints and lifecycle events are
   * made durable (`outheis start` always opens one). Without it messages live in
   * memory only: for tests and benchmarks of routing itself.
   */
  journal?: Journal;
}

/** Emits the events of SupervisorEvents (reports.ts). */
export class Supervisor extends EventEmitter {
  readonly router: Router;
  readonly tree: SupervisionTree;
  readonly operator: OperatorOutlet;
  readonly sampler: ResourceSampler;
  readonly startedAt = Date.now();
  /** Agents on other hosts (`cluster.agents`): routes whose outlet is the cluster link. */
  readonly remote: RemoteAgent[];
  /** The cluster link, once joinCluster() ran (only with `cluster:` in the config). */
  cluster: ClusterMember | undefined;
  private readonly slots: AgentSlots;
  private readonly reports: Reports;
  private readonly starter: Starter;
  private readonly exits: Exits;
  private readonly retention: Retention | undefined;
  private readonly journalFailures: JournalFailures;
  private actions: Promise<void> = Promise.resolve();
  private readonly watchdog: Watchdog;
  /** Runs the config's schedules; only with a journal, which is what proves a slot fired. */
  private readonly scheduler: Scheduler | undefined;
  private halting = false;
  private reloadRunning = false;
  /** The config in force: the one started with, then each applied reload's. */
  private current: Config;
  private finished!: (code: number) => void;
  /** Resolves with the process exit code once everything has stopped. */
  readonly done: Promise<number>;

  constructor(config: Config, private readonly opts: SupervisorOptions) {
    super();
    this.current = config;
    const { log, journal } = opts;
    this.done = new Promise((resolve) => (this.finished = resolve));
    const reports: Reports = this.reports = {
      log,
      note: (rec) => journal?.note(rec),
      emit: (event, ...args) => void this.emit(event, ...args),
    };
    const halting = () => this.halting;
    const tap = journal && new ScheduleTap(journal);
    this.journalFailures = new JournalFailures(log);
    this.router = new Router({
      // The operator sends through the same Outbox window as agents, so it cannot flood; were it to, there is no process to kill.
      // A sender on another host has no process here: its own supervisor bounds it (and the consumer's max_ack_pending ours).
      fault: (agent, reason) => (agent === OPERATOR || agent === SCHEDULER || agent.includes('@') ? log.warn({ sender: agent, reason }, `${agent} over its send window`) : this.exits.fault(this.slots.get(agent), reason)),
      denied: (from, to, kind) => {
        log.warn({ agent: from, to, kind }, 'send denied: not pledged');
        reports.note({ type: 'denied', agent: from, to, kind });
      },
      checkpointed: (agent, state, segment) => keepCheckpoint(this.slots.get(agent), state, segment, journal),
      deadLettered: (env, reason) => this.exits.deadLettered(env, reason),
      journalFailed: (err, refused) => this.journalFailures.failed(err, refused),
    }, { journal: tap, maxAttempts: config.journal.maxAttempts });
    this.operator = new OperatorOutlet(this.router, this.router.operator);
    this.tree = new SupervisionTree(treeSpecOf(config));
    this.slots = new AgentSlots(config.order.map((name) => {
      const cfg = config.agents[name]!;
      return new AgentSlot(cfg, this.router.add(routeSpecOf(cfg)));
    }));
    this.remote = config.cluster ? remoteAgents(this.router, config.cluster) : [];
    const { slots, router, tree } = this;
    this.exits = new Exits({ ...reports, slots, router, tree, halting, carryOut: (actions) => this.enqueue(actions), released: (name) => (opts.isolation ? releaseGroupOf(opts.isolation, name) : undefined) });
    const fault = (slot: AgentSlot, reason: string) => this.exits.fault(slot, reason);
    this.watchdog = new Watchdog(slots, { log, fault });
    this.starter = new Starter({
      ...reports, slots, router, tree, halting, fault, deadline: this.watchdog.deadline,
      cwd: config.dir, isolation: opts.isolation, nodeArgs: opts.nodeArgs, output: opts.output, maxLogLine: opts.maxLogLine ?? config.logs.maxLine,
      exited: (slot, proc, info, spawnError) => this.exits.exited(slot, proc, info, spawnError),
    });
    const limits = { ...reports, fault };
    this.sampler = new ResourceSampler({
      intervalMs: config.metrics.interval,
      targets: () => samplingTargets(slots),
      sampled: (name, pid, usage) => enforceLimits(limits, slots.get(name), pid, usage),
    });
    this.retention = journal && new Retention(journal, slots, log, tap?.marks, this.remote.map((r) => r.route));
    this.scheduler = tap && new Scheduler(router, tap, log, config.schedules);
    if (!tap && Object.keys(config.schedules).length) log.warn('schedules need a journal: none will fire');
  }

  /**
   * Join the cluster when the config has `cluster:`: loads NATS (only then) and connects
   * in the background. Before start(), so that a recovered request from another host
   * finds the route its reply goes back through.
   */
  async joinCluster(): Promise<void> {
    const cfg = this.config.cluster;
    if (!cfg || this.cluster) return;
    const { joinCluster } = await import('./remote/index.js');
    this.cluster = joinCluster(cfg, {
      router: this.router, remote: this.remote, journal: this.opts.journal, log: this.opts.log,
      pledges: () => Object.fromEntries(Object.values(this.config.agents).map((a) => [a.name, a.pledge])),
    });
  }

  /** Start every agent (concurrently, except where `after` orders them). */
  start(): void {
    const { journal, log } = this.opts;
    if (journal) {
      recover(journal, { router: this.router, slots: this.slots, log, scheduler: this.scheduler });
      this.reports.note({ type: 'start', pid: process.pid, config: this.config.file, version: VERSION });
      this.retention!.start(this.config.journal.retain);
    }
    this.sampler.start();
    this.watchdog.start();
    log.info({ agents: this.config.order.length, config: this.config.file }, 'supervisor starting');
    for (const slot of this.slots) this.starter.schedule(slot, 0);
    this.scheduler?.start();
  }

  // ---- carrying out decisions ------------------------------------------------

  private enqueue(actions: Action[]): void {
    if (!actions.length) return;
    this.actions = this.actions.then(() => this.execute(actions)).catch((err: Error) => {
      this.opts.log.error({ err: err.message }, 'supervision action failed');
    });
  }

  private async execute(actions: Action[]): Promise<void> {
    const { log, note, emit } = this.reports;
    for (const a of actions) {
      if (this.halting && a.type !== 'shutdown') continue;
      switch (a.type) {
        case 'stop':
          log.info({ agents: a.agents, reason: a.reason }, 'stopping for restart');
          for (const name of a.agents) await this.stopAgent(name);
          break;
        case 'start':
          log.info({ agents: a.agents, delayMs: a.delayMs, reason: a.reason }, 'restarting');
          for (const name of a.agents) {
            const slot = this.slots.get(name);
            slot.restarts++;
            note({ type: 'restart', agent: name, delayMs: a.delayMs, reason: a.reason });
            emit('restart', name, a.delayMs, a.reason);
            this.starter.schedule(slot, a.delayMs);
          }
          break;
        case 'remove': {
          const slot = this.slots.get(a.agent);
          this.remove(slot, slot.lastExit?.clean === false ? 'failed' : 'stopped', a.reason);
          break;
        }
        case 'fail':
          for (const name of a.agents) {
            note({ type: 'limit', agent: name, limit: 'start', reason: a.reason });
            this.remove(this.slots.get(name), 'failed', a.reason);
          }
          log.error({ agents: a.agents, reason: a.reason }, `start limit hit: failed until \`outheis restart ${a.agents[0]}\`; the rest run on`);
          break;
        case 'over_intensity':
          log.warn({ group: a.group, reason: a.reason }, 'over its restart intensity: restarting on (escalate: false)');
          break;
        case 'escalate':
          log.error({ group: a.group, reason: a.reason }, 'group escalated to its parent');
          note({ type: 'escalate', group: a.group, reason: a.reason });
          emit('escalate', a.group, a.reason);
          break;
        case 'shutdown':
          log.fatal({ reason: a.reason, code: a.exitCode }, 'root supervisor exceeded its restart intensity: shutting down');
          note({ type: 'escalate', group: 'root', reason: a.reason });
          emit('escalate', 'root', a.reason);
          await this.halt(a.exitCode);
          break;
      }
    }
  }

  /** Not restarted (its restart type, or its start limit): messages to it are refused, its dependants no longer wait. */
  private remove(slot: AgentSlot, state: 'stopped' | 'failed', reason: string): void {
    slot.state = state;
    const dropped = this.router.remove(slot.route);
    this.opts.log.info({ agent: slot.name, reason, dropped: dropped.length }, 'not restarted');
    this.reports.emit('removed', slot.name, reason);
    this.starter.wakeDependents(slot.name);
  }

  /** Graceful stop of one agent (see terminate.ts); its exit is not a failure, and the tree is not told. */
  private async stopAgent(name: string): Promise<void> {
    const slot = this.slots.get(name);
    clearTimeout(slot.backoffTimer);
    if (!slot.proc) {
      slot.state = 'stopped';
      return;
    }
    slot.stopping = true;
    slot.state = 'stopping';
    await terminate(slot, this.opts.log, this.watchdog.deadline);
  }

  // ---- the operator's verbs ---------------------------------------------------

  /** Operator stop of one agent: it stays stopped, even when its siblings restart. */
  async stop(name: string): Promise<void> {
    this.tree.stopped(name);
    await this.stopAgent(name);
  }

  /** Stop everything in reverse start order and finish with `code`. */
  async halt(code = 0): Promise<number> {
    if (!this.halting) {
      this.halting = true;
      this.reports.emit('halting', code);
      this.watchdog.stop();
      this.scheduler?.stop();
      this.retention?.stop();
      this.sampler.stop();
      for (const name of [...this.config.order].reverse()) await this.stopAgent(name);
      await this.cluster?.close().catch((err: Error) => this.opts.log.warn({ err: err.message }, 'cluster: closing the link failed'));
      this.reports.note({ type: 'stop', code });
      this.opts.log.info({ code }, 'supervisor stopped');
      this.finished(code);
    }
    return this.done;
  }

  /**
   * Operator restart of one agent: not a failure, does not count toward intensity, and
   * clears a failed agent's start limit (in a failed group, the whole group comes back).
   */
  async restart(name: string): Promise<void> {
    await this.stopAgent(name);
    for (const agent of this.tree.restartRequested(name)) {
      const slot = this.slots.get(agent);
      if (agent !== name && slot.proc) continue;
      slot.restarts++;
      this.reports.note({ type: 'restart', agent, delayMs: 0, reason: 'operator restart' });
      this.starter.schedule(slot, 0);
    }
  }

  /**
   * Re-read the config file and apply only the difference (supervisor/reload/).
   * Resolves once the agents it started are ready (or out of time); a config that
   * does not validate resolves ok: false with its issues, and nothing changes.
   * Throws ReloadRefused while another reload runs or a stop is under way.
   */
  async reload(): Promise<ReloadResult> {
    if (this.halting) throw new ReloadRefused('ESHUTDOWN', 'the supervisor is stopping: not reloading');
    if (this.reloadRunning) throw new ReloadRefused('EBUSY', 'a reload is in progress: not starting another (try again once it has finished)');
    this.reloadRunning = true;
    try {
      const { slots, router, tree, starter } = this;
      return await reload({
        ...this.reports, slots, router, tree, starter, isolation: this.opts.isolation,
        allowWeaker: this.opts.allowWeakerIsolation === true, nodeArgs: this.opts.nodeArgs,
        running: () => this.current,
        adopt: (cfg) => {
          this.current = cfg;
          this.scheduler?.configure(cfg.schedules);
        },
        stopAgent: (name) => this.stopAgent(name),
        serialize: (step) => {
          const done = this.actions.then(step);
          this.actions = done.then(() => undefined, () => undefined);
          return done;
        },
        whenReady: (name, ms) => this.whenReady(name, ms),
      });
    } finally {
      this.reloadRunning = false;
    }
  }

  /** The config in force (a reload replaces it). */
  get config(): Config {
    return this.current;
  }

  // ---- what it can be asked -----------------------------------------------------

  status(): AgentStatus[] {
    const now = Date.now();
    return [...this.slots].map((slot) => slot.status(now, this.sampler.usage(slot.name, slot.proc?.agentPid)));
  }

  /** Each schedule: target, timing, last and next fire, skipped slots. */
  schedules(): ScheduleStatus[] {
    return this.scheduler?.status() ?? [];
  }

  /** The live state in replay's shape (snapshot.ts). */
  async snapshot(): Promise<StateView> {
    const journal = this.opts.journal;
    if (!journal) throw new Error('this supervisor runs without a journal');
    return snapshot({ journal, router: this.router, slots: this.slots, halting: () => this.halting, deadLetters: () => this.exits.deadLetters, schedules: this.scheduler?.marks });
  }

  /** One retention pass (see logs/journal/journal.ts); also run by tests. */
  async sweep(): Promise<void> {
    await this.retention?.sweep();
  }

  /** Called by the journal when a record nobody waits for could not be written. */
  noteFailed(err: Error): void {
    this.journalFailures.failed(err, 0);
  }

  get journal(): Journal | undefined {
    return this.opts.journal;
  }

  /** True once a stop of everything has begun. */
  get stopping(): boolean {
    return this.halting;
  }

  has(name: string): boolean {
    return this.slots.has(name);
  }

  /** Resolves when the agent is ready (true), or has exited or run out of time (false). */
  whenReady(name: string, timeoutMs: number): Promise<boolean> {
    if (this.slots.get(name).state === 'running') return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.off('ready', onReady);
        this.off('removed', onGone);
        resolve(ok);
      };
      const onReady = (agent: string) => agent === name && done(true);
      const onGone = (agent: string) => agent === name && done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.on('ready', onReady);
      this.on('removed', onGone);
    });
  }

  /** The agent's node process (inside its sandbox, not bubblewrap's). */
  pid(name: string): number | undefined {
    return this.slots.get(name).pid;
  }
}
