// Resource limits and the log files, with real processes: an agent that eats
// memory is OOM-killed in its cgroup and restarted; a chatty agent's log rotates under a follower that
// loses nothing; a 50 MB line or binary junk on stdout does not hurt the supervisor.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { StatusResult } from '../supervisor/control/protocol.js';
import { agentOf, startDaemon, stop } from './helpers/daemon.js';
import { CLI, fixture, tempDir, until } from './helpers/harness.js';
import { fullFile } from './helpers/full-disk.js';

/** A process's resident set now, from /proc (the status's figure is a sample up to an interval old). */
const rssOf = (pid: number): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

test('limits.memory: an agent that allocates without bound is OOM-killed at its cgroup ceiling and restarted, with reason oom in status and the log', async (t) => {
  const d = await startDaemon([
    'metrics: { interval: 200ms }',
    'agents:',
    `  hog: { run: ${fixture('hog.js')}, args: [--hog], limits: { memory: 160MiB } }`,
    `  calm: { run: ${fixture('hog.js')}, limits: { memory: 160MiB } }`,
  ]);
  t.after(() => stop(d, 'SIGTERM'));
  const hog = await until('a memory-limit restart', () => {
    const a = agentOf(d, 'hog');
    return a.restarts >= 1 && a.lastExit ? a : undefined;
  });
  // The kernel, not the sampler, stops it (test/cgroup.test.ts measures how far it got).
  assert.equal(hog.lastExit!.reason, 'oom', JSON.stringify(hog.lastExit));
  assert.equal(hog.lastExit!.clean, false);
  const text = d.cli(['status', '--wide']).stdout;
  assert.match(text, /hog .*oom/);
  const calm = agentOf(d, 'calm');
  assert.equal(calm.restarts, 0, 'an agent under its limit is left alone');
  const log = readFileSync(join(d.stateDir, 'logs', 'supervisor.log'), 'utf8');
  assert.match(log, /"limit":"memory".*"msg":"limit exceeded: restarting by policy"/);
  assert.match(log, /"agent":"hog".*"reason":"oom: killed by the kernel at its cgroup's memory ceiling \(167772160 bytes\)"/);
});

test('logs rotate by size under a chatty agent, and logs -f follows across rotation without losing or repeating a line', async (t) => {
  const d = await startDaemon([
    'logs: { max_size: 64KiB, keep: 2 }',
    'agents:',
    `  chatty: { run: ${fixture('noisy.js')}, args: [--lines-per-tick=20, --pad=60] }`,
  ], { waitReady: ['chatty'] });
  t.after(() => stop(d, 'SIGTERM'));
  const logDir = join(d.stateDir, 'logs');
  const follower = spawn(process.execPath, [CLI, 'logs', 'chatty', '-f', '-n', '0', '--json'], { cwd: d.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => follower.kill('SIGKILL'));
  let followed = '';
  follower.stdout.on('data', (c) => (followed += c));
  // Several rotations' worth: the follower has read six times what one file holds.
  await until(() => `the follower to read 6 × 64 KiB (has ${followed.length} bytes)`, () => (followed.length >= 6 * 64 * 1024 ? true : undefined), 60_000);
  follower.kill('SIGINT');
  await new Promise((r) => follower.on('exit', r));
  // The files are read once chatty is stopped and its last output written: read while it
  // writes, a rotation in progress (.1 renamed to .2, the live file not yet to .1) shows.
  assert.equal(d.cli(['stop', 'chatty']).code, 0);
  const snapshot = (): string => readdirSync(logDir).filter((f) => f.startsWith('chatty.log')).sort().map((f) => `${f}:${statSync(join(logDir, f)).size}`).join(' ');
  let last = '';
  await until('chatty\'s log files to stop changing', () => (last === (last = snapshot()) ? true : undefined), 10_000, 200);
  const files = readdirSync(logDir).filter((f) => f.startsWith('chatty.log')).sort();
  assert.deepEqual(files, ['chatty.log', 'chatty.log.1', 'chatty.log.2'], 'keep: 2 rotated files, older ones deleted');
  for (const f of files) assert.ok(statSync(join(logDir, f)).size <= 64 * 1024, `${f} within max_size`);
  const numbers = followed.trim().split('\n').map((l) => Number(/^line (\d+) /.exec((JSON.parse(l) as { msg: string }).msg)![1]));
  assert.ok(numbers.length > 2000, `followed ${numbers.length} lines, expected several rotations' worth`);
  for (let i = 1; i < numbers.length; i++) assert.equal(numbers[i], numbers[i - 1]! + 1, `line ${numbers[i - 1]} was followed by ${numbers[i]}`);
  // The rotated files hold whole records in order too.
  const kept = ['chatty.log.2', 'chatty.log.1', 'chatty.log'].flatMap((f) => readFileSync(join(logDir, f), 'utf8').trim().split('\n'));
  const keptNumbers = kept.map((l) => Number(/^line (\d+) /.exec((JSON.parse(l) as { msg: string }).msg)![1]));
  for (let i = 1; i < keptNumbers.length; i++) assert.equal(keptNumbers[i], keptNumbers[i - 1]! + 1);
});

test('a 50 MB line and binary junk on stdout do not hurt the supervisor', async (t) => {
  const d = await startDaemon(['metrics: { interval: 200ms }', 'agents:', `  noisy: { run: ${fixture('noisy.js')} }`], { waitReady: ['noisy'] });
  t.after(() => stop(d, 'SIGTERM'));
  const rssBefore = rssOf(d.proc.pid!);
  // Three of them: were lines held, that would be 150 MB; reading them costs churn that the next one reuses.
  for (let i = 0; i < 3; i++) {
    const big = d.cli(['send', 'noisy', 'bigline', '{"mb":50}', '--wait', '--timeout', '60s'], { timeout: 90000 });
    assert.equal(big.code, 0, big.stderr);
  }
  const junk = d.cli(['send', 'noisy', 'junk', '{"kb":512}', '--wait']);
  assert.equal(junk.code, 0, junk.stderr);
  const log = join(d.stateDir, 'logs', 'noisy.log');
  await until('the lines after the big line and the junk', () => {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    return text.includes('after the junk') && text.includes('to stderr') ? true : undefined;
  });
  const records = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string; stream: string; truncated?: boolean });
  const cuts = records.filter((r) => r.truncated);
  assert.equal(cuts.length, 3, 'each 50 MB line is kept, cut and marked');
  const cut = cuts[0]!;
  assert.equal(Buffer.byteLength(cut.msg), 64 * 1024, 'cut at logs.max_line');
  assert.ok(records.some((r) => r.msg === 'after the big line'), 'the next line is intact');
  assert.ok(records.some((r) => r.stream === 'stderr' && r.msg === 'to stderr'));
  // Still serving, and its memory (read now, the lines all written out above) did not take the 50 MB in.
  const after = d.cliJson<StatusResult>(['status']);
  const grown = rssOf(d.proc.pid!) - rssBefore;
  assert.equal(after.supervisor.pid, d.proc.pid);
  assert.equal(after.agents[0]!.restarts, 0);
  t.diagnostic(`supervisor RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB over three 50 MB lines`);
  // Holding the lines would cost at least their 150 MB; what is left is the churn of reading them in 64 KiB chunks.
  assert.ok(grown < 100 * 1024 * 1024, `supervisor RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
});

// limits.cpu: with a cgroup the kernel throttles a spinner and the sampler leaves it
// alone (test/cgroup.test.ts); without one the sampler restarts it (test/cgroup-fallback.test.ts).

test('a full disk under an agent\'s log: the supervisor says so once and carries on', async (t) => {
  const dir = tempDir('outheis-full-');
  mkdirSync(join(dir, '.outheis', 'logs'), { recursive: true, mode: 0o700 });
  // Every write to it fails with ENOSPC: a full tmpfs's file is bound over it.
  const full = fullFile(join(dir, '.outheis', 'logs', 'noisy.log'));
  const d = await startDaemon(['agents:', `  noisy: { run: ${fixture('noisy.js')} }`], { dir, waitReady: ['noisy'] });
  t.after(async () => {
    await stop(d, 'SIGTERM');
    full.unmount();
  });
  for (let i = 0; i < 20; i++) assert.equal(d.cli(['send', 'noisy', 'say', JSON.stringify({ text: `line ${i}` }), '--wait']).code, 0);
  await d.printed(/"file":"noisy.log","code":"ENOSPC".*"msg":"cannot write a log file/);
  await d.printed(/"file":"noisy.log","bytes":\d+,"msg":"log output lost"/, 15000);
  assert.equal(d.out().match(/cannot write a log file/g)?.length, 1, 'said once, not once per line');
  assert.equal(d.cliJson<StatusResult>(['status']).agents[0]!.state, 'running');
});
