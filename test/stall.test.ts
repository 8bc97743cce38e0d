// Pausing the supervisor must not kill the system (issue 10, item 4): a real
// `outheis start` with sandboxed agents is SIGSTOPped for longer than their heartbeat
// (what Ctrl-Z does to `npm start`) and continued. The pause itself is the input:
// its length is what the test is about, so it is a timed stop, not a wait.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AgentStatusJson, StatusResult } from '../supervisor/control/protocol.js';
import { startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { alive, fixture, sleep, until } from './helpers/harness.js';

const echo = fixture('echo.js');
const NAMES = ['a1', 'a2', 'a3', 'a4', 'a5'];

async function pause(d: Daemon, ms: number): Promise<void> {
  d.kill('SIGSTOP');
  try {
    await sleep(ms);
  } finally {
    d.kill('SIGCONT');
  }
}

const statusOf = (d: Daemon) => new Map(d.cliJson<StatusResult>(['status']).agents.map((a) => [a.name, a]));

/** Every agent as it was: the same process, running, not restarted; the supervisor up. */
function unchanged(d: Daemon, before: Map<string, AgentStatusJson>, except: string[] = []): void {
  for (const [name, now] of statusOf(d)) {
    if (except.includes(name)) continue;
    const was = before.get(name)!;
    assert.deepEqual([now.state, now.pid, now.restarts], ['running', was.pid, was.restarts], `${name} is untouched`);
    assert.ok(alive(now.pid!), `${name}'s process is alive`);
  }
  assert.equal(d.proc.exitCode, null, 'the supervisor runs on');
  assert.doesNotMatch(d.out(), /escalat/, 'nothing escalated');
}

/** The stalls logged, in seconds. A loaded machine adds short ones of its own (a quarter of a heartbeat is enough). */
const stalls = (d: Daemon) => [...d.out().matchAll(/supervisor stalled ([\d.]+) s \(stopped or starved\): heartbeat windows restarted/g)].map((m) => Number(m[1]));
const paused = (d: Daemon) => stalls(d).filter((s) => s >= 2.5);

test('SIGSTOP for 3 s with 1 s heartbeats: every agent keeps its process, nothing restarts or escalates, the stall is logged once', { timeout: 120_000 }, async (t) => {
  const d = await startDaemon([
    'agents:',
    ...NAMES.map((n) => `  ${n}: { run: ${echo}, heartbeat: 1s }`),
  ], { waitReady: NAMES });
  t.after(() => stop(d, 'SIGKILL'));
  const before = statusOf(d);
  await pause(d, 3000);
  await until('the pause to be logged as a stall of about 3 s', () => (paused(d).length ? true : undefined), 20_000);
  // Two heartbeat periods past the resume: a false "hung" would have come at the first watchdog tick.
  const resumed = Date.now();
  await until('two heartbeats after the resume, with every agent answering', () => {
    for (const n of NAMES) assert.equal(d.cli(['send', n, 'echo', '"x"', '--wait']).code, 0, `${n} answers`);
    return Date.now() - resumed > 2000 ? true : undefined;
  }, 60_000, 200);
  unchanged(d, before);
  assert.doesNotMatch(d.out(), /hung: no heartbeat|agent fault/);
  assert.equal(paused(d).length, 1, `one stall, one line (logged: ${stalls(d).join(', ')} s)`);
});

test('a hung agent is still caught in the fresh window after a stall, and only it', { timeout: 120_000 }, async (t) => {
  const d = await startDaemon([
    'supervisor: { backoff: { initial: 10ms, max: 50ms } }',
    'agents:',
    ...NAMES.map((n) => `  ${n}: { run: ${echo}, heartbeat: 1s }`),
  ], { waitReady: NAMES });
  t.after(() => stop(d, 'SIGKILL'));
  const before = statusOf(d);
  // a3 busy-loops from now on: it sends nothing, before, during and after the stall.
  assert.equal(d.cli(['send', 'a3', 'hang', '{}']).code, 0);
  await pause(d, 3000);
  await until('the pause to be logged', () => (paused(d).length ? true : undefined), 20_000);
  await d.printed(/"agent":"a3"[^\n]*hung: no heartbeat|hung: no heartbeat[^\n]*"agent":"a3"/, 20_000);
  const a3 = await until('a3 to be back with a new process', () => {
    const s = statusOf(d).get('a3')!;
    return s.state === 'running' && s.pid !== before.get('a3')!.pid ? s : undefined;
  }, 30_000, 200);
  assert.equal(alive(before.get('a3')!.pid!), false, 'the hung process is gone');
  assert.equal(a3.restarts, before.get('a3')!.restarts + 1);
  unchanged(d, before, ['a3']);
  assert.doesNotMatch(d.out(), /"agent":"a[1245]"[^\n]*agent fault/);
});

test('a start deadline that falls inside the stall does not fire: the agent comes up in its fresh window', { timeout: 120_000 }, async (t) => {
  // late says ready 2 s after it starts, well inside its 5 s start_timeout; the stop
  // (6 s) begins within those 2 s, so the deadline falls due while the supervisor is stopped.
  const d = await startDaemon([
    'agents:',
    `  steady: { run: ${echo}, heartbeat: 1s }`,
    `  late: { run: ${echo}, heartbeat: 1s, args: ["--ready-delay=2000"], start_timeout: 5s }`,
  ]);
  t.after(() => stop(d, 'SIGKILL'));
  await d.printed(/"agent":"late"[^\n]*"msg":"spawned"/);
  assert.doesNotMatch(d.out(), /"agent":"late"[^\n]*"msg":"ready"/, 'stopped before late was ready');
  await pause(d, 6000);
  await d.printed(/"agent":"late"[^\n]*"msg":"ready"/, 20_000);
  await until('the pause to be logged', () => (stalls(d).some((s) => s >= 4) ? true : undefined), 20_000);
  assert.doesNotMatch(d.out(), /not ready within/);
  assert.equal(d.out().match(/"agent":"late"[^\n]*"msg":"spawned"/g)!.length, 1, 'late was spawned once');
  const late = statusOf(d).get('late')!;
  assert.deepEqual([late.state, late.restarts], ['running', 0]);
});
