// What one agent's cgroup is, whichever hierarchy holds it: the files its chain's
// first step writes its own pid into, what it is limited to, and the counters
// read back (OOM kills, throttling, pids refused). The writers (v1.ts, v2.ts) make
// these; the supervisor only holds them.
import type { Qos } from '../manifest.js';

export type CgroupKind = 'v1' | 'v2';

/** What the kernel is told for one agent; undefined: no limit. */
export interface GroupSpec {
  qos: Qos;
  /** limits.cpu: a share of one core (0.2 = 20%). */
  cpu: number | undefined;
  /** limits.memory, bytes. */
  memory: number | undefined;
  /**
   * limits.nproc as pids.max: every task of the group (threads too, as RLIMIT_NPROC
   * counts them), the sandbox's own bubblewrap included, so the group's limit is met
   * before prlimit's per-namespace one, which stays as the layer without cgroups.
   */
  nproc: number | undefined;
}

/**
 * CPU weight by QoS class, as cgroup v2's cpu.weight (default 100); v1's cpu.shares
 * is the same ratio over 1024. Weights only matter under contention, so an idle
 * system gives a background agent all it asks for, within its quota.
 */
export const CPU_WEIGHT: Record<Qos, number> = { interactive: 400, user: 200, utility: 100, background: 25 };
/** v1's cpu.shares for a v2 cpu.weight: the same ratio to the default (1024 against 100). */
export const sharesOfWeight = (weight: number): number => Math.round((weight * 1024) / 100);
export const sharesOf = (qos: Qos): number => sharesOfWeight(CPU_WEIGHT[qos]);

/**
 * The supervisor's own CPU weight, beside its agents' groups: every message, an
 * interactive request's too, passes through its one thread, so it ranks with the
 * interactive class. Left where it started (v1: the root group, at 1024 against the
 * whole instance's 1024), it queued behind a background flood for the CPU, and an
 * interactive request waited with it.
 */
export const SUPERVISOR_WEIGHT = CPU_WEIGHT.interactive;
/** The group the supervisor moves itself into (v1: beside its agents; `supervisor` is no agent's name). */
export const SUPERVISOR_GROUP = 'supervisor';

/** The CFS period a quota is measured over: 100 ms, the kernel's default. */
export const CFS_PERIOD_US = 100_000;
/** The kernel refuses a quota under 1 ms. */
export const quotaOf = (cpu: number): number => Math.max(1000, Math.round(cpu * CFS_PERIOD_US));

export interface AgentGroup {
  kind: CgroupKind;
  name: string;
  /** One directory per hierarchy (v1: cpu, memory, pids; v2: one). */
  dirs: string[];
  /** The cgroup.procs files the chain's first step writes its pid into. */
  procs: string[];
  spec: GroupSpec;
  /** OOM kills in this group so far (v2 memory.events, v1 memory.oom_control). */
  ooms(): number;
  /** CFS periods in which it was throttled, and for how long (µs). */
  throttled(): { periods: number; usec: number };
  /** Forks refused by pids.max so far. */
  pidsRefused(): number;
  /** Highest memory use seen by the kernel, bytes (undefined where the kernel has no such counter). */
  peakMemory(): number | undefined;
  /** Pids in the group now. */
  pids(): number[];
  /** Make the group and write its limits (again: a restart writes them anew, healing a group removed under it). */
  apply(): void;
}

/** A writer for one hierarchy: everything under one supervisor instance's directory. */
export interface CgroupDriver {
  kind: CgroupKind;
  /** Where this instance's groups live (shown by status and doctor). */
  where: string;
  /** At start: what a previous supervisor of this instance left (killed, then removed); names of the groups. */
  prepare(): string[];
  /**
   * An agent's group with these limits, nothing written yet: a reload plans with this,
   * so that a refused reload leaves a running agent's limits as they are; the group is
   * written when its agent is next spawned.
   */
  describe(name: string, spec: GroupSpec): AgentGroup;
  /** Remove one agent's group: its processes are killed first (they should be gone). */
  remove(name: string): void;
  /** At stop, once every agent has exited: remove every group of this instance. */
  removeAll(): void;
}

/** Make an agent's group and write its limits now (at start: a write the kernel refuses is found before anything runs). */
export function createGroup(driver: CgroupDriver, name: string, spec: GroupSpec): AgentGroup {
  const group = driver.describe(name, spec);
  group.apply();
  return group;
}
