// limits.memory and limits.cpu: held by the kernel when the agent has a cgroup
// (policies/cgroups/: a quota throttles, a ceiling OOM-kills, recorded as `oom`),
// else enforced by sampling (metrics.ts): what is sampled for each agent, and what
// an agent over its limit gets (a fault: killed, then restarted by policy). The
// other limits are the sandbox's (policies/).
import { childrenByParent, descendantsOf } from '../policies/spawn.js';
import type { AgentSlot, AgentSlots, Isolation } from './agent-slot.js';
import type { Usage } from './metrics.js';
import type { Reports } from './reports.js';
import { formatSize } from '../protocol/units.js';
import type { AgentConfig } from './config/index.js';
import type { AgentPlan } from '../policies/isolation.js';

/** limits.cpu is a sustained share: a burst over it is normal, this many samples in a row is not. */
export const CPU_OVER_SAMPLES = 5;

export type Limit = 'memory' | 'cpu';

/**
 * What the sampler measures: each agent's node process, plus, for agents that may
 * start processes (pledge spawn), everything below it, found with one /proc scan
 * per round. Agents without the pledge cannot have children (the permission
 * model), so the scan is skipped when none has it.
 */
export function* samplingTargets(slots: AgentSlots): Iterable<[string, number[]]> {
  const spawners = [...slots].filter((s) => s.proc?.agentPid && !s.fault && s.cfg.pledge.includes('spawn'));
  const tree = spawners.length ? childrenByParent() : undefined;
  for (const slot of slots) {
    const pid = slot.proc?.agentPid;
    if (!pid || slot.fault) continue;
    // From the sandbox's root (bubblewrap), not from node: a daemonised grandchild is
    // re-parented to the namespace's init, and is still this agent's.
    yield [slot.name, tree && slot.cfg.pledge.includes('spawn') ? [pid, ...descendantsOf(slot.proc!.pid, tree).filter((p) => p !== pid)] : [pid]];
  }
}

/** What status shows of an agent's confinement: its layers, its cgroup, and, without one, the limits only sampled (WEAKER). */
export function isolationOf(cfg: AgentConfig, plan: Pick<AgentPlan, 'layers' | 'weaker' | 'cgroup'>): Isolation {
  if (plan.cgroup) return { layers: plan.layers, weaker: plan.weaker, cgroup: plan.cgroup.kind };
  const sampled = (['cpu', 'memory'] as const).filter((l) => cfg.limits[l] !== undefined);
  return { layers: plan.layers, weaker: true, sampled };
}

/** The limit this sample breaks, if any; counts the slot's streak of samples over limits.cpu. Limits its cgroup holds are the kernel's, not the sampler's. */
export function limitBroken(slot: AgentSlot, usage: Usage): { limit: Limit; reason: string } | undefined {
  if (slot.cgroup) return undefined;
  const { memory, cpu } = slot.cfg.limits;
  if (memory !== undefined && usage.rss > memory) {
    return { limit: 'memory', reason: `memory limit: rss ${formatSize(usage.rss, { unit: 'MiB' })} over ${formatSize(memory, { unit: 'MiB' })}` };
  }
  if (cpu !== undefined) {
    slot.cpuOver = usage.cpu > cpu * 100 ? slot.cpuOver + 1 : 0;
    if (slot.cpuOver >= CPU_OVER_SAMPLES) {
      return { limit: 'cpu', reason: `cpu limit: ${usage.cpu.toFixed(0)}% of a core over ${(cpu * 100).toFixed(0)}% for ${CPU_OVER_SAMPLES} samples` };
    }
  }
  return undefined;
}

export interface LimitsContext extends Reports {
  /** Kill the agent now; its exit goes through policy as abnormal (exits.ts). */
  fault(slot: AgentSlot, reason: string): void;
}

/** Check one fresh sample of an agent's process against its limits. */
export function enforceLimits(ctx: LimitsContext, slot: AgentSlot, pid: number, usage: Usage): void {
  if (slot.proc?.agentPid !== pid) return; // sampled a process that has since been replaced
  const broken = limitBroken(slot, usage);
  if (!broken) return;
  const { limit, reason } = broken;
  ctx.log.warn({ agent: slot.name, limit, reason }, 'limit exceeded: restarting by policy');
  ctx.note({ type: 'limit', agent: slot.name, limit, reason });
  ctx.emit('limit', slot.name, limit, reason);
  ctx.fault(slot, reason);
}
