// cgroups for real (issue 13 item 2), on this machine's v1 cpu, memory and pids
// hierarchies, through a real `outheis start`: a spinning agent is throttled to its
// quota (and keeps its pid), an off-heap allocator is stopped by the kernel at its
// ceiling and restarted with reason `oom`, a fork bomb is stopped by pids.max.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentOf, startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { CLI, fixture, until } from './helpers/harness.js';
import { counterOf, cpuSeconds, groupDirs, readNumber, rssOf } from './helpers/cgroups.js';

const MiB = 2 ** 20;
const execFileP = promisify(execFile);
let d: Daemon;

test('cgroups: one daemon with a spinner, an allocator and a fork bomb', async (t) => {
  d = await startDaemon([
    'metrics: { interval: 200ms }',
    'agents:',
    // heartbeat 0: the busy loop is the quota's to hold, not the hang watchdog's
    `  spin: { run: ${fixture('echo.js')}, heartbeat: 0, shutdown: 300ms, limits: { cpu: 20% } }`,
    `  alloc: { run: ${fixture('cg-alloc.js')}, limits: { memory: 128MiB } }`,
    `  bomb: { run: ${fixture('cg-forkbomb.js')}, pledge: [spawn], limits: { nproc: 40 } }`,
  ], { waitReady: ['spin', 'alloc', 'bomb'] });
  t.after(() => stop(d, 'SIGTERM'));

  await t.test('each agent is in its own group in every hierarchy, its pid among the group\'s', () => {
    for (const name of ['spin', 'alloc', 'bomb']) {
      const pid = agentOf(d, name).pid!;
      for (const dir of groupDirs(d.stateDir, name)) {
        const procs = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
        assert.ok(procs.includes(pid), `${name} (pid ${pid}) not in ${dir}: ${procs.join(' ')}`);
      }
    }
    const [cpu] = groupDirs(d.stateDir, 'spin');
    assert.equal(readNumber(join(cpu!, 'cpu.cfs_quota_us')), 20_000);
    assert.equal(readNumber(join(cpu!, 'cpu.cfs_period_us')), 100_000);
    assert.equal(readNumber(join(cpu!, 'cpu.shares')), 2048, 'qos user: weight 200 of 100');
    const a = agentOf(d, 'spin');
    assert.equal(a.isolation.cgroup, 'v1');
    assert.ok(a.isolation.layers.includes('cgroup'), a.isolation.layers.join(','));
    assert.equal(a.isolation.weaker, false);
  });

  await t.test('limits.cpu 20%: a spinning agent is throttled (from /proc: at most 30% of a core) and keeps running, same pid', async (t) => {
    const before = agentOf(d, 'spin');
    assert.equal(d.cli(['send', 'spin', 'hang']).code, 0);
    const stat = join(groupDirs(d.stateDir, 'spin')[0]!, 'cpu.stat');
    // The window: from the first throttled period to 20 more (2 s of 100 ms periods at the quota).
    const th0 = await until('the spinner throttled', () => (counterOf(stat, 'nr_throttled') > 0 ? counterOf(stat, 'nr_throttled') : undefined));
    const t0 = process.hrtime.bigint();
    const c0 = cpuSeconds(before.pid!);
    await until('20 throttled periods', () => (counterOf(stat, 'nr_throttled') - th0 >= 20 ? true : undefined), 20_000);
    const share = (cpuSeconds(before.pid!) - c0) / (Number(process.hrtime.bigint() - t0) / 1e9);
    t.diagnostic(`spinning agent: ${(share * 100).toFixed(1)}% of a core over ${counterOf(stat, 'nr_throttled') - th0} throttled periods`);
    assert.ok(share <= 0.3, `${(share * 100).toFixed(1)}% of a core under a 20% quota`);
    // Several sampling rounds have passed (200 ms): the sampler no longer restarts for cpu.
    const after = agentOf(d, 'spin');
    assert.equal(after.pid, before.pid);
    assert.equal(after.restarts, 0);
    assert.equal(after.state, 'running');
    assert.doesNotMatch(d.out(), /"limit":"cpu"/);
  });

  await t.test('limits.memory 128MiB: an off-heap allocator never above ~140 MiB, OOM-killed by the kernel, restarted with reason oom', async (t) => {
    const first = agentOf(d, 'alloc');
    const memDir = groupDirs(d.stateDir, 'alloc')[1]!;
    assert.equal(readNumber(join(memDir, 'memory.limit_in_bytes')), 128 * MiB);
    // Sent without blocking this process, and watched from /proc every few ms until the kernel kills it.
    const sent = execFileP(process.execPath, [CLI, 'send', 'alloc', 'alloc', '-c', d.file]);
    let peak = 0;
    let vmPeak = 0;
    await until('the allocator killed', () => {
      const rss = rssOf(first.pid!);
      peak = Math.max(peak, rss ?? 0);
      vmPeak = Math.max(vmPeak, rssOf(first.pid!, 'VmRSS') ?? 0);
      return rss === undefined ? true : undefined;
    }, 30_000, 2);
    await sent;
    const restarted = await until('the allocator restarted', () => {
      const a = agentOf(d, 'alloc');
      return a.restarts >= 1 && a.state === 'running' ? a : undefined;
    });
    const kernelPeak = readNumber(join(memDir, 'memory.max_usage_in_bytes'));
    t.diagnostic(`allocator: highest RssAnon seen ${(peak / MiB).toFixed(1)} MiB (VmRSS ${(vmPeak / MiB).toFixed(1)} MiB with node's shared file pages), the kernel's peak for its group ${(kernelPeak / MiB).toFixed(1)} MiB`);
    assert.ok(peak > 32 * MiB, `it did allocate: ${(peak / MiB).toFixed(1)} MiB seen`);
    assert.ok(peak <= 140 * MiB, `RSS ${(peak / MiB).toFixed(1)} MiB`);
    assert.ok(kernelPeak <= 140 * MiB, `group peak ${(kernelPeak / MiB).toFixed(1)} MiB`);
    assert.equal(restarted.lastExit!.reason, 'oom');
    assert.equal(restarted.lastExit!.clean, false);
    assert.notEqual(restarted.pid, first.pid);
    assert.ok(counterOf(join(memDir, 'memory.oom_control'), 'oom_kill') >= 1);
    await d.printed(/"limit":"memory".*"reason":"oom: killed by the kernel/);
    await d.printed(/"agent":"alloc".*"reason":"oom".*"msg":"exited"/);
    // The journal's records say the same: a `limit` record, then the exit with reason oom.
    const records = d.cli(['journal', '--json', '-a', 'alloc', '-k', 'limit,exit']).stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; limit?: string; reason: string });
    assert.deepEqual(records.map((r) => [r.type, r.type === 'limit' ? r.limit : r.reason]), [['limit', 'memory'], ['exit', 'oom']], JSON.stringify(records));
  });

  await t.test('limits.nproc 40: a fork bomb is stopped by pids.max (EAGAIN), the agent and the supervisor carry on', async (t) => {
    const before = agentOf(d, 'bomb');
    const pidsDir = groupDirs(d.stateDir, 'bomb')[2]!;
    assert.equal(readNumber(join(pidsDir, 'pids.max')), 40);
    const r = d.cli(['send', 'bomb', 'bomb', '{"n":100}', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    const reply = JSON.parse(r.stdout) as { spawned: number; refused: number; codes: string[] };
    t.diagnostic(`fork bomb: ${reply.spawned} spawned, ${reply.refused} refused (${reply.codes.join(', ')}); pids.current ${readNumber(join(pidsDir, 'pids.current'))}`);
    assert.ok(reply.refused > 0 && reply.spawned < 40, JSON.stringify(reply));
    assert.deepEqual(reply.codes, ['EAGAIN']);
    assert.ok(counterOf(join(pidsDir, 'pids.events'), 'max') >= 1, 'the pids controller refused the forks');
    assert.ok(readNumber(join(pidsDir, 'pids.current')) <= 40);
    const after = agentOf(d, 'bomb');
    assert.equal(after.pid, before.pid);
    assert.equal(after.state, 'running');
  });
});
