// The supervision decisions, pinned the way OTP's supervisor_SUITE pins them: which
// children restart, in which order, when intensity escalates, and how restarts back off.
// (Long because it is the table of OTP decisions, one test per rule.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SupervisionTree, type Action, type ChildSpec, type Policy, type RestartType, type Strategy } from '../supervisor/tree/index.js';

const BACKOFF = { initialMs: 100, maxMs: 1000, resetMs: 5000 };
// OTP's rules unless a test says otherwise: escalate, and no per-child start limit.
const policy = (strategy: Strategy, intensity = 10, periodMs = 1000, backoff = BACKOFF, escalate = true): Policy => ({ strategy, intensity, periodMs, escalate, backoff });
const agent = (name: string, restart: RestartType = 'permanent'): ChildSpec => ({ kind: 'agent', name, restart });
const group = (name: string, p: Policy, ...children: ChildSpec[]): ChildSpec => ({ kind: 'group', name, policy: p, children });
const agents = (...names: string[]) => names.map((n) => agent(n));

function tree(p: Policy, ...children: ChildSpec[]): SupervisionTree {
  return new SupervisionTree({ policy: p, children });
}
function startAll(t: SupervisionTree, now = 0): void {
  for (const a of t.startOrder()) t.started(a, now);
}
const crash = (t: SupervisionTree, a: string, now: number) => t.exited(a, { abnormal: true }, now);
const finish = (t: SupervisionTree, a: string, now: number) => t.exited(a, { abnormal: false }, now);
const types = (actions: Action[]) => actions.map((a) => a.type);
const only = <T extends Action['type']>(actions: Action[], type: T) => {
  const found = actions.filter((a) => a.type === type);
  assert.equal(found.length, 1, `expected exactly one ${type} in ${JSON.stringify(actions)}`);
  return found[0] as Extract<Action, { type: T }>;
};

// ---- strategies -----------------------------------------------------------------

test('one_for_one restarts only the failed child', () => {
  const t = tree(policy('one_for_one'), ...agents('a', 'b', 'c'));
  startAll(t);
  const actions = crash(t, 'b', 10);
  assert.deepEqual(actions, [{ type: 'start', agents: ['b'], delayMs: 0, reason: actions[0]!.reason }]);
  assert.deepEqual(['a', 'b', 'c'].map((a) => t.state(a)), ['running', 'pending', 'running']);
});

test('one_for_all stops the others in reverse start order, then starts all in start order', () => {
  const t = tree(policy('one_for_all'), ...agents('a', 'b', 'c', 'd'));
  startAll(t);
  const actions = crash(t, 'c', 10);
  assert.deepEqual(types(actions), ['stop', 'start']);
  assert.deepEqual(only(actions, 'stop').agents, ['d', 'b', 'a']);
  assert.deepEqual(only(actions, 'start').agents, ['a', 'b', 'c', 'd']);
  assert.deepEqual(t.startOrder().map((a) => t.state(a)), ['pending', 'pending', 'pending', 'pending']);
});

test('one_for_all takes a sibling group down and up as a whole, recursively', () => {
  const t = tree(policy('one_for_all'), agent('a'), group('g', policy('one_for_one'), agent('b'), group('h', policy('one_for_one'), agent('c'))), agent('d'));
  startAll(t);
  const actions = crash(t, 'd', 10);
  assert.deepEqual(only(actions, 'stop').agents, ['c', 'b', 'a']);
  assert.deepEqual(only(actions, 'start').agents, ['a', 'b', 'c', 'd']);
});

test('rest_for_one restarts the failed child and those started after it', () => {
  const t = tree(policy('rest_for_one'), ...agents('a', 'b', 'c', 'd'));
  startAll(t);
  const actions = crash(t, 'b', 10);
  assert.deepEqual(types(actions), ['stop', 'start']);
  assert.deepEqual(only(actions, 'stop').agents, ['d', 'c']);
  assert.deepEqual(only(actions, 'start').agents, ['b', 'c', 'd']);
  assert.equal(t.state('a'), 'running');
});

test('rest_for_one on the last child stops nothing', () => {
  const t = tree(policy('rest_for_one'), ...agents('a', 'b'));
  startAll(t);
  const actions = crash(t, 'b', 10);
  assert.deepEqual(types(actions), ['start']);
  assert.deepEqual(only(actions, 'start').agents, ['b']);
});

test('one_for_all: pending agents are started but not stopped; removed ones are neither', () => {
  const t = tree(policy('one_for_all'), agent('a'), agent('b'), agent('c'), agent('tmp', 'temporary'));
  t.started('a', 0);
  t.started('b', 0);
  t.started('tmp', 0);
  assert.equal(only(finish(t, 'tmp', 5), 'remove').agent, 'tmp');
  // c was never started: it is still pending
  const actions = crash(t, 'b', 10);
  assert.deepEqual(only(actions, 'stop').agents, ['a']);
  assert.deepEqual(only(actions, 'start').agents, ['a', 'b', 'c']);
  assert.equal(t.state('tmp'), 'removed');
});

test('one_for_all: a running temporary sibling is stopped and not restarted (OTP rule)', () => {
  const t = tree(policy('one_for_all'), agent('a'), agent('tmp', 'temporary'), agent('tr', 'transient'), agent('b'));
  startAll(t);
  const actions = crash(t, 'b', 10);
  assert.deepEqual(types(actions), ['stop', 'remove', 'start']);
  assert.deepEqual(only(actions, 'stop').agents, ['tr', 'tmp', 'a']);
  assert.equal(only(actions, 'remove').agent, 'tmp');
  assert.deepEqual(only(actions, 'start').agents, ['a', 'tr', 'b']);
  assert.equal(t.state('tmp'), 'removed');
});

// ---- restart types ----------------------------------------------------------------

test('permanent is restarted even after a normal exit', () => {
  const t = tree(policy('one_for_one'), agent('p'));
  startAll(t);
  assert.deepEqual(only(finish(t, 'p', 10), 'start').agents, ['p']);
});

test('transient is removed after a normal exit and restarted after an abnormal one', () => {
  const t = tree(policy('one_for_one'), agent('x', 'transient'), agent('y', 'transient'));
  startAll(t);
  const normal = finish(t, 'x', 10);
  assert.deepEqual(types(normal), ['remove']);
  assert.equal(t.state('x'), 'removed');
  assert.deepEqual(only(crash(t, 'y', 10), 'start').agents, ['y']);
  assert.equal(t.state('y'), 'pending');
});

test('temporary is never restarted, and its removal leaves siblings alone under one_for_all', () => {
  const t = tree(policy('one_for_all'), agent('a'), agent('tmp', 'temporary'), agent('b'));
  startAll(t);
  const actions = crash(t, 'tmp', 10);
  assert.deepEqual(types(actions), ['remove']);
  assert.equal(t.state('tmp'), 'removed');
  assert.equal(t.state('a'), 'running');
  assert.equal(t.state('b'), 'running');
});

test('removals do not count toward intensity', () => {
  const t = tree(policy('one_for_one', 1), agent('t1', 'temporary'), agent('t2', 'transient'), agent('p'));
  startAll(t);
  crash(t, 't1', 1);
  finish(t, 't2', 2);
  assert.deepEqual(types(crash(t, 'p', 3)), ['start']); // 1 restart ≤ intensity 1
  t.started('p', 4);
  assert.deepEqual(types(crash(t, 'p', 5)), ['stop', 'shutdown']); // 2 > 1: the counter did see p
});

// ---- intensity and period ---------------------------------------------------------

test('more than intensity restarts within the period shuts the root down with exit code 1', () => {
  const t = tree(policy('one_for_one', 2, 1000), ...agents('a', 'b', 'c'));
  startAll(t);
  for (const now of [0, 100]) {
    assert.deepEqual(types(crash(t, 'b', now)), ['start']);
    t.started('b', now + 1);
  }
  const actions = crash(t, 'b', 200);
  assert.deepEqual(types(actions), ['stop', 'shutdown']);
  assert.deepEqual(only(actions, 'stop').agents, ['c', 'a']);
  assert.equal(only(actions, 'shutdown').exitCode, 1);
  assert.equal(t.state('a'), 'removed');
  assert.deepEqual(crash(t, 'a', 300), [], 'nothing is decided after shutdown');
});

test('restarts spread beyond the period do not escalate', () => {
  const t = tree(policy('one_for_one', 1, 1000), agent('a'));
  startAll(t);
  for (const now of [0, 1001, 2002, 3003]) {
    assert.deepEqual(types(crash(t, 'a', now)), ['start'], `crash at ${now}`);
    t.started('a', now);
  }
});

test('a restart exactly one period ago still counts (OTP keeps Then >= Now - Period)', () => {
  const t = tree(policy('one_for_one', 1, 1000), agent('a'));
  startAll(t);
  crash(t, 'a', 0);
  t.started('a', 0);
  assert.deepEqual(types(crash(t, 'a', 1000)), ['stop', 'shutdown']);
});

test('intensity 0: the first restart escalates', () => {
  const t = tree(policy('one_for_one', 0), ...agents('a', 'b'));
  startAll(t);
  const actions = crash(t, 'a', 0);
  assert.deepEqual(types(actions), ['stop', 'shutdown']);
  assert.deepEqual(only(actions, 'stop').agents, ['b']);
});

// ---- nested groups ----------------------------------------------------------------

test('a group escalates to the root, which then shuts down, stopping in reverse start order', () => {
  const t = tree(policy('one_for_one', 0), agent('a'), group('g', policy('one_for_one', 1), agent('b'), agent('c')), agent('d'));
  startAll(t);
  assert.deepEqual(types(crash(t, 'b', 0)), ['start']); // within g's intensity
  t.started('b', 1);
  const actions = crash(t, 'b', 2);
  assert.deepEqual(actions.map((a) => [a.type, a.type === 'stop' ? a.agents : a.type === 'escalate' ? a.group : a.type === 'shutdown' ? a.exitCode : null]), [
    ['stop', ['c']],
    ['escalate', 'g'],
    ['stop', ['d', 'a']],
    ['shutdown', 1],
  ]);
});

test('an escalated group is a failed child of its parent: rest_for_one restarts it and the rest', () => {
  const t = tree(policy('rest_for_one'), agent('a'), group('g', policy('one_for_one', 0), agent('b'), agent('c')), agent('d'));
  startAll(t);
  const actions = crash(t, 'c', 10);
  assert.deepEqual(types(actions), ['stop', 'escalate', 'stop', 'start']);
  assert.deepEqual((actions[0] as { agents: string[] }).agents, ['b']);
  assert.deepEqual((actions[2] as { agents: string[] }).agents, ['d']);
  assert.deepEqual(only(actions, 'start').agents, ['b', 'c', 'd']);
  assert.equal(t.state('a'), 'running');
});

test('a group restarted by its parent starts fresh: clean history, removed agents back', () => {
  const t = tree(policy('one_for_one'), group('g', policy('one_for_one', 1), agent('b'), agent('tmp', 'temporary'), agent('c')));
  startAll(t);
  finish(t, 'tmp', 1);
  assert.equal(t.state('tmp'), 'removed');
  crash(t, 'b', 2);
  t.started('b', 3);
  const escalation = crash(t, 'b', 4);
  assert.deepEqual(types(escalation), ['stop', 'escalate', 'start']);
  assert.deepEqual(only(escalation, 'start').agents, ['b', 'tmp', 'c']);
  assert.equal(only(escalation, 'start').delayMs, 0, "the group's first failure restarts at once");
  assert.equal(t.state('tmp'), 'pending');
  startAll(t, 5);
  // With g's old history (2 restarts) this would escalate again; fresh, it is 1 ≤ 1.
  assert.deepEqual(types(crash(t, 'b', 6)), ['start']);
  t.started('b', 7);
  const again = crash(t, 'b', 8);
  assert.deepEqual(types(again), ['stop', 'escalate', 'start']);
  assert.equal(only(again, 'start').delayMs, 100, "the group's second failure in a row backs off");
});

test("a restarted group forgets its children's failure streaks (their backoff starts over)", () => {
  const t = tree(policy('one_for_one'), group('g', policy('one_for_one', 2), agent('b')));
  startAll(t);
  crash(t, 'b', 1);
  t.started('b', 1);
  assert.equal(only(crash(t, 'b', 2), 'start').delayMs, 100);
  t.started('b', 2);
  assert.deepEqual(types(crash(t, 'b', 3)), ['escalate', 'start']); // nothing left running in g to stop
  t.started('b', 4);
  assert.equal(only(crash(t, 'b', 5), 'start').delayMs, 0);
});

test("a group's stable run counts from its (re)start, not from its latest agent restart", () => {
  const t = tree(policy('one_for_one'), group('g', policy('one_for_one', 1), agent('b'), agent('c')));
  startAll(t, 0);
  crash(t, 'b', 1);
  t.started('b', 1);
  assert.equal(only(crash(t, 'b', 2), 'escalate').group, 'g');
  startAll(t, 3); // g restarted at 3
  crash(t, 'b', 10_000);
  t.started('b', 10_000); // b is young, but g has run for 9997 ms ≥ resetMs
  const actions = crash(t, 'b', 10_001);
  assert.equal(only(actions, 'escalate').group, 'g');
  assert.equal(only(actions, 'start').delayMs, 0);
});

test('startOrder is depth-first in start order; agentsOf lists a group recursively', () => {
  const t = tree(policy('one_for_one'), agent('a'), group('g', policy('one_for_one'), agent('b'), group('h', policy('one_for_one'), agent('c')), agent('d')), agent('e'));
  assert.deepEqual(t.startOrder(), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(t.agentsOf('g'), ['b', 'c', 'd']);
  assert.deepEqual(t.agentsOf('h'), ['c']);
  assert.throws(() => t.agentsOf('nope'), /unknown group "nope"/);
  assert.throws(() => t.state('nope'), /unknown agent "nope"/);
});

test('duplicate names are rejected', () => {
  assert.throws(() => tree(policy('one_for_one'), agent('a'), agent('a')), /agent "a" appears twice/);
});

// ---- backoff ----------------------------------------------------------------------

test('backoff grows 0, initial, 2×, 4×, … and is capped at max', () => {
  const t = tree(policy('one_for_one', 100, 1000), agent('a'));
  const delays: number[] = [];
  let now = 0;
  t.started('a', now);
  for (let i = 0; i < 7; i++) {
    now += 10;
    delays.push(only(crash(t, 'a', now), 'start').delayMs);
    t.started('a', now);
  }
  assert.deepEqual(delays, [0, 100, 200, 400, 800, 1000, 1000]);
});

test('a stable run (≥ resetMs) resets the backoff; a shorter one does not', () => {
  const t = tree(policy('one_for_one', 100, 1000), agent('a'));
  t.started('a', 0);
  crash(t, 'a', 10);
  t.started('a', 10);
  assert.equal(only(crash(t, 'a', 20), 'start').delayMs, 100);
  t.started('a', 20);
  assert.equal(only(crash(t, 'a', 20 + 4999), 'start').delayMs, 200, 'just short of resetMs');
  t.started('a', 6000);
  assert.equal(only(crash(t, 'a', 6000 + 5000), 'start').delayMs, 0, 'stable for resetMs');
});

test("one_for_all uses the failed child's delay for the whole restart", () => {
  const t = tree(policy('one_for_all', 100, 1000), ...agents('a', 'b'));
  startAll(t, 0);
  crash(t, 'a', 10);
  startAll(t, 10);
  assert.equal(only(crash(t, 'a', 20), 'start').delayMs, 100);
  startAll(t, 20);
  assert.equal(only(crash(t, 'b', 30), 'start').delayMs, 0, "b's first failure");
});

// ---- what the runtime reports -------------------------------------------------------

test('stale exits change nothing: pending agents, agents stopped by a stop action, operator stops', () => {
  const t = tree(policy('one_for_all', 2), ...agents('a', 'b', 'c'));
  assert.deepEqual(crash(t, 'a', 0), [], 'never started');
  startAll(t);
  crash(t, 'b', 1); // stops a and c: their exits must not count
  assert.deepEqual(crash(t, 'a', 2), []);
  assert.deepEqual(crash(t, 'c', 2), []);
  startAll(t, 3);
  t.stopped('c');
  assert.equal(t.state('c'), 'removed');
  assert.deepEqual(crash(t, 'c', 4), []);
  // Two restarts recorded (b's and this one), within intensity 2; counting the stale exits would escalate.
  const actions = crash(t, 'a', 5);
  assert.deepEqual(types(actions), ['stop', 'start']);
  assert.deepEqual(only(actions, 'start').agents, ['a', 'b'], 'the operator-stopped agent stays stopped');
});

test('an operator restart neither counts toward intensity nor needs a running agent', () => {
  const t = tree(policy('one_for_one', 1), ...agents('a'));
  startAll(t);
  for (let i = 0; i < 3; i++) {
    t.restartRequested('a');
    assert.equal(t.state('a'), 'pending');
    t.started('a', i);
  }
  assert.deepEqual(types(crash(t, 'a', 4)), ['start']);
});

// ---- systemd's rule: start limits, and supervisors that do not escalate ---------------

const limited = (name: string, burst: number, intervalMs: number, restart: RestartType = 'permanent'): ChildSpec => ({ kind: 'agent', name, restart, startLimit: { burst, intervalMs } });
const limitedGroup = (name: string, p: Policy, burst: number, intervalMs: number, ...children: ChildSpec[]): ChildSpec => ({ kind: 'group', name, policy: p, children, startLimit: { burst, intervalMs } });
const systemd = (intensity = 5, periodMs = 1000) => policy('one_for_one', intensity, periodMs, BACKOFF, false);

/** Crash `a` and start it again at once, `n` times, 10 ms apart from `from`; the actions of each crash. */
function loop(t: SupervisionTree, a: string, n: number, from = 0): Action[][] {
  const all: Action[][] = [];
  for (let i = 0; i < n; i++) {
    const now = from + i * 10;
    all.push(crash(t, a, now));
    if (t.state(a) === 'pending') t.started(a, now);
  }
  return all;
}

test('start limit: more than burst restarts within the interval fails that agent alone; the rest run on', () => {
  const t = tree(systemd(100), agent('a'), limited('broken', 3, 1000), agent('c'));
  startAll(t);
  const rounds = loop(t, 'broken', 4);
  assert.deepEqual(rounds.slice(0, 3).map(types), [['start'], ['start'], ['start']]);
  const last = rounds[3]!;
  assert.deepEqual(types(last), ['fail'], 'nothing is stopped or started for a failed child');
  assert.deepEqual(only(last, 'fail').agents, ['broken']);
  assert.match(only(last, 'fail').reason, /broken: more than 3 restart\(s\) within 1000ms .*outheis restart/);
  assert.deepEqual(['a', 'broken', 'c'].map((n) => t.state(n)), ['running', 'failed', 'running']);
  assert.deepEqual(crash(t, 'broken', 100), [], 'a failed agent has no exits to judge');
  assert.deepEqual(types(crash(t, 'c', 200)), ['start'], 'its siblings are still supervised');
});

test('the defaults (start limit = intensity, the root not escalating): the crash that fails the agent says nothing about the root', () => {
  const t = tree(systemd(5, 30_000), agent('a'), limited('broken', 5, 30_000));
  startAll(t);
  const rounds = loop(t, 'broken', 6);
  assert.deepEqual(rounds.map(types), [['start'], ['start'], ['start'], ['start'], ['start'], ['fail']], 'its own start limit is judged first');
  assert.deepEqual(['a', 'broken'].map((n) => t.state(n)), ['running', 'failed']);
});

test('start limit: restarts spread beyond the interval never fail; interval 0 turns the limit off', () => {
  const spread = tree(systemd(100), limited('a', 1, 1000));
  startAll(spread);
  for (const now of [0, 1001, 2002, 3003]) {
    assert.deepEqual(types(crash(spread, 'a', now)), ['start'], `crash at ${now}`);
    spread.started('a', now);
  }
  const off = tree(systemd(100), limited('a', 0, 0));
  startAll(off);
  assert.ok(loop(off, 'a', 20).every((r) => types(r).join() === 'start'));
});

test('a root that does not escalate says once that it is over its intensity, and restarts on', () => {
  const t = tree(systemd(2), ...agents('a', 'b', 'c'));
  startAll(t);
  const rounds = loop(t, 'b', 5);
  assert.deepEqual(rounds.map(types), [['start'], ['start'], ['over_intensity', 'start'], ['start'], ['start']]);
  const over = only(rounds[2]!, 'over_intensity');
  assert.equal(over.group, 'root');
  assert.match(over.reason, /more than 2 restart\(s\) within 1000ms.*escalate is off/);
  assert.equal(t.state('a'), 'running');
  // Once back within its intensity, a new episode is reported again.
  assert.deepEqual(types(crash(t, 'a', 5000)), ['start']);
  t.started('a', 5000);
  assert.deepEqual(loop(t, 'a', 3, 5010).map(types), [['start'], ['over_intensity', 'start'], ['start']]);
});

test('with escalate at the root, its intensity wins over a higher start limit (OTP)', () => {
  const t = tree(policy('one_for_one', 2), limited('a', 10, 1000), agent('b'));
  startAll(t);
  const rounds = loop(t, 'a', 3);
  assert.deepEqual(types(rounds[2]!), ['stop', 'shutdown']);
});

test('a lower start limit fails the agent before an escalating root would shut down', () => {
  const t = tree(policy('one_for_one', 5), limited('a', 1, 1000), agent('b'));
  startAll(t);
  const rounds = loop(t, 'a', 2);
  assert.deepEqual(types(rounds[1]!), ['fail']);
  assert.equal(t.state('b'), 'running');
});

test('an operator restart clears a failed agent\'s start limit: it fails again only after another burst', () => {
  const t = tree(systemd(100), limited('broken', 2, 10_000), agent('ok'));
  startAll(t);
  loop(t, 'broken', 3);
  assert.equal(t.state('broken'), 'failed');
  assert.deepEqual(t.restartRequested('broken'), ['broken']);
  assert.equal(t.state('broken'), 'pending');
  t.started('broken', 100);
  const rounds = loop(t, 'broken', 3, 110);
  assert.deepEqual(rounds.map(types), [['start'], ['start'], ['fail']]);
  assert.equal(only(rounds[0]!, 'start').delayMs, 0, 'the restart also reset its backoff');
});

test('a group that escalates fails its looping child as a group; its repeated escalation hits its own start limit', () => {
  const inner = policy('one_for_one', 1, 1000); // escalates (OTP inside a group)
  const t = tree(systemd(100), agent('a'), limitedGroup('g', inner, 1, 10_000, limited('b', 5, 1000), agent('c')), agent('d'));
  startAll(t);
  // b's second crash is over g's intensity: g escalates and the root restarts g as a whole.
  const first = loop(t, 'b', 2);
  assert.deepEqual(types(first[1]!), ['stop', 'escalate', 'start']);
  assert.deepEqual(only(first[1]!, 'start').agents, ['b', 'c']);
  startAll(t, 100);
  // The second escalation is over g's start limit (burst 1): g fails, its agents with it.
  const second = loop(t, 'b', 2, 200);
  assert.deepEqual(types(second[1]!), ['stop', 'escalate', 'fail']);
  assert.deepEqual(only(second[1]!, 'stop').agents, ['c'], 'b has exited already');
  assert.deepEqual(only(second[1]!, 'fail').agents, ['b', 'c']);
  assert.match(only(second[1]!, 'fail').reason, /^group g: more than 1 restart/);
  assert.deepEqual(['a', 'b', 'c', 'd'].map((n) => t.state(n)), ['running', 'failed', 'failed', 'running']);
  // Restarting any of its agents brings the whole group back, with fresh histories.
  assert.deepEqual(t.restartRequested('c'), ['b', 'c']);
  assert.deepEqual(['b', 'c'].map((n) => t.state(n)), ['pending', 'pending']);
  startAll(t, 1000);
  assert.deepEqual(types(crash(t, 'b', 1001)), ['start']);
});

test('a group that does not escalate keeps its siblings running while one child exceeds its start limit', () => {
  const t = tree(systemd(100), group('g', systemd(1), limited('b', 2, 1000), agent('c')));
  startAll(t);
  const rounds = loop(t, 'b', 3);
  assert.deepEqual(rounds.map(types), [['start'], ['over_intensity', 'start'], ['fail']]);
  assert.equal(only(rounds[1]!, 'over_intensity').group, 'g');
  assert.equal(t.state('c'), 'running');
});

test('one_for_all: a failed sibling stays failed when another crash restarts the rest', () => {
  const t = tree(policy('one_for_all', 100, 1000, BACKOFF, false), agent('a'), limited('broken', 0, 1000), agent('c'));
  startAll(t);
  assert.deepEqual(types(crash(t, 'broken', 1)), ['fail'], 'burst 0: the first failure is one too many');
  const actions = crash(t, 'c', 2);
  assert.deepEqual(only(actions, 'stop').agents, ['a']);
  assert.deepEqual(only(actions, 'start').agents, ['a', 'c']);
  assert.equal(t.state('broken'), 'failed');
});
