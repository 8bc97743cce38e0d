// cgroups come and go with the supervisor (issue 13 item 2): created at start,
// removed at stop once the agents are gone, and what a SIGKILLed supervisor left
// (groups, and a process still in one) is killed and removed at the next start.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentOf, startDaemon, stop } from './helpers/daemon.js';
import { alive, fixture, until } from './helpers/harness.js';
import { anyExists, groupDirs } from './helpers/cgroups.js';
import { sharesOf } from '../policies/cgroups/group.js';
import { reload, rewrite } from './helpers/reload.js';

const CONFIG = ['agents:', `  a: { run: ${fixture('echo.js')}, limits: { memory: 64MiB, cpu: 50%, nproc: 64 } }`];

test('created at start, removed after a graceful stop; the supervisor in a cpu group of its own meanwhile, weighted as interactive', async () => {
  const d = await startDaemon(CONFIG, { waitReady: ['a'] });
  const dirs = groupDirs(d.stateDir, 'a');
  assert.deepEqual(anyExists(dirs), dirs, 'a group in each hierarchy while it runs');
  const own = join(groupDirs(d.stateDir)[0]!, 'supervisor');
  assert.deepEqual(readFileSync(join(own, 'cgroup.procs'), 'utf8').trim().split('\n'), [String(d.proc.pid)], 'the supervisor alone; its agents left it for their own');
  assert.equal(readFileSync(join(own, 'cpu.shares'), 'utf8').trim(), String(sharesOf('interactive')));
  await stop(d);
  assert.deepEqual(anyExists(groupDirs(d.stateDir)), [], 'the instance\'s directories are gone');
});

test('after a supervisor SIGKILL: the next start kills what is left in the stale groups and removes them; its stop removes its own', async (t) => {
  const d = await startDaemon(CONFIG, { waitReady: ['a'] });
  await stop(d, 'SIGKILL');
  const dirs = groupDirs(d.stateDir, 'a');
  assert.deepEqual(anyExists(dirs), dirs, 'a SIGKILLed supervisor cannot remove its groups');
  // A leftover process in the stale group (as a daemonised child that escaped its sandbox would be).
  const leftover = spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
  t.after(() => { if (alive(leftover.pid!)) leftover.kill('SIGKILL'); });
  for (const dir of dirs) writeFileSync(join(dir, 'cgroup.procs'), String(leftover.pid));
  const again = await startDaemon(CONFIG, { dir: d.dir, waitReady: ['a'] });
  await again.printed(/"stale":\["a"\].*"msg":"cgroups: one per agent"/);
  await until('the leftover process killed', () => (leftover.exitCode !== null || leftover.signalCode !== null ? true : undefined));
  assert.equal(leftover.signalCode, 'SIGKILL');
  const pid = agentOf(again, 'a').pid!;
  for (const dir of dirs) assert.ok(readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').includes(String(pid)), `the new agent (pid ${pid}) in ${dir}`);
  await stop(again);
  assert.deepEqual(anyExists(groupDirs(d.stateDir)), [], 'removed after the second stop');
});

test('reload: a removed agent\'s group goes once its process has exited; a changed limit is written to the kept agent\'s group', async (t) => {
  const echo = fixture('echo.js');
  const d = await startDaemon(['agents:', `  a: { run: ${echo}, limits: { memory: 64MiB } }`, `  b: { run: ${echo}, shutdown: 300ms }`], { waitReady: ['a', 'b'] });
  t.after(() => stop(d));
  assert.deepEqual(anyExists(groupDirs(d.stateDir, 'b')), groupDirs(d.stateDir, 'b'));
  const before = agentOf(d, 'a').pid;
  const memory = groupDirs(d.stateDir, 'a')[1]!;
  const limitOfA = () => readFileSync(join(memory, 'memory.limit_in_bytes'), 'utf8').trim();
  // Refused at the isolation step (c's code is in a 0700 directory its uid cannot enter):
  // the running agent's group keeps its limit, and no group is made for c.
  const locked = join(d.dir, 'locked');
  mkdirSync(locked, { mode: 0o700 });
  copyFileSync(echo, join(locked, 'agent.js'));
  rewrite(d, ['agents:', `  a: { run: ${echo}, limits: { memory: 32MiB } }`, `  b: { run: ${echo}, shutdown: 300ms }`, `  c: { run: ${join(locked, 'agent.js')} }`]);
  const refused = reload(d);
  assert.equal(refused.code, 2, JSON.stringify(refused.result));
  assert.equal(limitOfA(), String(64 * 2 ** 20), 'a refused reload writes no limits');
  assert.deepEqual(anyExists(groupDirs(d.stateDir, 'c')), []);
  assert.equal(agentOf(d, 'a').pid, before);
  rewrite(d, ['agents:', `  a: { run: ${echo}, limits: { memory: 96MiB } }`]);
  const r = reload(d);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(anyExists(groupDirs(d.stateDir, 'b')), [], 'b\'s groups are gone');
  const pidAfter = await until('a restarted', () => { const a = agentOf(d, 'a'); return a.state === 'running' && a.pid !== before ? a.pid : undefined; });
  assert.ok(pidAfter);
  assert.equal(limitOfA(), String(96 * 2 ** 20), 'written when a was spawned again');
  const pid = await until('a restarted with its new manifest', () => {
    const a = agentOf(d, 'a');
    return a.state === 'running' && a.pid !== before ? a.pid : undefined;
  });
  await until(`a (pid ${pid}) in its group`, () => (readFileSync(join(memory, 'cgroup.procs'), 'utf8').split('\n').includes(String(pid)) ? true : undefined));
});
