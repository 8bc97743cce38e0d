// Core benchmarks: each figure next to its baseline, measured in the same run.
import { execFileSync, fork, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../logs/logger.js';
import { parseConfig } from '../supervisor/config/index.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { SUPERVISOR_NODE_FLAGS } from '../cli/node-flags.js';
import { forEachLine } from '../logs/lines.js';
import { fmt, median, percentile, pssOf, rssOf, sleep, type Row } from './lib.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { Journal } from '../logs/journal/journal.js';
import { tmpdir } from 'node:os';

const here = (p: string) => fileURLToPath(new URL(`../../bench/${p}`, import.meta.url));
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const now = () => performance.timeOrigin + performance.now();

function supervise(agents: Record<string, unknown>, root: Record<string, unknown> = {}, journal?: Journal) {
  const dir = mkdtempSync(join(tmpdir(), 'outheis-bench-'));
  const cfg = parseConfig({ state_dir: join(dir, 'state'), supervisor: { intensity: 1000, period: '1s', ...root }, agents }, join(dir, 'outheis.json'));
  const sup = new Supervisor(cfg, { log: silentLogger(), journal });
  const ready = new Set<string>();
  const readyAll = new Promise<void>((resolve) => sup.on('ready', (name: string) => { ready.add(name); if (ready.size === cfg.order.length) resolve(); }));
  sup.start();
  return { sup, readyAll };
}

// ---- routed throughput vs direct IPC ------------------------------------------

/** Routed one-way msgs/s from producer to consumer, optionally through a journal. */
async function routedRate(n: number, size: number, journal?: Journal): Promise<number> {
  const { sup, readyAll } = supervise({
    producer: { run: here('agents/producer.js'), pledge: ['send:consumer'] },
    consumer: { run: here('agents/consumer.js') },
  }, {}, journal);
  await readyAll;
  // Warm-up, then the measured run.
  const runOnce = async (count: number) => {
    await sup.operator.send('consumer', 'reset', {}, { wait: true });
    const { startedAt } = (await sup.operator.send('producer', 'flood', { n: count, size }, { wait: true, timeout: 120000 })) as { startedAt: number };
    for (;;) {
      const s = (await sup.operator.send('consumer', 'stats', {}, { wait: true })) as { count: number; lastAt: number };
      if (s.count >= count) return count / ((s.lastAt - startedAt) / 1000);
      await sleep(5);
    }
  };
  await runOnce(Math.min(20000, n));
  const rate = await runOnce(n);
  await sup.halt();
  return rate;
}

export async function throughput(n: number, size: number): Promise<Row[]> {
  const ours = await routedRate(n, size);
  const { rate: journaled, commits } = await journaledRate(n, size);

  const base = await directOneWay(n, size);
  const relay = await nakedRelay(n, size);
  const ratio = ours / base;
  return [
    { metric: `routed msgs/s, one-way (${n.toLocaleString('en-US')} x ${size} B)`, ours: fmt.rate(ours), base: `${fmt.rate(base)} direct IPC`, ratio: fmt.x(ratio), target: '>= 1.0x', pass: ratio >= 1 },
    { metric: 'the same against a bare relay', ours: fmt.rate(ours), base: `${fmt.rate(relay)} relay`, ratio: fmt.x(ours / relay), target: 'reported', pass: undefined },
    { metric: `routed msgs/s with the journal on (fsync batch, ${commits.toLocaleString('en-US')} group commits)`, ours: fmt.rate(journaled), base: `${fmt.rate(base)} direct IPC`, ratio: fmt.x(journaled / base), target: '>= 1.0x', pass: journaled >= base },
    { metric: 'the journal\'s cost: routed with it against without', ours: fmt.rate(journaled), base: `${fmt.rate(ours)} no journal`, ratio: fmt.x(journaled / ours), target: 'reported', pass: undefined },
  ];
}

/** The baseline of every routed rate: a forked child's process.send stream of the same messages to its parent, msgs/s (after a warm-up). */
export async function directOneWay(n: number, size: number): Promise<number> {
  const child = fork(here('agents/ipc-child.cjs'), [], { stdio: 'ignore' });
  await new Promise((r) => child.once('message', r));
  const direct = async (count: number) => {
    let got = 0;
    let startAt = 0;
    return new Promise<number>((resolve) => {
      const onMsg = (m: { cmd?: string; at?: number }) => {
        if (m.cmd === 'start') { startAt = m.at!; return; }
        if (++got === count) {
          child.off('message', onMsg);
          resolve(count / ((now() - startAt) / 1000));
        }
      };
      child.on('message', onMsg);
      child.send({ cmd: 'flood', n: count, size });
    });
  };
  await direct(Math.min(20000, n));
  const base = await direct(n);
  child.kill();
  return base;
}

/** Routed one-way msgs/s with the journal on a real file with the default policy: one fsync per group commit. */
export async function journaledRate(n: number, size: number): Promise<{ rate: number; commits: number }> {
  const jdir = mkdtempSync(join(tmpdir(), 'outheis-bench-journal-'));
  const journal = await Journal.open(jdir, { fsync: 'batch', retainMs: 3600_000, maxBytes: 1 << 30 });
  const rate = await routedRate(n, size, journal);
  const commits = journal.stats.commits;
  await journal.close();
  rmSync(jdir, { recursive: true, force: true });
  return { rate, commits };
}

/**
 * The floor for any process in the middle: a parent that forwards one child's
 * process.send messages to another child, validating and recording nothing.
 */
async function nakedRelay(n: number, size: number): Promise<number> {
  const a = fork(here('agents/ipc-child.cjs'), [], { stdio: 'ignore' });
  const b = fork(here('agents/ipc-child.cjs'), [], { stdio: 'ignore' });
  await Promise.all([a, b].map((c) => new Promise((r) => c.once('message', r))));
  const run = (count: number) => new Promise<number>((resolve) => {
    let startAt = 0;
    const forward = (m: { cmd?: string; at?: number }) => {
      if (m.cmd === 'start') startAt = m.at!;
      else b.send(m);
    };
    const onCount = (m: { cmd?: string; at?: number }) => {
      if (m.cmd !== 'counted') return;
      a.off('message', forward);
      b.off('message', onCount);
      resolve(count / ((m.at! - startAt) / 1000));
    };
    a.on('message', forward);
    b.on('message', onCount);
    b.send({ cmd: 'expect', n: count });
    a.send({ cmd: 'flood', n: count, size });
  });
  await run(Math.min(20000, n));
  const rate = await run(n);
  a.kill();
  b.kill();
  return rate;
}

// ---- request/reply latency vs direct IPC round trip --------------------------

/**
 * The same, with every process on one core (children inherit the affinity): there a
 * hop is a context switch rather than a cross-core wake-up, so the ratio shows our
 * per-hop cost more than the machine's wake-up latency.
 */
export async function requestReplyOneCore(n: number, size: number): Promise<Row[]> {
  const all = execFileSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' }).split(':').pop()!.trim();
  execFileSync('taskset', ['-pc', '0', String(process.pid)], { stdio: 'ignore' });
  try {
    const rows = await requestReply(n, size);
    return rows.map((r) => ({ ...r, metric: `${r.metric}, one core`, target: 'reported', pass: undefined }));
  } finally {
    execFileSync('taskset', ['-pc', all, String(process.pid)], { stdio: 'ignore' });
  }
}

export async function requestReply(n: number, size: number): Promise<Row[]> {
  const { sup, readyAll } = supervise({
    producer: { run: here('agents/producer.js'), pledge: ['send:consumer'] },
    consumer: { run: here('agents/consumer.js') },
  });
  await readyAll;
  await sup.operator.send('producer', 'rr', { n: 2000, size }, { wait: true, timeout: 120000 });
  const ours = ((await sup.operator.send('producer', 'rr', { n, size }, { wait: true, timeout: 120000 })) as number[]).sort((a, b) => a - b);
  await sup.halt();

  const base = await directRoundTrip(n, size);
  return [50, 99].map((p) => {
    const o = percentile(ours, p);
    const b = percentile(base, p);
    return { metric: `request/reply p${p} (agent -> agent)`, ours: fmt.ms(o), base: `${fmt.ms(b)} direct IPC`, ratio: fmt.x(o / b), target: p === 50 ? '<= 2x' : 'reported', pass: p === 50 ? o / b <= 2 : undefined };
  });
}

/** The baseline of every round trip: a forked child echoing process.send messages, sorted latencies in ms (after a warm-up). */
export async function directRoundTrip(n: number, size: number): Promise<number[]> {
  const child = fork(here('agents/ipc-child.cjs'), [], { stdio: 'ignore' });
  await new Promise((r) => child.once('message', r));
  const payload = 'x'.repeat(size);
  const rtt = async (count: number) => {
    const lat: number[] = [];
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await new Promise<void>((resolve) => { child.once('message', () => resolve()); child.send({ cmd: 'echo', i, payload }); });
      lat.push(performance.now() - t);
    }
    return lat.sort((a, b) => a - b);
  };
  await rtt(2000);
  const base = await rtt(n);
  child.kill();
  return base;
}

// ---- restart latency vs bare node start ----------------------------------------

export async function restartLatency(rounds: number): Promise<Row> {
  const { sup, readyAll } = supervise({ victim: { run: here('agents/idle.js') } }, { backoff: { initial: '100ms', max: '1s', reset: '50ms' } });
  await readyAll;
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    await sleep(120); // a stable run, so each kill is a first failure (restart at once)
    const pid = sup.pid('victim')!;
    const back = new Promise<number>((resolve) => sup.once('ready', () => resolve(performance.now())));
    const t = performance.now();
    process.kill(pid, 'SIGKILL');
    times.push((await back) - t);
  }
  await sup.halt();
  const bare: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await new Promise((r) => spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }).on('exit', r));
    bare.push(performance.now() - t);
  }
  const o = median(times);
  const b = median(bare);
  return { metric: `restart, SIGKILL -> ready (median of ${rounds})`, ours: fmt.ms(o), base: `${fmt.ms(b)} node -e 0`, ratio: `${o - b >= 0 ? '+' : ''}${(o - b).toFixed(1)} ms`, target: '<= +10 ms', pass: o - b <= 10 };
}

// ---- memory: supervisor with 100 idle agents, per-agent overhead ----------------

/** Median RSS of ten idle node processes started with `args`. */
async function idleRss(args: string[]): Promise<number> {
  const procs = Array.from({ length: 10 }, () => spawn(process.execPath, args, { stdio: 'ignore' }));
  await sleep(2000);
  const rss = median(procs.map((p) => rssOf(p.pid!)));
  for (const p of procs) p.kill();
  return rss;
}

/** A real `outheis start` with `count` idle agents; resolves once all are ready, with their node processes' pids (inside the sandbox). */
export async function idleSupervisor(count: number, extra: Record<string, unknown> = {}) {
  const agents: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) agents[`idle${i}`] = { run: here('agents/idle.js') };
  return outheisStart(agents, extra);
}

/** A real `outheis start` on a config of these agents (and `extra` keys); resolves once every agent is ready. */
export async function outheisStart(agents: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const count = Object.keys(agents).length;
  const dir = mkdtempSync(join(tmpdir(), 'outheis-bench-'));
  const file = join(dir, 'outheis.json');
  writeFileSync(file, JSON.stringify({ state_dir: join(dir, 'state'), ...extra, agents }));
  const sup = spawn(process.execPath, [...SUPERVISOR_NODE_FLAGS, CLI, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OUTHEIS_LOG_LEVEL: 'info' } });
  let readyCount = 0;
  const pids: number[] = [];
  await new Promise<void>((resolve) => {
    forEachLine(sup.stdout!, 1 << 20, (line) => {
      if (!line.includes('"msg":"ready"')) return;
      pids.push(JSON.parse(line).pid);
      if (++readyCount === count) resolve();
    });
  });
  const stop = async () => {
    sup.kill('SIGTERM');
    await new Promise((r) => sup.on('exit', r));
  };
  return { pid: sup.pid!, pids, dir, stop };
}

export async function memory(count: number): Promise<Row[]> {
  const { pid: supPid, pids, stop } = await idleSupervisor(count);
  await sleep(2000); // let start-up garbage be collected and heartbeats settle
  const supRss = rssOf(supPid);
  const supPss = pssOf(supPid);
  const agentRss = median(pids.map(rssOf));
  // Baselines are medians of several processes too: one process's RSS wanders by ~1 MB.
  const bareRss = await idleRss(['-e', 'setInterval(() => {}, 1000)']);
  // The same idle program as an ES module file, the shape of every agent: loading a module file costs ~2 MB by itself.
  const bareEsmRss = await idleRss([here('agents/bare-idle.mjs')]);
  await stop();
  const over = agentRss - bareRss;
  return [
    { metric: `supervisor RSS with ${count} idle agents`, ours: fmt.mb(supRss), base: '-', ratio: '-', target: '<= 60 MB', pass: supRss <= 60 * 1048576 },
    { metric: `supervisor PSS with ${count} idle agents`, ours: fmt.mb(supPss), base: '-', ratio: '-', target: 'reported', pass: undefined },
    { metric: 'per-agent RSS over an idle node running an ES module', ours: `+${fmt.mb(agentRss - bareEsmRss)}`, base: `${fmt.mb(bareEsmRss)} idle .mjs`, ratio: `${fmt.mb(agentRss)} agent`, target: '<= 3 MB', pass: agentRss - bareEsmRss <= 3 * 1048576 },
    { metric: 'per-agent RSS over node -e (no module file at all)', ours: `+${fmt.mb(over)}`, base: `${fmt.mb(bareRss)} node -e`, ratio: `${fmt.mb(agentRss)} agent`, target: 'reported', pass: undefined },
  ];
}
