// The supervisor: runs the agents of one config under the supervision tree.
// Decisions (what to restart, when to escalate) come from the pure
// SupervisionTree; this module only carries them out with real processes.
import { EventEmitter } from 'node:events';
import type { Logger } from '../logs/logger.js';
import { forEachLine } from '../logs/lines.js';
import { AgentLink } from './agent-link.js';
import { childrenByParent, descendantsOf, findSandboxedNode, spawnAgent, type AgentProcess, type ExitInfo } from './agent-process.js';
import { planUnsandboxed, type SandboxPlan } from '../policies/sandbox.js';
import type { IsolationPlans } from '../policies/isolation.js';
import { AgentSlot, type AgentStatus } from './agent-slot.js';
import type { Config } from './config/index.js';
import { OperatorOutlet } from './operator.js';
import { acceptRecord, OPERATOR, Router } from './router.js';
import { treeSpecOf } from './tree-spec.js';
import { terminate } from './terminate.js';
import { SupervisionTree, type Action } from './tree/index.js';
import { hung, watchdogPeriod } from './watchdog.js';
import { ResourceSampler, type Usage } from './metrics.js';
import { formatMiB } from './units-format.js';
import type { Journal } from '../logs/journal/journal.js';
import type { AnyNewRecord } from '../logs/journal/schema.js';
import type { Envelope } from './mailbox.js';
import { VERSION } from './version.js';
import { decodeState, type StateView } from '../logs/journal/replay.js';

/** limits.cpu is a sustained share: a burst over it is normal, this many samples in a row is not. */
export const CPU_OVER_SAMPLES = 5;

export type { AgentState, AgentStatus, LastExit } from './agent-slot.js';

export interface SupervisorOptions {
  log: Logger;
  /** Max bytes kept of one stdout/stderr line (default: logs.max_line). */
  maxLogLine?: number;
  /** Extra node flags for every agent (tests and benchmarks). */
  nodeArgs?: string[];
  /**
   * How each agent is confined (policies/isolation.ts planIsolation). Without it
   * agents run as plain node processes with a scrubbed environment, and `status`
   * says they run weaker than their manifests: for tests and benchmarks of the
   * supervisor itself. `outheis start` always plans.
   */
  isolation?: IsolationPlans;
  /**
   * Where accepted messages, deliveries, acks, checkpoints and lifecycle events are
   * made durable (`outheis start` always opens one). Without it messages live in
   * memory only: for tests and benchmarks of routing itself.
   */
  journal?: Journal;
}

/** How often a journal that keeps failing (a full disk) is reported. */
const JOURNAL_ERROR_REPORT_MS = 5000;

export class Supervisor extends EventEmitter {
  readonly router: Router;
  readonly tree: SupervisionTree;
  readonly operator: OperatorOutlet;
  readonly sampler: ResourceSampler;
  readonly startedAt = Date.now();
  private readonly slots = new Map<string, AgentSlot>();
  private readonly order: string[];
  private actions: Promise<void> = Promise.resolve();
  private watchdog: NodeJS.Timeout | undefined;
  private halting = false;
  private finished!: (code: number) => void;
  private retention: NodeJS.Timeout | undefined;
  private journalErrors = { count: 0, last: 0, refused: 0 };
  private deadLetterCount = 0;
  /** Resolves with the process exit code once everything has stopped. */
  readonly done: Promise<number>;

  constructor(readonly config: Config, private readonly opts: SupervisorOptions) {
    super();
    this.done = new Promise((resolve) => (this.finished = resolve));
    this.router = new Router({
      // The operator sends through the same Outbox window as agents, so it cannot flood; were it to, there is no process to kill.
      fault: (agent, reason) => (agent === OPERATOR ? opts.log.warn({ reason }, 'operator over its send window') : this.fault(this.slot(agent), reason)),
      denied: (from, to, kind) => {
        opts.log.warn({ agent: from, to, kind }, 'send denied: not pledged');
        this.note({ type: 'denied', agent: from, to, kind });
      },
      checkpointed: (agent, state, segment) => this.checkpointed(agent, state, segment),
      deadLettered: (env, reason) => this.deadLettered(env, reason),
      journalFailed: (err, refused) => this.journalFailed(err, refused),
    }, { journal: opts.journal, maxAttempts: config.journal.max_attempts });
    this.operator = new OperatorOutlet(this.router, this.router.operator);
    this.tree = new SupervisionTree(treeSpecOf(config));
    this.sampler = new ResourceSampler({
      intervalMs: config.metrics.interval,
      targets: () => this.running(),
      sampled: (name, pid, usage) => this.checkLimits(this.slot(name), pid, usage),
    });
    this.order = config.order;
    for (const name of this.order) {
      const cfg = config.agents[name]!;
      const route = this.router.add({ name, qos: cfg.qos, pledge: cfg.pledge, mailbox: cfg.limits.mailbox, maxFrame: cfg.limits.frame });
      this.slots.set(name, new AgentSlot(cfg, route));
    }
  }

  private slot(name: string): AgentSlot {
    const slot = this.slots.get(name);
    if (!slot) throw new Error(`no agent named "${name}"`);
    return slot;
  }

  /**
   * What the sampler measures: each agent's node process, plus, for agents that may
   * start processes (pledge spawn), everything below it, found with one /proc scan
   * per round. Agents without the pledge cannot have children (the permission
   * model), so the scan is skipped when none has it.
   */
  private *running(): Iterable<[string, number[]]> {
    const spawners = [...this.slots.values()].filter((s) => s.proc?.agentPid && !s.fault && s.cfg.pledge.includes('spawn'));
    const tree = spawners.length ? childrenByParent() : undefined;
    for (const slot of this.slots.values()) {
      const pid = slot.proc?.agentPid;
      if (!pid || slot.fault) continue;
      // From the sandbox's root (bubblewrap), not from node: a daemonised grandchild is
      // re-parented to the namespace's init, and is still this agent's.
      yield [slot.name, tree && slot.cfg.pledge.includes('spawn') ? [pid, ...descendantsOf(slot.proc!.pid, tree).filter((p) => p !== pid)] : [pid]];
    }
  }

  /** Journal a record, if there is a journal; nobody waits for it. */
  private note(rec: AnyNewRecord): void {
    this.opts.journal?.note(rec);
  }

  /** Start every agent (concurrently, except where `after` orders them). */
  start(): void {
    if (this.opts.journal) this.recover(this.opts.journal);
    this.sampler.start();
    this.watchdog = setInterval(() => {
      for (const [slot, silentMs] of hung(this.slots.values(), Date.now())) {
        this.fault(slot, `hung: no heartbeat for ${silentMs} ms (limit ${slot.cfg.heartbeat} ms)`);
      }
    }, watchdogPeriod(this.slots.values()));
    this.opts.log.info({ agents: this.order.length, config: this.config.file }, 'supervisor starting');
    for (const name of this.order) this.scheduleStart(this.slot(name), 0);
  }

  // ---- the journal -------------------------------------------------------------

  /**
   * Put back what the journal says is still owed, before any agent starts: every
   * message accepted and not acked or dead-lettered goes back into its mailbox, in
   * id order, and each agent's latest checkpoint is handed to its first process.
   * After a crash a message may have been handled without its ack reaching the
   * journal, so everything owed is flagged redelivered; after a clean stop only
   * what was delivered before is.
   */
  private recover(journal: Journal): void {
    const state = journal.recovered;
    const crashed = state.supervisor.running;
    this.router.seedIds(state.maxId);
    let owed = 0;
    for (const m of [...state.owed.values()].sort((a, b) => a.id - b.id)) {
      owed++;
      this.router.restore({
        id: m.id, from: m.from, to: m.to, kind: m.kind, qos: m.qos, req: m.req, seq: 0,
        // No requester incarnation matches: a reply to a request from the last run goes nowhere.
        // A copy: the record's bytes are a view into its whole segment, which would stay in memory with it.
        fromEpoch: -1, body: Buffer.from(m.body),
        redelivered: crashed || m.attempts > 0, attempts: m.attempts, segment: m.segment, done: false,
      });
    }
    for (const [agent, c] of state.checkpoints) {
      const slot = this.slots.get(agent);
      if (slot) slot.checkpoint = { state: Buffer.from(c.state), segment: c.segment };
      else journal.release(c.segment);
    }
    // Handed over: the router and the slots own them now.
    state.owed.clear();
    state.checkpoints.clear();
    const rec = journal.recovery;
    this.opts.log[crashed ? 'warn' : 'info']({
      records: rec.records, lastSeq: rec.lastSeq, owed, checkpoints: state.checkpoints.size, truncatedBytes: rec.truncatedBytes,
      previousRun: crashed ? 'did not stop cleanly' : state.supervisor.runs ? 'stopped cleanly' : 'none',
    }, 'journal recovered');
    for (const m of rec.movedAside) {
      this.opts.log.error({ segment: m.file, offset: m.offset, movedTo: m.to, bytes: m.bytes, reason: m.reason, recordsInside: m.recordsInside },
        'journal damage moved aside: the records in it are not replayed; inspect the file, nothing was deleted');
    }
    this.note({ type: 'start', pid: process.pid, config: this.config.file, version: VERSION });
    const every = Math.min(60_000, Math.max(1000, Math.floor(this.config.journal.retain / 2)));
    this.retention = setInterval(() => void this.sweep(), every);
    this.retention.unref();
  }

  get journal(): Journal | undefined {
    return this.opts.journal;
  }

  /**
   * The live state in replay's shape (logs/journal/replay.ts), taken when everything
   * noted so far is committed, with the seq it is true at: `outheis replay --until
   * <seq>` of the same journal must say the same.
   */
  async snapshot(): Promise<StateView> {
    const journal = this.opts.journal;
    if (!journal) throw new Error('this supervisor runs without a journal');
    for (;;) {
      await journal.idle();
      // Nothing may have been noted between the commit and this turn of the microtask queue.
      if (journal.writer.quiet && this.router.settled) break;
    }
    const agents: StateView['agents'] = {};
    for (const name of [...this.order].sort()) {
      const slot = this.slot(name);
      const pending = [...slot.route.mailbox.all()].map((e) => e.id).sort((a, b) => a - b);
      const exit = slot.lastExit;
      agents[name] = {
        up: slot.proc !== undefined, pid: this.pid(name) ?? null, restarts: slot.restarts, pending,
        checkpoint: decodeState(slot.checkpoint?.state), deadLetters: slot.deadLetters,
        lastExit: exit ? { code: exit.code, signal: exit.signal, reason: exit.reason, clean: exit.clean } : null,
      };
    }
    return { seq: journal.writer.lastSeq, at: Date.now(), supervisor: { running: !this.halting, pid: process.pid, runs: journal.recovered.supervisor.runs + 1 }, agents, deadLetters: journal.recovered.deadLetters + this.deadLetterCount };
  }

  /** One retention pass (see logs/journal/journal.ts); also run by tests. */
  async sweep(): Promise<void> {
    const journal = this.opts.journal;
    if (!journal) return;
    try {
      await journal.sweep({ live: (segment) => this.liveIn(segment) });
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'journal retention failed');
    }
  }

  /** What is still live in a journal segment, for retention to copy forward. */
  private liveIn(segment: number): { records: AnyNewRecord[]; moved(to: number): void } {
    const envs: Envelope[] = [];
    const records: AnyNewRecord[] = [];
    for (const slot of this.slots.values()) {
      for (const e of slot.route.mailbox.all()) {
        if (e.segment !== segment || e.done) continue;
        envs.push(e);
        records.push(acceptRecord(e, e.attempts));
      }
    }
    const ckpts = [...this.slots.values()].filter((s) => s.checkpoint?.segment === segment).map((s) => ({ slot: s, ckpt: s.checkpoint! }));
    for (const { slot, ckpt } of ckpts) records.push({ type: 'checkpoint', agent: slot.name, state: ckpt.state });
    return {
      records,
      moved: (to) => {
        for (const e of envs) {
          if (e.done) this.opts.journal!.release(to); // settled while being carried
          else e.segment = to;
        }
        for (const { slot, ckpt } of ckpts) {
          if (slot.checkpoint === ckpt) ckpt.segment = to;
          else this.opts.journal!.release(to); // superseded meanwhile
        }
      },
    };
  }

  private checkpointed(agent: string, state: Buffer, segment: number): void {
    const slot = this.slot(agent);
    if (slot.checkpoint && slot.checkpoint.segment >= 0) this.opts.journal?.release(slot.checkpoint.segment);
    slot.checkpoint = { state, segment };
  }

  private deadLettered(env: Envelope, reason: string): void {
    const slot = this.slots.get(env.to);
    if (slot) slot.deadLetters++;
    this.deadLetterCount++;
    this.opts.log.warn({ agent: env.to, id: env.id, from: env.from, kind: env.kind, attempts: env.attempts, reason }, 'message dead-lettered');
    this.emit('deadletter', env.to, env.id, reason);
  }

  /** A failing journal (a full disk) is logged at most every few seconds, with what it cost. */
  private journalFailed(err: Error, refused: number): void {
    const e = this.journalErrors;
    e.count++;
    e.refused += refused;
    const now = Date.now();
    if (now - e.last < JOURNAL_ERROR_REPORT_MS) return;
    this.opts.log.error({ err: err.message, failures: e.count, refusedSends: e.refused }, 'journal write failed: sends are refused (EJOURNAL) until it can be written again; nothing accepted before is lost');
    e.last = now;
    e.count = 0;
    e.refused = 0;
  }

  /** Called by the journal when a record nobody waits for could not be written. */
  noteFailed(err: Error): void {
    this.journalFailed(err, 0);
  }

  // ---- starting ---------------------------------------------------------

  private scheduleStart(slot: AgentSlot, delayMs: number): void {
    // A newer decision replaces a pending one: there is only ever one backoff timer.
    clearTimeout(slot.backoffTimer);
    if (delayMs > 0) {
      slot.state = 'backoff';
      slot.backoffTimer = setTimeout(() => this.tryStart(slot), delayMs);
    } else {
      slot.state = 'starting';
      this.tryStart(slot);
    }
  }

  /** `after` is ordering: wait for a dependency that is on its way up, not for one that is stopped for good. */
  private blockedBy(slot: AgentSlot): string | undefined {
    return slot.cfg.after.find((dep) => {
      const state = this.slot(dep).state;
      return state === 'starting' || state === 'backoff';
    });
  }

  /** A dependency became ready, or will never be: retry the agents waiting on it. */
  private wakeDependents(name: string): void {
    for (const other of this.slots.values()) {
      if (other.state === 'starting' && !other.proc && other.cfg.after.includes(name)) this.tryStart(other);
    }
  }

  private tryStart(slot: AgentSlot): void {
    if (this.halting || slot.proc) return;
    slot.state = 'starting';
    if (this.blockedBy(slot)) return; // retried when a dependency becomes ready
    this.spawn(slot);
  }

  private planOf(slot: AgentSlot): SandboxPlan & { weaker: boolean } {
    return this.opts.isolation?.plans.get(slot.name) ?? { ...planUnsandboxed(slot.cfg, this.opts.nodeArgs), weaker: true };
  }

  private spawn(slot: AgentSlot): void {
    const { cfg } = slot;
    const log = this.opts.log;
    const plan = this.planOf(slot);
    slot.isolation = { layers: plan.layers, weaker: plan.weaker };
    let proc: AgentProcess;
    try {
      proc = spawnAgent({
        name: cfg.name, argv: plan.argv, namespaced: plan.namespaced, cwd: this.config.dir, env: cfg.env,
        heartbeatMs: cfg.heartbeat, maxFrame: cfg.limits.frame,
      });
    } catch (err) {
      log.error({ agent: cfg.name, err: (err as Error).message }, 'spawn failed');
      slot.proc = undefined;
      this.tree.started(cfg.name, Date.now());
      return this.exited(slot, undefined, { code: null, signal: null }, `spawn failed: ${(err as Error).message}`);
    }
    slot.proc = proc;
    slot.spawnedAt = Date.now();
    slot.readyAt = 0;
    slot.fault = undefined;
    slot.cpuOver = 0;
    const link = new AgentLink(proc.channel, cfg.limits.frame, {
      frame: (h, body) => (h.t === 'ready' ? this.ready(slot) : this.router.frame(slot.route, h, body)),
      batchEnd: () => this.router.flushAccepts(),
      fault: (reason) => this.fault(slot, reason),
    });
    slot.link = link;
    // The first frame, always: the SDK reads it before the agent's code runs (agent.restored).
    link.write({ t: 'init', restored: slot.checkpoint !== undefined }, slot.checkpoint?.state);
    this.router.attach(slot.route, link);
    const maxLine = this.opts.maxLogLine ?? this.config.logs.max_line;
    for (const [stream, src] of [['stdout', proc.stdout], ['stderr', proc.stderr]] as const) {
      // Where lines go (the agent's log file, the console) is the listener's business.
      forEachLine(src, maxLine, (line, truncated) => this.emit('output', cfg.name, stream, line, truncated));
    }
    slot.startTimer = setTimeout(() => this.fault(slot, `not ready within ${cfg.start_timeout} ms`), cfg.start_timeout);
    this.tree.started(cfg.name, slot.spawnedAt);
    log.info({ agent: cfg.name, pid: proc.pid }, 'spawned');
    this.note({ type: 'spawn', agent: cfg.name, pid: proc.pid });
    this.emit('spawn', cfg.name, proc.pid);
    proc.exited.then((info) => this.exited(slot, proc, info));
  }

  private ready(slot: AgentSlot): void {
    if (slot.readyAt) return;
    clearTimeout(slot.startTimer);
    slot.readyAt = Date.now();
    slot.state = 'running';
    // Up and talking, so node exists inside its sandbox by now: learn its real pid (for sampling, signals, status).
    if (slot.proc && slot.proc.agentPid === undefined) slot.proc.agentPid = findSandboxedNode(slot.proc.pid);
    this.note({ type: 'ready', agent: slot.name, pid: slot.proc?.agentPid ?? slot.proc?.pid ?? null });
    this.router.ready(slot.route);
    this.opts.log.info({ agent: slot.cfg.name, pid: slot.proc?.agentPid ?? slot.proc?.pid, ms: slot.readyAt - slot.spawnedAt }, 'ready');
    this.emit('ready', slot.cfg.name, slot.proc?.agentPid ?? slot.proc?.pid);
    this.wakeDependents(slot.cfg.name);
  }

  // ---- limits -------------------------------------------------------------------

  private checkLimits(slot: AgentSlot, pid: number, usage: Usage): void {
    if (slot.proc?.agentPid !== pid) return; // sampled a process that has since been replaced
    const { memory, cpu } = slot.cfg.limits;
    if (memory !== undefined && usage.rss > memory) {
      return this.overLimit(slot, 'memory', `memory limit: rss ${formatMiB(usage.rss)} over ${formatMiB(memory)}`);
    }
    if (cpu !== undefined) {
      slot.cpuOver = usage.cpu > cpu * 100 ? slot.cpuOver + 1 : 0;
      if (slot.cpuOver >= CPU_OVER_SAMPLES) {
        this.overLimit(slot, 'cpu', `cpu limit: ${usage.cpu.toFixed(0)}% of a core over ${(cpu * 100).toFixed(0)}% for ${CPU_OVER_SAMPLES} samples`);
      }
    }
  }

  private overLimit(slot: AgentSlot, limit: 'memory' | 'cpu', reason: string): void {
    this.opts.log.warn({ agent: slot.name, limit, reason }, 'limit exceeded: restarting by policy');
    this.note({ type: 'limit', agent: slot.name, limit, reason });
    this.emit('limit', slot.name, limit, reason);
    this.fault(slot, reason);
  }

  // ---- faults and exits ------------------------------------------------------

  /** The agent misbehaved: kill its whole group now; its exit goes through policy as abnormal. */
  private fault(slot: AgentSlot, reason: string): void {
    if (!slot.proc || slot.fault) return;
    slot.fault = reason;
    this.opts.log.warn({ agent: slot.cfg.name, pid: slot.proc.pid, reason }, 'agent fault: killing');
    this.emit('fault', slot.cfg.name, reason);
    slot.proc.signal('SIGKILL');
  }

  private exited(slot: AgentSlot, proc: AgentProcess | undefined, info: ExitInfo, spawnError?: string): void {
    if (proc && slot.proc !== proc) return;
    const name = slot.cfg.name;
    clearTimeout(slot.startTimer);
    slot.link?.close();
    slot.link = undefined;
    slot.proc = undefined;
    this.router.detach(slot.route);
    const fault = spawnError ?? slot.fault;
    const normal = !fault && info.code === 0 && info.signal === null;
    const reason = fault ?? (slot.stopping ? 'stopped' : normal ? 'exited normally' : info.signal ? `killed by ${info.signal}` : `exited with code ${info.code}`);
    const deliberate = slot.stopping;
    slot.lastExit = { ...info, at: Date.now(), reason, clean: normal || deliberate };
    slot.fault = undefined;
    slot.readyAt = 0;
    slot.stopping = false;
    slot.state = 'stopped';
    slot.settleExit();
    this.opts.log[slot.lastExit.clean ? 'info' : 'warn']({ agent: name, code: info.code, signal: info.signal, reason }, 'exited');
    this.note({ type: 'exit', agent: name, code: info.code, signal: info.signal, reason, clean: slot.lastExit.clean });
    this.emit('exit', name, slot.lastExit);
    // A stop we asked for is not a failure; the tree only hears about the others.
    if (!deliberate && !this.halting) this.enqueue(this.tree.exited(name, { abnormal: !normal }, Date.now()));
  }

  // ---- carrying out decisions ------------------------------------------------

  private enqueue(actions: Action[]): void {
    if (!actions.length) return;
    this.actions = this.actions.then(() => this.execute(actions)).catch((err: Error) => {
      this.opts.log.error({ err: err.message }, 'supervision action failed');
    });
  }

  private async execute(actions: Action[]): Promise<void> {
    const log = this.opts.log;
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
            const slot = this.slot(name);
            slot.restarts++;
            this.note({ type: 'restart', agent: name, delayMs: a.delayMs, reason: a.reason });
            this.emit('restart', name, a.delayMs, a.reason);
            this.scheduleStart(slot, a.delayMs);
          }
          break;
        case 'remove': {
          const slot = this.slot(a.agent);
          slot.state = slot.lastExit?.clean === false ? 'failed' : 'stopped';
          const dropped = this.router.remove(slot.route);
          log.info({ agent: a.agent, reason: a.reason, dropped: dropped.length }, 'not restarted');
          this.emit('removed', a.agent, a.reason);
          this.wakeDependents(a.agent);
          break;
        }
        case 'escalate':
          log.error({ group: a.group, reason: a.reason }, 'group escalated to its parent');
          this.note({ type: 'escalate', group: a.group, reason: a.reason });
          this.emit('escalate', a.group, a.reason);
          break;
        case 'shutdown':
          log.fatal({ reason: a.reason, code: a.exitCode }, 'root supervisor exceeded its restart intensity: shutting down');
          this.note({ type: 'escalate', group: 'root', reason: a.reason });
          this.emit('escalate', 'root', a.reason);
          await this.halt(a.exitCode);
          break;
      }
    }
  }

  /** Operator stop of one agent: it stays stopped, even when its siblings restart. */
  async stop(name: string): Promise<void> {
    this.tree.stopped(name);
    await this.stopAgent(name);
  }

  /** Graceful stop of one agent (see terminate.ts); its exit is not a failure, and the tree is not told. */
  private async stopAgent(name: string): Promise<void> {
    const slot = this.slot(name);
    clearTimeout(slot.backoffTimer);
    if (!slot.proc) {
      slot.state = 'stopped';
      return;
    }
    slot.stopping = true;
    slot.state = 'stopping';
    await terminate(slot, this.opts.log);
  }

  /** Stop everything in reverse start order and finish with `code`. */
  async halt(code = 0): Promise<number> {
    if (!this.halting) {
      this.halting = true;
      clearInterval(this.watchdog);
      clearInterval(this.retention);
      this.sampler.stop();
      for (const name of [...this.order].reverse()) await this.stopAgent(name);
      this.note({ type: 'stop', code });
      this.opts.log.info({ code }, 'supervisor stopped');
      this.finished(code);
    }
    return this.done;
  }

  /** Operator restart of one agent: not a failure, does not count toward intensity. */
  async restart(name: string): Promise<void> {
    const slot = this.slot(name);
    await this.stopAgent(name);
    slot.restarts++;
    this.note({ type: 'restart', agent: name, delayMs: 0, reason: 'operator restart' });
    this.tree.restartRequested(name);
    this.scheduleStart(slot, 0);
  }

  status(): AgentStatus[] {
    const now = Date.now();
    return this.order.map((name) => {
      const slot = this.slot(name);
      return slot.status(now, this.sampler.usage(name, slot.proc?.agentPid));
    });
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
    if (this.slot(name).state === 'running') return Promise.resolve(true);
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
    const proc = this.slot(name).proc;
    return proc?.agentPid ?? proc?.pid;
  }
}
