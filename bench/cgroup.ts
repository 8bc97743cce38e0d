// What an agent's cgroup costs at start: a real `outheis start` of `count` agents
// with limits (memory, nproc; no cpu quota, which would slow the start itself:
// node starts CPU-bound), once with cgroups (made before spawn, entered
// by the chain's first step) and once without (the same start in a private mount
// namespace where the cgroup root is bound read-only: the fallback), alternated,
// in one run. Two figures: spawn → ready per agent (the chain's extra step), and
// `outheis start` → every agent ready, divided per agent (the groups' setup too).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SUPERVISOR_NODE_FLAGS } from '../cli/node-flags.js';
import { forEachLine } from '../logs/lines.js';
import { commandLine } from '../policies/chain.js';
import { detectCgroups } from '../policies/cgroups/detect.js';
import { createGroup, type CgroupDriver } from '../policies/cgroups/group.js';
import { fmt, median, type Row } from './lib.js';

const IDLE = fileURLToPath(new URL('../../bench/agents/idle.js', import.meta.url));
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const READ_ONLY = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount --bind -o ro /sys/fs/cgroup /sys/fs/cgroup && exec "$@"', 'ro-cgroups'];

interface StartRun { total: number; spawnToReady: number[]; cgroups: boolean }

async function startOnce(count: number, withCgroups: boolean): Promise<StartRun> {
  const dir = mkdtempSync(join(tmpdir(), 'outheis-bench-cg-'));
  const file = join(dir, 'outheis.json');
  const agents: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) agents[`a${i}`] = { run: IDLE, limits: { memory: '256MiB', nproc: 64 } };
  writeFileSync(file, JSON.stringify({ state_dir: join(dir, 'state'), agents }));
  const argv = [...(withCgroups ? [] : READ_ONLY), process.execPath, ...SUPERVISOR_NODE_FLAGS, CLI, 'start', '-c', file];
  const t0 = performance.now();
  const sup = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OUTHEIS_LOG_LEVEL: 'info' } });
  const spawnToReady: number[] = [];
  let cgroups = false;
  const total = await new Promise<number>((resolve, reject) => {
    sup.on('exit', (code) => reject(new Error(`outheis start exited ${code} before its agents were ready`)));
    forEachLine(sup.stdout!, 1 << 20, (line) => {
      if (line.includes('"msg":"cgroups: one per agent"')) cgroups = true;
      if (!line.includes('"msg":"ready"') || !line.includes('"agent"')) return;
      spawnToReady.push(JSON.parse(line).ms);
      if (spawnToReady.length === count) resolve(performance.now() - t0);
    });
  });
  sup.removeAllListeners('exit');
  sup.kill('SIGTERM');
  await new Promise((r) => sup.on('exit', r));
  rmSync(dir, { recursive: true, force: true });
  return { total, spawnToReady, cgroups };
}

function timeOnce(argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' }).on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${argv[0]} exited ${code}`))));
  });
}

/** The chain's cgroup step alone: `sh` entering the agent's groups, then exec `node -e 0`, against `node -e 0`; alternated. */
async function enterCost(driver: CgroupDriver, rounds: number): Promise<[number, number]> {
  const group = createGroup(driver, 'bench', { qos: 'user', cpu: undefined, memory: 256 * 2 ** 20, nproc: 64 });
  const node = { execPath: process.execPath, permission: undefined, heap: undefined, extra: [], run: '-e', args: ['0'] };
  const entering = commandLine({ cgroup: { tool: '/bin/sh', procs: group.procs }, node });
  const bare = commandLine({ node });
  const a: number[] = [];
  const b: number[] = [];
  await timeOnce(bare);
  for (let i = 0; i < rounds; i++) {
    a.push(await timeOnce(entering));
    b.push(await timeOnce(bare));
  }
  driver.removeAll();
  return [median(a), median(b)];
}

export async function cgroupCost(count: number, rounds: number): Promise<Row[]> {
  const found = detectCgroups({ stateDir: mkdtempSync(join(tmpdir(), 'outheis-bench-cg-enter-')) });
  if (!found.driver || process.getuid?.() !== 0) {
    return [{ metric: 'agent start with a cgroup', ours: 'n/a', base: 'n/a', ratio: 'n/a', target: `needs root and cgroups (${found.why ?? 'not root'})`, pass: undefined }];
  }
  const runs: { with: StartRun[]; without: StartRun[] } = { with: [], without: [] };
  for (let i = 0; i < rounds; i++) {
    runs.with.push(await startOnce(count, true));
    runs.without.push(await startOnce(count, false));
  }
  if (!runs.with.every((r) => r.cgroups) || runs.without.some((r) => r.cgroups)) throw new Error('bench: the runs did not get (or escape) cgroups as planned');
  const perAgent = (rs: StartRun[]) => median(rs.map((r) => r.total / count));
  const spawnReady = (rs: StartRun[]) => median(rs.flatMap((r) => r.spawnToReady));
  const [sw, so, tw, to] = [spawnReady(runs.with), spawnReady(runs.without), perAgent(runs.with), perAgent(runs.without)];
  const [ew, eo] = await enterCost(found.driver, rounds * 4);
  const diff = (a: number, b: number) => `${a - b >= 0 ? '+' : ''}${fmt.ms(a - b)} (${fmt.x(a / b)})`;
  // Reported, not targeted: moving a process between v1 groups waits for an RCU grace
  // period per hierarchy (cgroup_threadgroup_rwsem), which a loaded machine stretches.
  return [
    { metric: `cgroup step alone: sh entering ${found.driver.kind === 'v1' ? 3 : 1} group(s), exec node -e 0 (median of ${rounds * 4})`, ours: fmt.ms(ew), base: `${fmt.ms(eo)} node -e 0`, ratio: diff(ew, eo), target: 'reported', pass: undefined },
    { metric: `agent spawn -> ready with its cgroup (median of ${count}x${rounds} starts, ${found.driver.kind})`, ours: fmt.ms(sw), base: `${fmt.ms(so)} no cgroup`, ratio: diff(sw, so), target: 'reported', pass: undefined },
    { metric: `outheis start -> ${count} agents ready, per agent, with cgroups (median of ${rounds})`, ours: fmt.ms(tw), base: `${fmt.ms(to)} no cgroup`, ratio: diff(tw, to), target: 'reported', pass: undefined },
  ];
}
