// The supervisor's footprint as users run it: a real `outheis start` from a config
// (sandboxed agents, journal on) with 1, 10, 100 and 200 idle agents, measured at
// rest (the median of 30 s of samples, see settled). RSS and private memory (smaps_rollup: pages no other process
// maps, so the node binary shared with every agent does not count), the per-agent
// slope between 10 and 200, and the sandbox's helper processes (bubblewrap's, not
// the supervisor's memory) counted apart. Baselines from the same run: an idle node
// with the supervisor's flags, and PM2's daemon with 100 idle apps when pm2 is
// installed (a devDependency).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SUPERVISOR_NODE_FLAGS } from '../cli/node-flags.js';
import { childrenByParent, descendantsOf } from '../policies/spawn.js';
import { idleSupervisor } from './core.js';
import { fmt, median, sleep, type Row } from './lib.js';

const MB = 1048576;
/** The issue's figure for PM2 6.0.14's daemon at 100 idle apps, used when pm2 is not installed. */
const PM2_QUOTED = 81 * MB;

export interface Memory {
  rss: number;
  /** Private_Clean + Private_Dirty: what this process alone holds. */
  priv: number;
}

export function memoryOf(pid: number): Memory {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? NaN) * 1024;
  return { rss: kb('Rss'), priv: kb('Private_Clean') + kb('Private_Dirty') };
}

/**
 * A process's memory at rest, as the median of samples taken every second over
 * `windowS` seconds after `graceS` seconds. An idle V8 heap saw-tooths: it grows
 * slowly (timers, heartbeats, sampling) until the memory reducer or a major GC
 * gives pages back, a few MB either way. A single reading, or "stopped falling
 * for 8 s", lands anywhere on that tooth (one run read 66.8 MB where the process
 * spent most of the minute near 61); the median over a window is where it sits.
 * The same rule measures the baselines (idle node, PM2's daemon).
 */
export async function settled(pid: number, graceS = 10, windowS = 30): Promise<Memory & { afterS: number }> {
  const t0 = performance.now();
  await sleep(graceS * 1000);
  const samples: Memory[] = [];
  for (let i = 0; i < windowS; i++) {
    samples.push(memoryOf(pid));
    await sleep(1000);
  }
  samples.sort((x, y) => x.rss - y.rss);
  return { ...samples[samples.length >> 1]!, afterS: (performance.now() - t0) / 1000 };
}

/** The processes between the supervisor and each agent's node (bubblewrap and its namespace's init), and their RSS. */
function helpers(supPid: number, agentPids: number[]): Memory & { count: number } {
  const agents = new Set(agentPids);
  const all = descendantsOf(supPid, childrenByParent()).filter((p) => !agents.has(p));
  const sum = { count: all.length, rss: 0, priv: 0 };
  for (const p of all) {
    try {
      const m = memoryOf(p);
      sum.rss += m.rss;
      sum.priv += m.priv;
    } catch {
      // gone
    }
  }
  return sum;
}

interface Point extends Memory { count: number; afterS: number; helpers: Memory & { count: number }; startS: number }

async function point(count: number): Promise<Point> {
  const t0 = performance.now();
  const sup = await idleSupervisor(count);
  const startS = (performance.now() - t0) / 1000;
  try {
    const m = await settled(sup.pid);
    return { count, ...m, helpers: helpers(sup.pid, sup.pids), startS };
  } finally {
    await sup.stop();
  }
}

/** Median memory of five idle node processes with the supervisor's flags. */
async function bareNode(): Promise<Memory> {
  const procs = Array.from({ length: 5 }, () => spawn(process.execPath, [...SUPERVISOR_NODE_FLAGS, '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }));
  await sleep(2000);
  const ms = procs.map((p) => memoryOf(p.pid!));
  for (const p of procs) p.kill();
  return { rss: median(ms.map((m) => m.rss)), priv: median(ms.map((m) => m.priv)) };
}

/** PM2's daemon with `count` idle apps, settled the same way; undefined when pm2 is not installed. */
async function pm2Daemon(count: number): Promise<Memory | undefined> {
  let bin: string;
  try {
    bin = join(createRequire(import.meta.url).resolve('pm2/package.json'), '../bin/pm2');
  } catch {
    return undefined;
  }
  const home = mkdtempSync(join(tmpdir(), 'outheis-bench-pm2-'));
  const env = { ...process.env, PM2_HOME: home, PM2_DISABLE_VERSION_CHECK: 'true' };
  const app = join(home, 'idle.js');
  writeFileSync(app, 'setInterval(() => {}, 1000);\n');
  const apps = Array.from({ length: count }, (_, i) => ({ name: `idle${i}`, script: app, autorestart: true }));
  const eco = join(home, 'ecosystem.config.cjs');
  writeFileSync(eco, `module.exports = ${JSON.stringify({ apps })};\n`);
  const pm2 = (...args: string[]) => execFileSync(process.execPath, [bin, ...args], { env, stdio: 'pipe', encoding: 'utf8' });
  try {
    pm2('start', eco);
    const pidFile = join(home, 'pm2.pid');
    if (!existsSync(pidFile)) return undefined;
    return await settled(Number(readFileSync(pidFile, 'utf8')));
  } finally {
    try {
      pm2('kill');
    } catch {
      // already gone
    }
    rmSync(home, { recursive: true, force: true });
  }
}

const kb = (x: number) => `${Math.round(x / 1024)} KB`;

export async function footprint(counts = [1, 10, 100, 200]): Promise<Row[]> {
  const points: Point[] = [];
  for (const c of counts) points.push(await point(c));
  const bare = await bareNode();
  const pm2 = await pm2Daemon(100);
  const at = (c: number) => points.find((p) => p.count === c);
  const rows: Row[] = [];
  for (const p of points) {
    rows.push({
      metric: `outheis start, ${p.count} idle agents: supervisor RSS / private (median of 30 s at rest; start ${p.startS.toFixed(1)} s)`,
      ours: `${fmt.mb(p.rss)} / ${fmt.mb(p.priv)}`, base: `${fmt.mb(bare.rss)} / ${fmt.mb(bare.priv)} idle node`,
      ratio: fmt.x(p.rss / bare.rss), target: 'reported', pass: undefined,
    });
  }
  const h = at(100);
  if (h) {
    const peer = pm2 ?? PM2_QUOTED;
    const peerRss = typeof peer === 'number' ? peer : peer.rss;
    rows.push({
      metric: 'supervisor RSS with 100 idle agents (outheis start)', ours: fmt.mb(h.rss),
      base: pm2 ? `${fmt.mb(pm2.rss)} PM2 daemon, 100 apps (private ${fmt.mb(pm2.priv)})` : `${fmt.mb(PM2_QUOTED)} PM2 6.0.14 (issue 14, quoted: pm2 not installed)`,
      ratio: fmt.x(h.rss / peerRss), target: '<= 60 MB', pass: h.rss <= 60 * MB,
    });
    rows.push({
      metric: 'sandbox helper processes at 100 agents (bubblewrap; not the supervisor)', ours: `${h.helpers.count} procs: ${fmt.mb(h.helpers.rss)} RSS, ${fmt.mb(h.helpers.priv)} private`,
      base: `${h.count} agents`, ratio: `${(h.helpers.count / h.count).toFixed(1)} per agent`, target: 'reported', pass: undefined,
    });
  }
  const lo = at(10);
  const hi = at(200);
  if (lo && hi) {
    const slope = (hi.priv - lo.priv) / (hi.count - lo.count);
    const slopeRss = (hi.rss - lo.rss) / (hi.count - lo.count);
    rows.push({
      metric: 'supervisor private memory per additional agent, 10 -> 200 idle agents', ours: kb(slope),
      base: `${kb(slopeRss)} RSS slope`, ratio: '-', target: '<= 100 KB', pass: slope <= 100 * 1024,
    });
  }
  return rows;
}
