// What happens when an agent misbehaves (a fault: it is killed), when its process
// exits for whatever reason (the exit is recorded and, unless we asked for it, the
// tree decides what follows), and when a message to it is given up on.
import type { AgentProcess, ExitInfo } from './agent-process.js';
import type { AgentSlot, AgentSlots } from './agent-slot.js';
import type { Envelope } from './mailbox.js';
import type { Reports } from './reports.js';
import type { Router } from './router/index.js';
import type { Action, SupervisionTree } from './tree/index.js';

export interface ExitsContext extends Reports {
  readonly slots: AgentSlots;
  readonly router: Pick<Router, 'detach'>;
  readonly tree: Pick<SupervisionTree, 'exited'>;
  /** True once a stop of everything has begun: exits are then expected. */
  halting(): boolean;
  /** Carry out what the tree decided (supervisor.ts). */
  carryOut(actions: Action[]): void;
  /** Its process is gone: a removed agent's cgroup goes too (policies/isolation.ts releaseGroupOf). */
  released?(name: string): string | undefined;
}

export class Exits {
  /** Messages dead-lettered in this run. */
  deadLetters = 0;

  constructor(private readonly ctx: ExitsContext) {}

  /** The agent misbehaved: kill its whole group now; its exit goes through policy as abnormal. */
  fault(slot: AgentSlot, reason: string): void {
    if (!slot.proc || slot.fault) return;
    slot.fault = reason;
    this.ctx.log.warn({ agent: slot.name, pid: slot.proc.pid, reason }, 'agent fault: killing');
    this.ctx.emit('fault', slot.name, reason);
    slot.proc.signal('SIGKILL');
  }

  /** Its process exited (`proc`), or never started (`spawnError`). */
  exited(slot: AgentSlot, proc: AgentProcess | undefined, info: ExitInfo, spawnError?: string): void {
    if (proc && slot.proc !== proc) return;
    const { log } = this.ctx;
    const name = slot.name;
    slot.startTimer?.cancel();
    slot.startTimer = undefined;
    slot.link?.close();
    slot.link = undefined;
    slot.proc = undefined;
    this.ctx.router.detach(slot.route);
    // Exit 0 before the ready handshake is a start-up that failed, not work that finished.
    const early = !slot.readyAt && !slot.stopping && info.code === 0 && info.signal === null ? 'exited 0 before ready' : undefined;
    const fault = spawnError ?? this.oomKilled(slot, info) ?? slot.fault ?? early;
    const normal = !fault && info.code === 0 && info.signal === null;
    const reason = fault ?? (slot.stopping ? 'stopped' : normal ? 'exited normally' : info.signal ? `killed by ${info.signal}` : `exited with code ${info.code}`);
    const deliberate = slot.stopping;
    slot.lastExit = { ...info, at: Date.now(), reason, clean: normal || deliberate };
    slot.fault = undefined;
    slot.readyAt = 0;
    slot.stopping = false;
    slot.state = 'stopped';
    slot.settleExit();
    const notRemoved = this.ctx.released?.(name);
    if (notRemoved) log.error({ agent: name, err: notRemoved }, 'could not remove the cgroup of an agent a reload removed');
    log[slot.lastExit.clean ? 'info' : 'warn']({ agent: name, code: info.code, signal: info.signal, reason }, 'exited');
    this.ctx.note({ type: 'exit', agent: name, code: info.code, signal: info.signal, reason, clean: slot.lastExit.clean });
    this.ctx.emit('exit', name, slot.lastExit);
    // A stop we asked for is not a failure; the tree only hears about the others.
    if (!deliberate && !this.ctx.halting()) this.ctx.carryOut(this.ctx.tree.exited(name, { abnormal: !normal }, Date.now()));
  }

  /** The kernel killed it at its cgroup's memory ceiling: the exit's reason is `oom`, and a `limit` record says so. */
  private oomKilled(slot: AgentSlot, info: ExitInfo): 'oom' | undefined {
    const ooms = slot.cgroup?.ooms() ?? 0;
    if (ooms <= slot.oomsAtSpawn) return undefined;
    slot.oomsAtSpawn = ooms;
    // A child of an agent pledged spawn may be the one killed: only a SIGKILLed agent was.
    if (info.signal !== 'SIGKILL') return undefined;
    const memory = slot.cfg.limits.memory;
    const reason = `oom: killed by the kernel at its cgroup's memory ceiling${memory === undefined ? '' : ` (${memory} bytes)`}`;
    this.ctx.log.warn({ agent: slot.name, limit: 'memory', reason }, 'limit exceeded: restarting by policy');
    this.ctx.note({ type: 'limit', agent: slot.name, limit: 'memory', reason });
    this.ctx.emit('limit', slot.name, 'memory', reason);
    return 'oom';
  }

  /** The router gave up on a message: delivered journal.max_attempts times without an ack, or its agent is gone for good. */
  deadLettered(env: Envelope, reason: string): void {
    const slot = this.ctx.slots.find(env.to);
    if (slot) slot.deadLetters++;
    this.deadLetters++;
    this.ctx.log.warn({ agent: env.to, id: env.id, from: env.from, kind: env.kind, attempts: env.attempts, reason }, 'message dead-lettered');
    this.ctx.emit('deadletter', env.to, env.id, reason);
  }
}
