// Supervision with real processes, modelled on OTP's supervisor_SUITE: which
// agents restart, in which order, when the tree escalates, and that nothing
// survives a stop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentOrder, alive, fixture, processesMatching, startSupervisor, until, waitCount, zombieChildren, type Harness } from './helpers/harness.js';

const echo = fixture('echo.js');
const agentDef = (extra: Record<string, unknown> = {}) => ({ run: echo, heartbeat: '0', shutdown: '2s', ...extra });
const fast = { intensity: 10, period: '30s', backoff: { initial: '10ms', max: '50ms' } };

async function allReady(h: Harness, names: string[]): Promise<void> {
  for (const n of names) await h.waitFor((e) => e.event === 'ready' && e.agent === n, 15000, `${n} ready`);
}

async function crash(h: Harness, name: string, code = 1): Promise<void> {
  await h.sup.operator.send(name, 'crash', { code });
}

const restartSets: [string, string[], string[]][] = [
  ['one_for_one', ['b'], ['b']],
  ['one_for_all', ['c', 'a'], ['a', 'b', 'c']],
  ['rest_for_one', ['c'], ['b', 'c']],
];
for (const [strategy, stopped, restarted] of restartSets) {
  test(`${strategy}: a crash of b restarts ${restarted.join(',')} in start order`, async () => {
    const h = startSupervisor({ supervisor: { strategy, ...fast }, agents: { a: agentDef(), b: agentDef(), c: agentDef() } });
    try {
      await allReady(h, ['a', 'b', 'c']);
      const mark = h.events.length;
      await crash(h, 'b');
      await waitCount(h, (e) => e.event === 'ready' && h.events.indexOf(e) >= mark, restarted.length);
      // Nothing else may restart. A decision announces every restart it makes ('restart')
      // before any of them is spawned, so by the restarted agents' ready the list is complete.
      const after = h.events.slice(mark);
      assert.deepEqual(after.filter((e) => e.event === 'restart').map((e) => e.agent), restarted);
      const exits = after.filter((e) => e.event === 'exit').map((e) => e.agent);
      assert.deepEqual(exits, ['b', ...stopped.filter((n) => n !== 'b')], 'b crashes first, then siblings stop in reverse start order');
      assert.deepEqual(after.filter((e) => e.event === 'spawn').map((e) => e.agent), restarted);
      assert.equal(h.sup.status().find((s) => s.name === 'b')!.restarts, 1);
    } finally {
      await h.stop();
    }
  });
}

test('an agent the operator stopped stays stopped when a one_for_all sibling restarts the rest', async () => {
  const h = startSupervisor({ supervisor: { strategy: 'one_for_all', ...fast }, agents: { a: agentDef(), b: agentDef(), c: agentDef() } });
  try {
    await allReady(h, ['a', 'b', 'c']);
    await h.sup.stop('b');
    await crash(h, 'a');
    await waitCount(h, (e) => e.event === 'ready' && e.agent === 'c', 2);
    // The restart is announced for every agent it covers before any spawn, and b stands
    // before c in start order: by c's second ready, a restart of b would be on record.
    assert.equal(h.count('restart', 'b'), 0, 'b was not restarted');
    assert.deepEqual(agentOrder(h, 'restart'), ['a', 'c']);
    assert.equal(h.count('spawn', 'b'), 1, 'b was not brought back');
    assert.equal(h.sup.status().find((s) => s.name === 'b')!.state, 'stopped');
  } finally {
    await h.stop();
  }
});

test('permanent, transient and temporary agents on normal and abnormal exit', async () => {
  const h = startSupervisor({
    supervisor: fast,
    agents: {
      perm: agentDef({ restart: 'permanent' }),
      trans_ok: agentDef({ restart: 'transient' }),
      trans_bad: agentDef({ restart: 'transient' }),
      temp: agentDef({ restart: 'temporary' }),
    },
  });
  try {
    await allReady(h, ['perm', 'trans_ok', 'trans_bad', 'temp']);
    await crash(h, 'perm', 0);
    await crash(h, 'trans_ok', 0);
    await crash(h, 'trans_bad', 1);
    await crash(h, 'temp', 1);
    await waitCount(h, (e) => e.event === 'ready' && (e.agent === 'perm' || e.agent === 'trans_bad'), 4);
    await h.waitFor((e) => e.event === 'removed' && e.agent === 'temp');
    await h.waitFor((e) => e.event === 'removed' && e.agent === 'trans_ok');
    // 'removed' is final for those two; perm and trans_bad were awaited above.
    const state = Object.fromEntries(h.sup.status().map((s) => [s.name, s.state]));
    assert.equal(state.perm, 'running', 'permanent restarts even after a normal exit');
    assert.equal(state.trans_bad, 'running', 'transient restarts after an abnormal exit');
    assert.equal(state.trans_ok, 'stopped', 'transient stays down after a normal exit');
    assert.equal(state.temp, 'failed', 'temporary is never restarted');
    assert.equal(h.count('spawn', 'temp'), 1);
    assert.equal(h.count('spawn', 'trans_ok'), 1);
    // A stopped agent is no longer a valid target.
    await assert.rejects(h.sup.operator.send('temp', 'echo', 1), { code: 'ENOAGENT' });
  } finally {
    await h.stop();
  }
});

test('intensity: a crash loop in a nested group escalates to the root, which stops everything and exits 1', { timeout: 30_000 }, async () => {
  const h = startSupervisor({
    supervisor: { strategy: 'one_for_one', intensity: 1, period: '30s', escalate: true, backoff: { initial: '10ms', max: '20ms' } },
    groups: { inner: { strategy: 'one_for_one', intensity: 2, period: '30s', backoff: { initial: '10ms', max: '20ms' } } },
    agents: {
      steady: agentDef({ args: ['--grandchild-on-start'] }),
      looper: agentDef({ group: 'inner', args: ['--exit-after=30', '--exit-code=3'] }),
      sibling: agentDef({ group: 'inner' }),
    },
  });
  const grandchildren: number[] = [];
  h.sup.on('output', (_agent: string, _stream: string, line: string) => {
    const m = /^grandchild (\d+)/.exec(line);
    if (m) grandchildren.push(Number(m[1]));
  });
  assert.equal(await h.sup.done, 1, 'the root exits non-zero');
  const escalations = h.events.filter((e) => e.event === 'escalate').map((e) => e.agent);
  assert.ok(escalations.includes('inner'), `inner escalated (got ${escalations})`);
  assert.equal(escalations.at(-1), 'root');
  // The group was restarted as a whole at least once before the root gave up.
  assert.ok(h.count('spawn', 'sibling') >= 2, 'escalation restarted the whole group');
  assert.ok(h.count('spawn', 'steady') === 1, 'the root used one_for_one: steady was not restarted');
  for (const s of h.sup.status()) {
    assert.equal(s.pid, undefined, `${s.name} has no process`);
    assert.ok(s.state === 'stopped' || s.state === 'failed');
  }
  const spawned = h.events.filter((e) => e.event === 'spawn').map((e) => e.data as number);
  for (const pid of spawned) assert.equal(alive(pid), false, `pid ${pid} survived the escalation`);
  assert.equal(grandchildren.length, 1, 'steady started a grandchild');
  assert.equal(alive(grandchildren[0]!), false, 'the grandchild did not survive the escalation');
});

test('backoff: consecutive restarts are spaced out, growing, and capped', async () => {
  const h = startSupervisor({
    supervisor: { intensity: 20, period: '60s', backoff: { initial: '100ms', max: '400ms' } },
    agents: { flappy: agentDef({ args: ['--crash-on-start'] }) },
  });
  try {
    await waitCount(h, (e) => e.event === 'spawn', 6, 20000);
    const delays = h.events.filter((e) => e.event === 'restart').map((e) => e.data as number).slice(0, 5);
    assert.deepEqual(delays, [0, 100, 200, 400, 400]);
    const spawns = h.events.filter((e) => e.event === 'spawn').map((e) => e.at);
    // Real time between spawns follows the planned delays (lower bound only: the machine may be slow).
    assert.ok(spawns[4]! - spawns[3]! >= 380, `4th gap was ${spawns[4]! - spawns[3]!} ms`);
    // The last one may be between its exit and its reaping; a zombie that stays fails here.
    await until(() => `every crashed agent to be reaped: ${zombieChildren().join('; ')}`, () => (zombieChildren().length === 0 ? true : undefined), 5000);
  } finally {
    await h.stop();
  }
});

test('after: an agent starts only once the agents it names are ready', async () => {
  const h = startSupervisor({
    supervisor: fast,
    agents: {
      web: agentDef({ after: ['db', 'cache'] }),
      db: agentDef({ args: ['--ready-delay=300'] }),
      cache: agentDef({ args: ['--ready-delay=100'] }),
      free: agentDef(),
    },
  });
  try {
    await allReady(h, ['web', 'db', 'cache', 'free']);
    const at = (event: string, agent: string) => h.events.find((e) => e.event === event && e.agent === agent)!.at;
    assert.ok(at('spawn', 'web') >= at('ready', 'db'), 'web spawned after db was ready');
    assert.ok(at('spawn', 'web') >= at('ready', 'cache'), 'web spawned after cache was ready');
    assert.ok(at('spawn', 'free') < at('ready', 'db'), 'agents without after start at once');
    assert.deepEqual(h.sup.config.order, ['db', 'cache', 'web', 'free']);
  } finally {
    await h.stop();
  }
});

test('after: a dependency that is gone for good no longer holds its dependants back', async () => {
  const h = startSupervisor({
    supervisor: fast,
    agents: {
      once: agentDef({ restart: 'temporary', args: ['--crash-on-start'] }),
      user: agentDef({ after: ['once'] }),
    },
  });
  try {
    await h.waitFor((e) => e.event === 'removed' && e.agent === 'once');
    await h.waitFor((e) => e.event === 'ready' && e.agent === 'user', 5000, 'user ready');
    assert.equal(h.sup.status().find((s) => s.name === 'once')!.state, 'failed');
  } finally {
    await h.stop();
  }
});

test('an agent is restarted when it exits, even while a grandchild still holds its stdout', async () => {
  const h = startSupervisor({ supervisor: fast, agents: { leaky: agentDef({ args: ['--orphan-then-exit'] }) } });
  const grandchildren: number[] = [];
  h.sup.on('output', (_agent: string, _stream: string, line: string) => {
    const m = /^grandchild (\d+)/.exec(line);
    if (m) grandchildren.push(Number(m[1]));
  });
  try {
    const exit = await h.waitFor((e) => e.event === 'exit' && e.agent === 'leaky', 5000, 'the exit');
    assert.equal((exit.data as { code: number }).code, 3);
    await waitCount(h, (e) => e.event === 'spawn' && e.agent === 'leaky', 2, 5000);
    assert.ok(grandchildren.length >= 1);
    // Its group was sent SIGKILL when the agent exited; a grandchild still alive after that fails here.
    await until(`grandchild ${grandchildren[0]} to be gone with its agent`, () => (alive(grandchildren[0]!) ? undefined : true), 5000);
  } finally {
    await h.stop();
  }
});

test('watchdog: a busy-looping agent misses heartbeats, is killed and restarted', async () => {
  const h = startSupervisor({ supervisor: fast, agents: { spinner: agentDef({ heartbeat: '300ms' }), calm: agentDef({ heartbeat: '1s' }) } });
  try {
    await allReady(h, ['spinner', 'calm']);
    const pid = h.sup.pid('spinner')!;
    await h.sup.operator.send('spinner', 'hang', {});
    const fault = await h.waitFor((e) => e.event === 'fault' && e.agent === 'spinner', 10000);
    assert.match(String(fault.data), /no heartbeat/);
    await waitCount(h, (e) => e.event === 'ready' && e.agent === 'spinner', 2);
    assert.equal(alive(pid), false, 'the hung process is gone');
    assert.notEqual(h.sup.pid('spinner'), pid);
    assert.equal(h.count('fault', 'calm'), 0, 'a quiet but healthy agent is left alone');
    assert.deepEqual(await h.sup.operator.send('spinner', 'echo', 'back', { wait: true }), 'back');
  } finally {
    await h.stop();
  }
});

test('start timeout: an agent that never says ready is killed and restarted', async () => {
  const h = startSupervisor({ supervisor: fast, agents: { mute: agentDef({ args: ['--never-ready'], start_timeout: '300ms' }) } });
  try {
    const fault = await h.waitFor((e) => e.event === 'fault' && e.agent === 'mute');
    assert.match(String(fault.data), /not ready within 300 ms/);
    await waitCount(h, (e) => e.event === 'spawn' && e.agent === 'mute', 2);
  } finally {
    await h.stop();
  }
});

test('stop: an agent whose shutdown hook hangs leaves at SIGTERM, before SIGKILL is needed', async () => {
  const h = startSupervisor({ supervisor: fast, agents: { slow: agentDef({ args: ['--shutdown-ms=60000'], shutdown: '300ms' }) } });
  await h.waitFor((e) => e.event === 'ready' && e.agent === 'slow');
  assert.equal(await h.stop(), 0);
  // Left at SIGTERM (the SDK exits 143); the SIGKILL stage would show as signal SIGKILL.
  const exit = h.events.find((e) => e.event === 'exit' && e.agent === 'slow')!.data as { code: number; signal: string | null };
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 143, signal: null });
});

test('stop: reverse start order, staged escalation, and no process or grandchild survives', async () => {
  const marker = `outheis-stop-${process.pid}-${Date.now()}`;
  const h = startSupervisor({
    supervisor: fast,
    agents: {
      first: agentDef({ args: [marker] }),
      second: agentDef({ args: [marker, '--shutdown-ms=50'] }),
      stubborn: agentDef({ args: [marker, '--ignore-shutdown'], shutdown: '200ms' }),
      last: agentDef({ args: [marker] }),
    },
  });
  await allReady(h, ['first', 'second', 'stubborn', 'last']);
  const grandchildren: number[] = [];
  for (const n of ['first', 'stubborn']) grandchildren.push(((await h.sup.operator.send(n, 'grandchild', {}, { wait: true })) as { pid: number }).pid);
  assert.ok(grandchildren.every(alive));
  assert.ok(processesMatching(marker).length >= 4);
  const t0 = Date.now();
  assert.equal(await h.stop(), 0);
  assert.deepEqual(agentOrder(h, 'exit'), ['last', 'stubborn', 'second', 'first']);
  const stubborn = h.events.find((e) => e.event === 'exit' && e.agent === 'stubborn')!.data as { signal: string };
  assert.equal(stubborn.signal, 'SIGKILL', 'an agent ignoring the stop message and SIGTERM is killed');
  assert.ok(Date.now() - t0 >= 200, 'the shutdown budget was honoured before escalating');
  // Each group was SIGKILLed on its agent's exit; one still alive after that fails here.
  for (const pid of grandchildren) await until(`grandchild ${pid} to be gone`, () => (alive(pid) ? undefined : true), 5000);
  assert.deepEqual(processesMatching(marker), [], 'ps shows no survivor');
});
