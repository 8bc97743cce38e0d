// One agent's runtime record, and the status an operator sees of it.
import type { AgentLink } from './agent-link.js';
import type { AgentProcess, ExitInfo } from './agent-process.js';
import type { AgentConfig } from './config/index.js';
import type { Deadline } from './watchdog.js';
import type { Route } from './router/index.js';
import type { Qos } from '../protocol/header.js';
import type { AgentGroup } from '../policies/cgroups/group.js';

/** An agent's state, as status shows it: the one meaning of the word (the tree's view of a child is its ChildState). */
export const AGENT_STATES = ['starting', 'running', 'backoff', 'stopping', 'stopped', 'failed'] as const;
export type AgentState = (typeof AGENT_STATES)[number];

export interface LastExit extends ExitInfo {
  at: number;
  reason: string;
  /** Exit code 0, or stopped by the supervisor: not a failure. */
  clean: boolean;
}

export interface AgentStatus {
  name: string;
  group: string | undefined;
  pid: number | undefined;
  state: AgentState;
  uptimeMs: number;
  restarts: number;
  lastExit: LastExit | undefined;
  mailbox: number;
  inflight: number;
  qos: Qos;
  /** percent of one core at the last sample; undefined before one, or when not running */
  cpu: number | undefined;
  /** bytes, as cpu */
  rss: number | undefined;
  memoryLimit: number | undefined;
  isolation: Isolation;
  deadLetters: number;
}

export interface Isolation {
  /** layers in force for this agent */
  layers: string[];
  /** it runs with less isolation than its manifest asks for */
  weaker: boolean;
  /** Its cgroup's hierarchy (v1, v2); absent: no cgroup, nice and sampling stand in (shown WEAKER). */
  cgroup?: 'v1' | 'v2' | undefined;
  /** Limits only sampled (every few seconds), not enforced by the kernel: the cgroup fallback. */
  sampled?: string[] | undefined;
}

/**
 * What confines an agent run without an isolation plan (an embedding that did not
 * call planIsolation, and the supervisor's own tests): a scrubbed environment and
 * the channel as its only inherited fd. That is weaker than any manifest asks, and
 * says so. `outheis start` always plans (policies/isolation.ts).
 */
export const BASE_ISOLATION: Isolation = { layers: ['env', 'fds'], weaker: true };

export class AgentSlot {
  state: AgentState = 'stopped';
  proc: AgentProcess | undefined;
  link: AgentLink | undefined;
  restarts = 0;
  lastExit: LastExit | undefined;
  spawnedAt = 0;
  readyAt = 0;
  /** Why the supervisor killed it, when it did. */
  fault: string | undefined;
  /** Set while the supervisor itself is stopping it: its exit is not a failure. */
  stopping = false;
  startTimer: Deadline | undefined;
  /** Consecutive samples over limits.cpu. */
  cpuOver = 0;
  /** Its cgroup, when it runs in one: the kernel holds limits.cpu and limits.memory, and counts its OOM kills. */
  cgroup: AgentGroup | undefined;
  /** The group's OOM-kill count when the current process was spawned: a higher one at its exit means it was OOM-killed. */
  oomsAtSpawn = 0;
  isolation: Isolation = BASE_ISOLATION;
  backoffTimer: NodeJS.Timeout | undefined;
  /** The latest checkpoint, handed to each new process in its init frame; its journal segment (-1: none). */
  checkpoint: { state: Buffer; segment: number } | undefined;
  /** Messages to it given up on since start (dead letters). */
  deadLetters = 0;
  private exitWaiters: (() => void)[] = [];

  /** What its env_file held when its process was spawned (a digest, never the values): a reload restarts it when that changed. */
  envFileDigest: string | undefined;

  /** cfg: replaced by a reload that restarts the agent with its new manifest. */
  constructor(public cfg: AgentConfig, readonly route: Route) {}

  get name(): string {
    return this.cfg.name;
  }

  /** The agent's node process (inside its sandbox, not bubblewrap's). */
  get pid(): number | undefined {
    return this.proc?.agentPid ?? this.proc?.pid;
  }

  /** Resolves when the current process has exited. */
  exited(): Promise<void> {
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  settleExit(): void {
    for (const resolve of this.exitWaiters.splice(0)) resolve();
  }

  status(now: number, usage?: { cpu: number; rss: number }): AgentStatus {
    return {
      cpu: usage?.cpu, rss: usage?.rss, memoryLimit: this.cfg.limits.memory, isolation: this.isolation,
      name: this.name, group: this.cfg.group, pid: this.pid, state: this.state,
      uptimeMs: this.readyAt ? now - this.readyAt : 0, restarts: this.restarts, lastExit: this.lastExit,
      mailbox: this.route.mailbox.depth, inflight: this.route.mailbox.inflight.size, qos: this.cfg.qos,
      deadLetters: this.deadLetters,
    };
  }
}

/** Every agent's slot by name; iterated in start order (the order they were given in). */
export class AgentSlots implements Iterable<AgentSlot> {
  private readonly byName = new Map<string, AgentSlot>();

  constructor(slots: Iterable<AgentSlot>) {
    for (const slot of slots) this.byName.set(slot.name, slot);
  }

  /** The slot of an agent that must exist: a name from the config, the tree or a checked request. */
  get(name: string): AgentSlot {
    const slot = this.byName.get(name);
    if (!slot) throw new Error(`no agent named "${name}"`);
    return slot;
  }

  /** The slot of a name that may be stale (a journal from an older config). */
  find(name: string): AgentSlot | undefined {
    return this.byName.get(name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** A reload's new set, in its start order (kept slots are the same objects). */
  replace(slots: Iterable<AgentSlot>): void {
    this.byName.clear();
    for (const slot of slots) this.byName.set(slot.name, slot);
  }

  [Symbol.iterator](): Iterator<AgentSlot> {
    return this.byName.values();
  }
}
