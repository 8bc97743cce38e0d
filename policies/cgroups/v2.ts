// cgroup v2: the subtree delegated to us (systemd's Delegate=yes, or a user's
// delegated scope). v2 forbids processes in a group that hands controllers to its
// children (no internal processes), so the supervisor moves itself into a leaf,
// `supervisor/`, and agents get `agents/<name>`, with cpu, memory and pids enabled
// on the way down. Not run for real on this machine (its unified mount has no
// controllers): tests drive it against a plain directory root.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { counter, emptyGroup, ensureDir, isCgroupFs, procsOf, put, readText, removeDir, subdirs } from './files.js';
import { CFS_PERIOD_US, CPU_WEIGHT, quotaOf, SUPERVISOR_GROUP, SUPERVISOR_WEIGHT, type AgentGroup, type CgroupDriver, type GroupSpec } from './group.js';

export const V2_CONTROLLERS = ['cpu', 'memory', 'pids'] as const;
const ENABLE = V2_CONTROLLERS.map((c) => `+${c}`).join(' ');

/** The controllers a v2 group offers its children (cgroup.controllers). */
export const controllersOf = (dir: string): string[] => (readText(join(dir, 'cgroup.controllers')) ?? '').trim().split(/\s+/).filter(Boolean);

export class V2Cgroups implements CgroupDriver {
  readonly kind = 'v2' as const;
  readonly where: string;
  private readonly agents: string;

  /** root: the delegated group the supervisor runs in. */
  constructor(private readonly root: string) {
    this.agents = join(root, 'agents');
    this.where = this.agents;
  }

  prepare(): string[] {
    // Every process of the root group (the supervisor, and whatever started with it) into the leaf.
    const leaf = join(this.root, SUPERVISOR_GROUP);
    ensureDir(leaf);
    for (const pid of procsOf(this.root)) {
      try {
        put(join(leaf, 'cgroup.procs'), pid);
      } catch (err) {
        // A process that exited meanwhile (ESRCH) is no obstacle; anything else is.
        if (!/ESRCH/.test((err as Error).message)) throw err;
      }
    }
    put(join(this.root, 'cgroup.subtree_control'), ENABLE);
    // Beside `agents/` (default weight 100): see SUPERVISOR_WEIGHT for why it ranks with interactive.
    put(join(leaf, 'cpu.weight'), SUPERVISOR_WEIGHT);
    ensureDir(this.agents);
    put(join(this.agents, 'cgroup.subtree_control'), ENABLE);
    const stale = subdirs(this.agents);
    for (const name of stale) this.remove(name);
    return stale;
  }

  describe(name: string, spec: GroupSpec): AgentGroup {
    const dir = join(this.agents, name);
    const apply = (): void => {
      ensureDir(dir);
      put(join(dir, 'cpu.weight'), CPU_WEIGHT[spec.qos]);
      put(join(dir, 'cpu.max'), `${spec.cpu === undefined ? 'max' : quotaOf(spec.cpu)} ${CFS_PERIOD_US}`);
      put(join(dir, 'memory.max'), spec.memory ?? 'max');
      // No swap to spill into: the ceiling is the ceiling (where swap is accounted at all).
      const swap = join(dir, 'memory.swap.max');
      if (existsSync(swap) || !isCgroupFs(dir)) put(swap, spec.memory === undefined ? 'max' : 0);
      put(join(dir, 'pids.max'), spec.nproc === undefined ? 'max' : spec.nproc);
    };
    return {
      apply,
      kind: 'v2', name, spec, dirs: [dir], procs: [join(dir, 'cgroup.procs')],
      ooms: () => counter(join(dir, 'memory.events'), 'oom_kill'),
      throttled: () => ({ periods: counter(join(dir, 'cpu.stat'), 'nr_throttled'), usec: counter(join(dir, 'cpu.stat'), 'throttled_usec') }),
      pidsRefused: () => counter(join(dir, 'pids.events'), 'max'),
      peakMemory: () => {
        const v = readText(join(dir, 'memory.peak'));
        return v === undefined ? undefined : Number(v);
      },
      pids: () => procsOf(dir),
    };
  }

  remove(name: string): void {
    const dir = join(this.agents, name);
    // cgroup.kill (Linux 5.14) kills the whole group at once; else one by one.
    if (existsSync(join(dir, 'cgroup.kill')) && procsOf(dir).length) put(join(dir, 'cgroup.kill'), 1);
    emptyGroup(dir);
    removeDir(dir);
  }

  removeAll(): void {
    for (const name of subdirs(this.agents)) this.remove(name);
    removeDir(this.agents);
  }
}
