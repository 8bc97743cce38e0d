// What watching 100 agents costs the supervisor when nothing else happens:
// heartbeats, the watchdog, and pidusage sampling every agent each second.
// Baseline: the same supervisor and agents with sampling off.
import { readFileSync } from 'node:fs';
import { idleSupervisor } from './core.js';
import { fmt, rssOf, sleep, type Row } from './lib.js';

const TICKS = 100; // USER_HZ: /proc reports CPU time in these on Linux

/** User + system CPU time of a process so far, in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}

/** The supervisor's CPU (% of a core) and RSS over `seconds` of idling with `count` agents, after `warmup` ms; `extra` config keys beside them. */
export async function idleCpu(count: number, seconds: number, metrics: string, warmup: number, extra: Record<string, unknown> = {}): Promise<{ cpu: number; rss: number }> {
  const sup = await idleSupervisor(count, { metrics: { interval: metrics }, ...extra });
  await sleep(warmup); // past start-up: V8 keeps compacting and shrinking for a while after 100 spawns
  const t0 = performance.now();
  const c0 = cpuMs(sup.pid);
  await sleep(seconds * 1000);
  const cpu = ((cpuMs(sup.pid) - c0) / (performance.now() - t0)) * 100;
  const rss = rssOf(sup.pid);
  await sup.stop();
  return { cpu, rss };
}

export async function idleCost(count: number, seconds: number, warmup: number): Promise<Row[]> {
  // The default interval (2s), then sampling off: the difference is what sampling costs.
  const sampled = await idleCpu(count, seconds, '2s', warmup);
  const unsampled = await idleCpu(count, seconds, '0s', warmup);
  const pct = (x: number) => `${x.toFixed(2)}% of a core`;
  return [
    { metric: `supervisor CPU, ${count} idle agents sampled every 2s`, ours: pct(sampled.cpu), base: `${pct(unsampled.cpu)} unsampled`, ratio: `+${(sampled.cpu - unsampled.cpu).toFixed(2)} pt`, target: '<= 0.5%', pass: sampled.cpu <= 0.5 },
    { metric: `supervisor RSS, ${count} idle agents sampled every 2s`, ours: fmt.mb(sampled.rss), base: `${fmt.mb(unsampled.rss)} unsampled`, ratio: `+${fmt.mb(sampled.rss - unsampled.rss)}`, target: 'reported', pass: undefined },
  ];
}
