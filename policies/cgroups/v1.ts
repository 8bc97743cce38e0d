// cgroup v1: a directory per supervisor instance in each of the cpu, memory and
// pids hierarchies (/sys/fs/cgroup/<ctrl>/outheis/<instance>/<agent>), the instance
// derived from the state directory so two supervisors never share one.
import { existsSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { counter, emptyGroup, ensureDir, procsOf, put, readText, removeDir, subdirs } from './files.js';
import { CFS_PERIOD_US, quotaOf, sharesOf, sharesOfWeight, SUPERVISOR_GROUP, SUPERVISOR_WEIGHT, type AgentGroup, type CgroupDriver, type GroupSpec } from './group.js';

export const V1_CONTROLLERS = ['cpu', 'memory', 'pids'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

/** Mount points of the three hierarchies. */
export type V1Mounts = Record<V1Controller, string>;

export class V1Cgroups implements CgroupDriver {
  readonly kind = 'v1' as const;
  readonly where: string;
  private readonly base: V1Mounts;
  private readonly cpuMount: string;

  /** The cpu group the supervisor came from, to go back to before its own is removed (undefined: it never moved). */
  private cameFrom: string | undefined;

  constructor(mounts: V1Mounts, instance: string, private readonly selfCgroup = '/proc/self/cgroup') {
    this.cpuMount = mounts.cpu;
    this.base = { cpu: join(mounts.cpu, 'outheis', instance), memory: join(mounts.memory, 'outheis', instance), pids: join(mounts.pids, 'outheis', instance) };
    this.where = V1_CONTROLLERS.map((c) => this.base[c]).join(', ');
  }

  private dir(ctrl: V1Controller, name: string): string {
    return join(this.base[ctrl], name);
  }

  prepare(): string[] {
    const stale = new Set<string>();
    for (const ctrl of V1_CONTROLLERS) {
      ensureDir(this.base[ctrl]);
      for (const name of subdirs(this.base[ctrl])) stale.add(name);
    }
    // Only this process was ever in it: a dead supervisor left it empty.
    stale.delete(SUPERVISOR_GROUP);
    for (const name of stale) this.remove(name);
    this.hostSelf();
    return [...stale];
  }

  /** The supervisor into a cpu group of its own beside its agents', weighted as SUPERVISOR_WEIGHT says why. */
  private hostSelf(): void {
    const own = (readText(this.selfCgroup) ?? '').split('\n').map((l) => l.split(':')).find((f) => f.length >= 3 && f[1]!.split(',').includes('cpu'));
    if (!own) return; // no cpu hierarchy line: stay where we are
    const dir = this.dir('cpu', SUPERVISOR_GROUP);
    ensureDir(dir);
    put(join(dir, 'cpu.shares'), sharesOfWeight(SUPERVISOR_WEIGHT));
    put(join(dir, 'cgroup.procs'), process.pid);
    this.cameFrom ??= join(this.cpuMount, own.slice(2).join(':'));
  }

  describe(name: string, spec: GroupSpec): AgentGroup {
    const [cpu, memory, pids] = V1_CONTROLLERS.map((c) => this.dir(c, name)) as [string, string, string];
    const apply = (): void => {
      for (const d of [cpu, memory, pids]) ensureDir(d);
      put(join(cpu, 'cpu.shares'), sharesOf(spec.qos));
      put(join(cpu, 'cpu.cfs_period_us'), CFS_PERIOD_US);
      put(join(cpu, 'cpu.cfs_quota_us'), spec.cpu === undefined ? -1 : quotaOf(spec.cpu));
      // memsw (memory + swap) must stay >= the memory limit: raise it first, lower it last.
      const memsw = join(memory, 'memory.memsw.limit_in_bytes');
      const swapAccounted = existsSync(memsw);
      if (swapAccounted) put(memsw, -1);
      put(join(memory, 'memory.limit_in_bytes'), spec.memory ?? -1);
      if (swapAccounted && spec.memory !== undefined) put(memsw, spec.memory);
      put(join(pids, 'pids.max'), spec.nproc === undefined ? 'max' : spec.nproc);
    };
    return {
      apply,
      kind: 'v1', name, spec, dirs: [cpu, memory, pids],
      procs: [cpu, memory, pids].map((d) => join(d, 'cgroup.procs')),
      ooms: () => counter(join(memory, 'memory.oom_control'), 'oom_kill'),
      throttled: () => ({ periods: counter(join(cpu, 'cpu.stat'), 'nr_throttled'), usec: Math.round(counter(join(cpu, 'cpu.stat'), 'throttled_time') / 1000) }),
      pidsRefused: () => counter(join(pids, 'pids.events'), 'max'),
      peakMemory: () => {
        const v = readText(join(memory, 'memory.max_usage_in_bytes'));
        return v === undefined ? undefined : Number(v);
      },
      pids: () => procsOf(memory),
    };
  }

  remove(name: string): void {
    for (const ctrl of V1_CONTROLLERS) emptyGroup(this.dir(ctrl, name));
    for (const ctrl of V1_CONTROLLERS) removeDir(this.dir(ctrl, name));
  }

  removeAll(): void {
    // Back where it came from, or its group could not be removed (and this process is not one to kill).
    if (this.cameFrom !== undefined) {
      try { put(join(this.cameFrom, 'cgroup.procs'), process.pid); } catch { put(join(this.cpuMount, 'cgroup.procs'), process.pid); }
      this.cameFrom = undefined;
    }
    for (const ctrl of V1_CONTROLLERS) {
      for (const name of subdirs(this.base[ctrl])) this.remove(name);
      removeDir(this.base[ctrl]);
      // The shared parent goes when no other instance is in it (rmdir alone: never theirs).
      try {
        rmdirSync(join(this.base[ctrl], '..'));
      } catch {
        // another supervisor's instance is in it
      }
    }
  }
}
