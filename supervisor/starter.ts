// Starting agents: in `after` order (an agent waits for the agents it names to be
// ready), one process each, confined by its isolation plan, wired to the router
// through its link, and up once it has said `ready` within its start_timeout.
import { forEachLine, type LineSink } from '../logs/lines.js';
import type { AgentPlan, IsolationPlans } from '../policies/isolation.js';
import { planUnsandboxed } from '../policies/sandbox.js';
import { isolationOf } from './limits.js';
import { AgentLink } from './agent-link.js';
import { readEnvFile } from './config/env-file.js';
import { envDigest } from './reload/diff.js';
import { findSandboxedNode, type ExitInfo } from '../policies/spawn.js';
import { spawnAgent, type AgentProcess } from './agent-process.js';
import type { AgentSlot, AgentSlots } from './agent-slot.js';
import type { Reports } from './reports.js';
import type { Router } from './router/index.js';
import type { SupervisionTree } from './tree/index.js';
import type { Deadlines } from './watchdog.js';

export interface StarterContext extends Reports {
  readonly slots: AgentSlots;
  readonly router: Pick<Router, 'frame' | 'flushAccepts' | 'attach' | 'ready'>;
  readonly tree: Pick<SupervisionTree, 'started'>;
  /** Where agents run: the config file's directory. */
  readonly cwd: string;
  /** Without plans, agents run unsandboxed and say so (SupervisorOptions.isolation). */
  readonly isolation: IsolationPlans | undefined;
  readonly nodeArgs: string[] | undefined;
  /** Max bytes kept of one stdout/stderr line. */
  readonly maxLogLine: number;
  /** Where output lines go, with backpressure (SupervisorOptions.output). */
  readonly output: ((agent: string, stream: 'stdout' | 'stderr') => LineSink) | undefined;
  /** True once a stop of everything has begun: nothing starts any more. */
  halting(): boolean;
  /** Timers for what an agent must do in time, which a stall of the supervisor does not shorten (watchdog.ts). */
  readonly deadline: Deadlines;
  /** Kill the agent now (exits.ts). */
  fault(slot: AgentSlot, reason: string): void;
  /** Its process exited, or never started (exits.ts). */
  exited(slot: AgentSlot, proc: AgentProcess | undefined, info: ExitInfo, spawnError?: string): void;
}

export class Starter {
  constructor(private readonly ctx: StarterContext) {}

  /** Start it now, or after `delayMs` (a backoff). */
  schedule(slot: AgentSlot, delayMs: number): void {
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

  /** A dependency became ready, or will never be: retry the agents waiting on it. */
  wakeDependents(name: string): void {
    for (const other of this.ctx.slots) {
      if (other.state === 'starting' && !other.proc && other.cfg.after.includes(name)) this.tryStart(other);
    }
  }

  /** `after` is ordering: wait for a dependency that is on its way up, not for one that is stopped for good. */
  private blockedBy(slot: AgentSlot): string | undefined {
    return slot.cfg.after.find((dep) => {
      const state = this.ctx.slots.get(dep).state;
      return state === 'starting' || state === 'backoff';
    });
  }

  private tryStart(slot: AgentSlot): void {
    if (this.ctx.halting() || slot.proc) return;
    slot.state = 'starting';
    if (this.blockedBy(slot)) return; // retried when a dependency becomes ready
    this.spawn(slot);
  }

  private planOf(slot: AgentSlot): AgentPlan {
    return this.ctx.isolation?.plans.get(slot.name) ?? { ...planUnsandboxed(slot.cfg, this.ctx.nodeArgs), weaker: true };
  }

  private spawn(slot: AgentSlot): void {
    const { ctx } = this;
    const { cfg } = slot;
    const plan = this.planOf(slot);
    slot.isolation = isolationOf(slot.cfg, plan);
    slot.cgroup = plan.cgroup;
    slot.oomsAtSpawn = plan.cgroup?.ooms() ?? 0;
    let proc: AgentProcess;
    try {
      // Read at every spawn: a changed secret takes effect on (re)start. Its errors never quote a value.
      const envFile = cfg.envFile === undefined ? undefined : readEnvFile(cfg.envFile);
      slot.envFileDigest = envDigest(envFile);
      // Its limits, written before the chain's first step enters the group: a reload's
      // new limits take effect here, once the old process is gone; a write the kernel
      // refuses fails the spawn (the agent never runs outside its group).
      plan.cgroup?.apply();
      proc = spawnAgent({
        name: cfg.name, argv: plan.argv, namespaced: plan.namespaced, cwd: ctx.cwd, env: cfg.env,
        envFile, heartbeatMs: cfg.heartbeat, maxFrame: cfg.limits.frame,
      });
    } catch (err) {
      ctx.log.error({ agent: cfg.name, err: (err as Error).message }, 'spawn failed');
      slot.proc = undefined;
      ctx.tree.started(cfg.name, Date.now());
      return ctx.exited(slot, undefined, { code: null, signal: null }, `spawn failed: ${(err as Error).message}`);
    }
    slot.proc = proc;
    slot.spawnedAt = Date.now();
    slot.readyAt = 0;
    slot.fault = undefined;
    slot.cpuOver = 0;
    const link = new AgentLink(proc.channel, cfg.limits.frame, {
      frame: (h, body) => (h.t === 'ready' ? this.ready(slot) : ctx.router.frame(slot.route, h, body)),
      batchEnd: () => ctx.router.flushAccepts(),
      fault: (reason) => ctx.fault(slot, reason),
    });
    slot.link = link;
    // The first frame, always: the SDK reads it before the agent's code runs (agent.restored).
    link.write({ t: 'init', restored: slot.checkpoint !== undefined }, slot.checkpoint?.state);
    ctx.router.attach(slot.route, link);
    for (const [stream, src] of [['stdout', proc.stdout], ['stderr', proc.stderr]] as const) {
      // The sink (log file, console) may hold the pipe back; listeners of 'output' only watch.
      const sink = ctx.output?.(cfg.name, stream);
      forEachLine(src, ctx.maxLogLine, {
        line: (line, truncated) => {
          sink?.line(line, truncated);
          ctx.emit('output', cfg.name, stream, line, truncated);
        },
        chunkEnd: () => sink?.chunkEnd?.(),
      });
    }
    slot.startTimer = ctx.deadline(cfg.startTimeout, () => ctx.fault(slot, `not ready within ${cfg.startTimeout} ms`));
    ctx.tree.started(cfg.name, slot.spawnedAt);
    ctx.log.info({ agent: cfg.name, pid: proc.pid }, 'spawned');
    ctx.note({ type: 'spawn', agent: cfg.name, pid: proc.pid });
    ctx.emit('spawn', cfg.name, proc.pid);
    proc.exited.then((info) => ctx.exited(slot, proc, info));
  }

  /** The ready handshake: the agent's first `ready` frame. */
  private ready(slot: AgentSlot): void {
    if (slot.readyAt) return;
    slot.startTimer?.cancel();
    slot.startTimer = undefined; // its timer and closures would otherwise live as long as the agent
    slot.readyAt = Date.now();
    slot.state = 'running';
    // Up and talking, so node exists inside its sandbox by now: learn its real pid (for sampling, signals, status).
    if (slot.proc && slot.proc.agentPid === undefined) slot.proc.agentPid = findSandboxedNode(slot.proc.pid);
    this.ctx.note({ type: 'ready', agent: slot.name, pid: slot.pid ?? null });
    this.ctx.router.ready(slot.route);
    this.ctx.log.info({ agent: slot.name, pid: slot.pid, ms: slot.readyAt - slot.spawnedAt }, 'ready');
    this.ctx.emit('ready', slot.name, slot.pid);
    this.wakeDependents(slot.name);
  }
}
