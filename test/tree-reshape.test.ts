// SupervisionTree.reshape: a reload's new tree, with what is kept carrying its
// state and restart history, and what is new or changed starting over. Pure: no
// processes, the decisions after the reshape show what was carried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SupervisionTree, type ChildSpec, type Policy, type Strategy, type TreeSpec } from '../supervisor/tree/index.js';

const BACKOFF = { initialMs: 100, maxMs: 1000, resetMs: 5000 };
const policy = (strategy: Strategy, intensity = 10, periodMs = 1000, escalate = true): Policy => ({ strategy, intensity, periodMs, escalate, backoff: BACKOFF });
const agent = (name: string, startLimit?: { burst: number; intervalMs: number }): ChildSpec => ({ kind: 'agent', name, restart: 'permanent', ...(startLimit ? { startLimit } : {}) });
const group = (name: string, p: Policy, ...children: ChildSpec[]): ChildSpec => ({ kind: 'group', name, policy: p, children });
const spec = (p: Policy, ...children: ChildSpec[]): TreeSpec => ({ policy: p, children });
const none = { agents: new Set<string>(), groups: new Set<string>() };
const crash = (t: SupervisionTree, a: string, now: number) => t.exited(a, { abnormal: true }, now);
const startAll = (t: SupervisionTree, now = 0) => { for (const a of t.startOrder()) t.started(a, now); };

test('kept agents keep their state; added ones are pending; removed ones are gone', () => {
  const t = new SupervisionTree(spec(policy('one_for_one'), agent('a'), agent('b'), agent('c')));
  startAll(t);
  t.stopped('c'); // the operator stopped it: a reload that does not touch it keeps it stopped
  t.reshape(spec(policy('one_for_one'), agent('a'), agent('c'), agent('d')), none);
  assert.deepEqual(t.startOrder(), ['a', 'c', 'd']);
  assert.equal(t.state('a'), 'running');
  assert.equal(t.state('c'), 'removed');
  assert.equal(t.state('d'), 'pending');
  assert.equal(t.has('b'), false);
  assert.throws(() => t.state('b'), /unknown agent "b"/);
});

test('a changed agent starts over: no streak, pending, so its first crash restarts at once', () => {
  const t = new SupervisionTree(spec(policy('one_for_one', 100), agent('a'), agent('b')));
  startAll(t);
  // Three quick crashes of each: a streak that backs off.
  for (const now of [10, 20, 30]) for (const n of ['a', 'b']) {
    crash(t, n, now);
    t.started(n, now);
  }
  t.reshape(spec(policy('one_for_one', 100), agent('a'), agent('b')), { agents: new Set(['b']), groups: new Set() });
  assert.equal(t.state('b'), 'pending');
  t.started('b', 40);
  const a = crash(t, 'a', 50).find((x) => x.type === 'start');
  const b = crash(t, 'b', 50).find((x) => x.type === 'start');
  assert.ok(a && a.type === 'start' && a.delayMs > 0, 'the kept agent kept its streak (it backs off)');
  assert.ok(b && b.type === 'start' && b.delayMs === 0, 'the changed agent starts a new streak');
});

test('the root keeps its restart window, judged by its new intensity, and changes strategy in place', () => {
  const t = new SupervisionTree(spec(policy('one_for_one', 5, 1000), agent('a'), agent('b')));
  startAll(t);
  for (const now of [10, 20, 30]) {
    crash(t, 'a', now);
    t.started('a', now);
  }
  assert.equal(t.restartsOf('root', 30), 3);
  // Intensity 2: the three restarts it remembers are already over it; the next one escalates.
  t.reshape(spec(policy('one_for_all', 2, 1000), agent('a'), agent('b')), none);
  assert.equal(t.restartsOf('root', 40), 3);
  assert.equal(t.policyOf('root').strategy, 'one_for_all');
  assert.equal(t.state('b'), 'running', 'a strategy change of the root restarts nothing');
  const actions = crash(t, 'a', 40);
  assert.deepEqual(actions.map((x) => x.type), ['stop', 'shutdown']);
});

test('a kept group keeps its history with new limits; a rebuilt group starts afresh, nested groups too', () => {
  const before = spec(policy('one_for_one', 100),
    group('g', policy('one_for_one', 5), agent('a'), agent('b')),
    group('h', policy('one_for_one', 5), agent('c'), group('n', policy('one_for_one', 5), agent('d'))));
  const t = new SupervisionTree(before);
  startAll(t);
  for (const now of [10, 20]) for (const n of ['a', 'c', 'd']) {
    crash(t, n, now);
    t.started(n, now);
  }
  const after = spec(policy('one_for_one', 100),
    group('g', policy('one_for_one', 7), agent('a'), agent('b')),
    group('h', policy('rest_for_one', 5), agent('c'), group('n', policy('one_for_one', 5), agent('d'))));
  t.reshape(after, { agents: new Set(['c', 'd']), groups: new Set(['h', 'n']) });
  assert.equal(t.restartsOf('g', 30), 2, 'g kept its window');
  assert.equal(t.policyOf('g').intensity, 7);
  assert.equal(t.restartsOf('h', 30), 0, 'h was rebuilt');
  assert.equal(t.restartsOf('n', 30), 0, 'so was the group inside it');
  assert.equal(t.policyOf('h').strategy, 'rest_for_one');
  assert.deepEqual(['a', 'b', 'c', 'd'].map((n) => t.state(n)), ['running', 'running', 'pending', 'pending']);
  // The rebuilt group decides by its new strategy: c's crash takes n (after it) down too.
  t.started('c', 30);
  t.started('d', 30);
  const stop = crash(t, 'c', 40).find((x) => x.type === 'stop');
  assert.deepEqual(stop && stop.type === 'stop' ? stop.agents : [], ['d']);
});

test('a kept agent\'s start limit takes its new burst, over the restarts it already had', () => {
  const t = new SupervisionTree(spec(policy('one_for_one', 100, 1000, false), agent('a', { burst: 5, intervalMs: 1000 })));
  startAll(t);
  for (const now of [10, 20]) {
    crash(t, 'a', now);
    t.started('a', now);
  }
  t.reshape(spec(policy('one_for_one', 100, 1000, false), agent('a', { burst: 2, intervalMs: 1000 })), none);
  const actions = crash(t, 'a', 30);
  assert.ok(actions.some((x) => x.type === 'fail'), `a third restart within the window is over the new burst of 2: ${JSON.stringify(actions)}`);
});
