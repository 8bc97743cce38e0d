// CPU and RSS of the agents (and of the supervisor itself), sampled with
// pidusage off the hot path: one timer, one /proc read per process per
// interval, nothing done per message. Limits are checked against each sample.
import pidusage from 'pidusage';

export interface Usage {
  /** percent of one core since the previous sample */
  cpu: number;
  /** resident set size, bytes */
  rss: number;
  at: number;
}

export interface SamplerOptions {
  intervalMs: number;
  /** The processes to sample now: agent name → its pid, then any processes it started (counted in its usage). */
  targets: () => Iterable<[string, number[]]>;
  /** Called with each agent's fresh sample (limit checks). */
  sampled: (name: string, pid: number, usage: Usage) => void;
}

export class ResourceSampler {
  private timer: NodeJS.Timeout | undefined;
  private readonly latest = new Map<string, Usage & { pid: number }>();
  private own: Usage | undefined;
  private busy = false;

  constructor(private readonly opts: SamplerOptions) {}

  start(): void {
    if (this.opts.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.sample(), this.opts.intervalMs);
    // The sampler alone must not keep a finished supervisor alive.
    this.timer.unref();
    void this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    pidusage.clear(); // closes the /proc fds pidusage keeps open between samples
  }

  /** The last sample of this agent's current process, if there is one. */
  usage(name: string, pid: number | undefined): Usage | undefined {
    const u = this.latest.get(name);
    return u && u.pid === pid ? u : undefined;
  }

  self(): Usage | undefined {
    return this.own;
  }

  private async sample(): Promise<void> {
    // A slow /proc (a loaded machine) must not pile samples up.
    if (this.busy) return;
    this.busy = true;
    try {
      const targets = [...this.opts.targets()];
      // One call for all: pidusage then reads /proc/uptime once and each /proc/<pid>/stat
      // through an fd it keeps open, and (graceful) leaves out a pid that exited meanwhile.
      // The history expires fast, so a reused pid is not measured against its predecessor.
      const maxage = Math.max(3 * this.opts.intervalMs, 1000);
      let stats: Record<string, { cpu: number; memory: number } | undefined>;
      try {
        stats = await pidusage([process.pid, ...targets.flatMap(([, pids]) => pids)], { maxage });
      } catch {
        return; // every read failed (or /proc is unreadable): no sample this round
      }
      const now = Date.now();
      const mine = stats[process.pid];
      if (mine) this.own = { cpu: mine.cpu, rss: mine.memory, at: now };
      const seen = new Set<string>();
      for (const [name, [pid, ...descendants]] of targets) {
        const st = stats[pid!];
        if (!st) continue;
        // An agent's limits cover what it started: a child's memory is the agent's memory.
        let { cpu, memory: rss } = st;
        for (const d of descendants) {
          cpu += stats[d]?.cpu ?? 0;
          rss += stats[d]?.memory ?? 0;
        }
        const usage = { cpu, rss, at: now };
        this.latest.set(name, { ...usage, pid: pid! });
        seen.add(name);
        this.opts.sampled(name, pid!, usage);
      }
      for (const name of this.latest.keys()) if (!seen.has(name)) this.latest.delete(name);
    } finally {
      this.busy = false;
    }
  }
}
