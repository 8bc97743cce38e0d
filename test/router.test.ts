// The router, driven in memory: routes get plain Outlet objects that record the
// frames written to them. No processes; the router is a pure component.
// (Long because every routing rule is pinned here against the same in-memory routes.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OPERATOR, SEND_WINDOW, type Route } from '../supervisor/router/index.js';
import { unpackValue } from '../protocol/frame.js';
import type { AgentHeader, MsgHeader, Qos, SupervisorHeader } from '../protocol/header.js';
import { rng } from './helpers/rng.js';
import { assertRejBeforeCoveringAcc, body, fixture, Recorder, send } from './helpers/router-fixture.js';

// ---- stamping -------------------------------------------------------------------

test('from is stamped from the route, never from what the sender wrote', () => {
  const f = fixture();
  const { route: a } = f.add({ name: 'a', pledge: ['send:b'] });
  const { out: bOut } = f.add({ name: 'b' });
  // a forged header: the schema would refuse these keys; the router must not read them anyway
  const forged = { ...send(1, 'b', { kind: 'note' }), from: 'root', id: 999_999 } as unknown as AgentHeader;
  const raw = body({ hello: 'world' });
  f.router.frame(a, forged, raw);
  f.router.send(a, 2, 'b', 'note2', undefined, false, body(2));
  assert.equal(bOut.msgs.length, 2);
  const [m1, m2] = bOut.msgs;
  assert.equal(m1!.from, 'a');
  assert.equal(m2!.from, 'a');
  assert.notEqual(m1!.id, 999_999, 'the id is the supervisor\'s, not the sender\'s');
  assert.ok(m2!.id > m1!.id, 'ids increase');
  assert.equal(m1!.kind, 'note');
  assert.equal(m1!.qos, 'utility', 'qos defaults to the sender\'s class');
  assert.ok(m1!.body!.equals(raw), 'body forwarded byte for byte');
  assert.equal(m1!.req, undefined);
  assert.equal(m1!.redelivered, undefined);
});

// FrameSink's contract (wire/frame.ts): header and body are views into the read buffer,
// to be copied if kept past the call. The router keeps bodies (queued, parked), so it
// must not hold the caller's buffer.
// ---- pledges and names ----------------------------------------------------------

test('EDENIED for a target not pledged; send:* allows all', () => {
  const f = fixture();
  const { route: a, out: aOut } = f.add({ name: 'a', pledge: ['send:b', 'net'] });
  const { out: bOut } = f.add({ name: 'b' });
  const { out: cOut } = f.add({ name: 'c' });
  f.router.frame(a, send(1, 'c', { kind: 'secret' }), body(1));
  assert.equal(cOut.msgs.length, 0, 'nothing delivered');
  assert.equal(aOut.rejs.length, 1);
  assert.deepEqual({ seq: aOut.rejs[0]!.seq, code: aOut.rejs[0]!.code }, { seq: 1, code: 'EDENIED' });
  assert.deepEqual(f.denied, [{ from: 'a', to: 'c', kind: 'secret' }]);
  f.router.frame(a, send(2, 'b'), body(2));
  assert.equal(bOut.msgs.length, 1, 'the pledged target is reachable');

  // no pledge at all: only replies (tested elsewhere), no sends
  const { route: d, out: dOut } = f.add({ name: 'd', pledge: [] });
  f.router.frame(d, send(1, 'b'), body(0));
  assert.equal(dOut.rejs[0]?.code, 'EDENIED');
  // a pledge that merely starts with the name is not a pledge for it
  const { route: e, out: eOut } = f.add({ name: 'e', pledge: ['send:bb'] });
  f.router.frame(e, send(1, 'b'), body(0));
  assert.equal(eOut.rejs[0]?.code, 'EDENIED');

  const { route: star, out: starOut } = f.add({ name: 'star', pledge: ['send:*'] });
  f.router.frame(star, send(1, 'b'), body(0));
  f.router.frame(star, send(2, 'c'), body(0));
  f.router.frame(star, send(3, 'd'), body(0));
  f.router.flushAccepts();
  assert.equal(starOut.rejs.length, 0);
  assert.deepEqual(starOut.accs, [3]);
  assert.equal(bOut.msgs.length, 2);
  assert.equal(cOut.msgs.length, 1);
  assert.equal(dOut.msgs.length, 1);
});

test('ENOAGENT for unknown names, for the operator as a target, and for removed routes', () => {
  const f = fixture();
  const { route: a, out: aOut } = f.add({ name: 'a', pledge: ['send:*'] });
  const { route: o, out: oOut } = f.add({ name: 'o', pledge: [`send:${OPERATOR}`] });
  const { route: b } = f.add({ name: 'b' });
  f.router.frame(a, send(1, 'ghost'), body(0));
  f.router.frame(a, send(2, OPERATOR), body(0));
  f.router.frame(o, send(1, OPERATOR), body(0));
  f.router.remove(b);
  f.router.frame(a, send(3, 'b'), body(0));
  assert.deepEqual(aOut.rejs.map((r) => [r.seq, r.code]), [[1, 'ENOAGENT'], [2, 'ENOAGENT'], [3, 'ENOAGENT']]);
  assert.deepEqual(oOut.rejs.map((r) => [r.seq, r.code]), [[1, 'ENOAGENT']]);
  assert.equal(f.router.operator.mailbox.depth, 0, 'nothing reached the operator route');
  f.router.flushAccepts();
  assertRejBeforeCoveringAcc(aOut);
});

// ---- acceptance ---------------------------------------------------------------

test('accepts are cumulative: one acc per flush, covering the highest seq', () => {
  const f = fixture();
  const { route: a, out: aOut } = f.add({ name: 'a', pledge: ['send:b'] });
  f.add({ name: 'b', mailbox: 1000 });
  for (let s = 1; s <= 50; s++) f.router.frame(a, send(s, 'b'), body(s));
  assert.deepEqual(aOut.accs, [], 'no acc before the flush');
  f.router.flushAccepts();
  assert.deepEqual(aOut.accs, [50]);
  f.router.flushAccepts();
  assert.deepEqual(aOut.accs, [50], 'nothing new, no frame');
  f.router.frame(a, send(51, 'b'), body(51));
  f.router.frame(a, send(52, 'b'), body(52));
  f.router.flushAccepts();
  assert.deepEqual(aOut.accs, [50, 52]);
});

test('one acc per sender per flush, each sender its own seq', () => {
  const f = fixture();
  const { route: a, out: aOut } = f.add({ name: 'a', pledge: ['send:c'] });
  const { route: b, out: bOut } = f.add({ name: 'b', pledge: ['send:c'] });
  f.add({ name: 'c' });
  f.router.frame(a, send(1, 'c'), body(0));
  f.router.frame(b, send(1, 'c'), body(0));
  f.router.frame(a, send(2, 'c'), body(0));
  f.router.frame(b, send(2, 'c'), body(0));
  f.router.frame(b, send(3, 'c'), body(0));
  f.router.flushAccepts();
  assert.deepEqual(aOut.accs, [2]);
  assert.deepEqual(bOut.accs, [3]);
});

// ---- delivery -------------------------------------------------------------------

test('delivery starts only after ready(), and respects the prefetch window', () => {
  const f = fixture();
  const { route: a } = f.add({ name: 'a', pledge: ['send:b'] });
  const { route: b, out: bOut } = f.add({ name: 'b', prefetch: 2 }, { ready: false });
  for (let s = 1; s <= 5; s++) f.router.frame(a, send(s, 'b', { kind: `k${s}` }), body(s));
  assert.equal(bOut.frames.length, 0, 'attached but not ready: nothing delivered');
  f.router.ready(b);
  assert.deepEqual(bOut.msgs.map((m) => m.kind), ['k1', 'k2']);
  f.router.frame(b, { t: 'ack', ids: [bOut.msgs[0]!.id] }, Buffer.alloc(0));
  assert.deepEqual(bOut.msgs.map((m) => m.kind), ['k1', 'k2', 'k3']);
  // a stale ack (not in flight) frees nothing
  f.router.frame(b, { t: 'ack', ids: [bOut.msgs[0]!.id] }, Buffer.alloc(0));
  assert.equal(bOut.msgs.length, 3);
  f.router.frame(b, { t: 'ack', ids: [bOut.msgs[1]!.id, bOut.msgs[2]!.id] }, Buffer.alloc(0));
  assert.deepEqual(bOut.msgs.map((m) => m.kind), ['k1', 'k2', 'k3', 'k4', 'k5']);
  assert.equal(new Set(bOut.msgs.map((m) => m.id)).size, 5, 'five distinct deliveries, none repeated');
});

test('a message is delivered with its QoS, highest class first', () => {
  const f = fixture();
  const { route: a } = f.add({ name: 'a', pledge: ['send:b'], qos: 'background' });
  const { route: b, out: bOut } = f.add({ name: 'b' }, { ready: false });
  f.router.frame(a, send(1, 'b', { kind: 'bg' }), body(0));
  f.router.frame(a, send(2, 'b', { kind: 'util', qos: 'utility' }), body(0));
  f.router.frame(a, send(3, 'b', { kind: 'now', qos: 'interactive' }), body(0));
  f.router.ready(b);
  assert.deepEqual(bOut.msgs.map((m) => [m.kind, m.qos]), [['now', 'interactive'], ['util', 'utility'], ['bg', 'background']]);
});

test('an agent cannot ack a message delivered to another agent', () => {
  const f = fixture();
  const { route: a } = f.add({ name: 'a', pledge: ['send:b'] });
  const { out: bOut } = f.add({ name: 'b', prefetch: 1 });
  const { route: c } = f.add({ name: 'c' });
  f.router.frame(a, send(1, 'b'), body(1));
  f.router.frame(a, send(2, 'b'), body(2));
  assert.equal(bOut.msgs.length, 1);
  f.router.frame(c, { t: 'ack', ids: [bOut.msgs[0]!.id] }, Buffer.alloc(0));
  assert.equal(bOut.msgs.length, 1, 'c\'s ack did not free b\'s window');
});

// ---- requests and replies --------------------------------------------------------

test('a reply is routed back to the requester as res with the requester\'s seq', () => {
  const f = fixture();
  const { route: a, out: aOut } = f.add({ name: 'a', pledge: ['send:b'] });
  const { route: b, out: bOut } = f.add({ name: 'b', pledge: [] }); // no pledge: replies are always allowed
  f.router.frame(a, send(7, 'b', { kind: 'ask', req: true }), body({ q: 1 }));
  const m = bOut.msgs[0]!;
  assert.equal(m.req, true);
  assert.equal(m.from, 'a');
  const answer = body({ a: 42 });
  f.router.frame(b, { t: 'reply', corr: m.id }, answer);
  assert.equal(aOut.ress.length, 1);
  assert.equal(aOut.ress[0]!.corr, 7);
  assert.equal(aOut.ress[0]!.err, undefined);
  assert.ok(aOut.ress[0]!.body!.equals(answer), 'reply body forwarded byte for byte');
  assert.deepEqual(unpackValue(aOut.ress[0]!.body!), { a: 42 });
  assert.equal(bOut.rejs.length, 0);
  // the reply also acked: a duplicate reply is not routed again
  f.router.frame(b, { t: 'reply', corr: m.id }, answer);
  assert.equal(aOut.ress.length, 1);
});

test('an error reply carries the error and no body; an ack without a reply answers EHANDLER', () => {
  const f = fixture();
  const { route: a, out: aOut } = f.add({ name: 'a', pledge: ['send:b'] });
  const { route: b, out: bOut } = f.add({ name: 'b' });
  f.router.frame(a, send(1, 'b', { req: true }), body(1));
  f.router.frame(a, send(2, 'b', { req: true }), body(2));
  const [m1, m2] = bOut.msgs;
  f.router.frame(b, { t: 'reply', corr: m1!.id, err: { code: 'EHANDLER', message: 'boom' } }, Buffer.alloc(0));
  f.router.frame(b, { t: 'ack', ids: [m2!.id] }, Buffer.alloc(0));
  assert.deepEqual(aOut.ress.map((r) => [r.corr, r.err?.code]), [[1, 'EHANDLER'], [2, 'EHANDLER']]);
  assert.equal(aOut.ress[0]!.err!.message, 'boom');
  assert.equal(aOut.ress[0]!.body, undefined);
});

test('a one-way send that is replied to produces no res', () => {
  const f = fixture();
  const { route: a, out: aOut } = f.add({ name: 'a', pledge: ['send:b'] });
  const { route: b, out: bOut } = f.add({ name: 'b' });
  f.router.frame(a, send(1, 'b'), body(1));
  f.router.frame(b, { t: 'reply', corr: bOut.msgs[0]!.id }, body('x'));
  assert.equal(aOut.ress.length, 0);
});

test('only the agent the request was delivered to can answer it', () => {
  const f = fixture();
  const { route: a, out: aOut } = f.add({ name: 'a', pledge: ['send:b'] });
  const { out: bOut } = f.add({ name: 'b' });
  const { route: c } = f.add({ name: 'c' });
  f.router.frame(a, send(1, 'b', { req: true }), body(1));
  f.router.frame(c, { t: 'reply', corr: bOut.msgs[0]!.id }, body('forged'));
  assert.equal(aOut.ress.length, 0);
});

test('a reply after the requester re-attached (epoch bumped) is dropped', () => {
  const f = fixture();
  const { route: a, out: aOld } = f.add({ name: 'a', pledge: ['send:b'] });
  const { route: b, out: bOut } = f.add({ name: 'b' });
  f.router.frame(a, send(1, 'b', { req: true }), body(1));
  const epoch = a.epoch;
  f.router.detach(a);
  const aNew = new Recorder();
  f.router.attach(a, aNew);
  f.router.ready(a);
  assert.equal(a.epoch, epoch + 1);
  f.router.frame(b, { t: 'reply', corr: bOut.msgs[0]!.id }, body('late'));
  assert.equal(aNew.ress.length, 0, 'the new incarnation never asked');
  assert.equal(aOld.ress.length, 0);
  // a request by the new incarnation is answered normally
  f.router.frame(a, send(1, 'b', { req: true }), body(2));
  f.router.frame(b, { t: 'reply', corr: bOut.msgs[1]!.id }, body('fresh'));
  assert.deepEqual(aNew.ress.map((r) => r.corr), [1]);
});

// ---- back-pressure ---------------------------------------------------------------

test('a full target parks sends (not accepted) and un-parks them in order when it drains', () => {
  const f = fixture();
  const { route: a, out: aOut } = f.add({ name: 'a', pledge: ['send:b', 'send:c'], qos: 'interactive' });
  const { route: b, out: bOut } = f.add({ name: 'b', mailbox: 2, prefetch: 1 }, { ready: false });
  const { out: cOut } = f.add({ name: 'c' });
  for (let s = 1; s <= 5; s++) f.router.frame(a, send(s, 'b', { kind: `b${s}` }), body(s));
  f.router.frame(a, send(6, 'c', { kind: 'c6' }), body(6)); // another target: delivered, but acc is cumulative
  f.router.flushAccepts();
  assert.equal(b.mailbox.depth, 2);
  assert.deepEqual(aOut.accs, [2], 'acc stays below the first parked seq (3), though seq 6 was delivered');
  assert.equal(cOut.msgs.length, 1);
  assert.equal(aOut.rejs.length, 0, 'parked is not refused');

  f.router.ready(b); // takes b1 (window 1); b3 joins the mailbox
  assert.deepEqual(bOut.msgs.map((m) => m.kind), ['b1']);
  assert.deepEqual(aOut.accs, [2, 3], 'seq 3 admitted and accepted; 4 still parked');

  const ackLast = () => f.router.frame(b, { t: 'ack', ids: [bOut.msgs.at(-1)!.id] }, Buffer.alloc(0));
  ackLast();
  ackLast();
  ackLast();
  ackLast();
  assert.deepEqual(bOut.msgs.map((m) => m.kind), ['b1', 'b2', 'b3', 'b4', 'b5']);
  f.router.flushAccepts();
  assert.equal(aOut.accs.at(-1), 6, 'everything accepted once un-parked');
  assert.ok(aOut.accs.every((s, i, all) => i === 0 || s >= all[i - 1]!), 'acc never goes backwards');
});

test('un-parking a request lets the cumulative acc advance past it to later one-way sends', () => {
  // acc is cumulative and held below the oldest parked seq. When that parked send is a
  // request and it is admitted, later one-way sends (here seq 3 to c, already delivered)
  // must still get their acc: otherwise agent.send() for them never resolves.
  const f = fixture();
  const { route: a, out: aOut } = f.add({ name: 'a', pledge: ['send:b', 'send:c'] });
  const { route: b, out: bOut } = f.add({ name: 'b', mailbox: 1 }, { ready: false });
  const { out: cOut } = f.add({ name: 'c' });
  f.router.frame(a, send(1, 'b', { kind: 'one' }), body(1)); // fills b
  f.router.frame(a, send(2, 'b', { kind: 'ask', req: true }), body(2)); // parked request
  f.router.frame(a, send(3, 'c', { kind: 'note' }), body(3)); // one-way, delivered at once
  f.router.flushAccepts();
  assert.equal(cOut.msgs.length, 1);
  assert.deepEqual(aOut.accs, [1], 'held below the parked request');
  f.router.ready(b); // b takes seq 1; the parked request is admitted
  f.router.flushAccepts();
  assert.deepEqual(bOut.msgs.map((m) => m.kind), ['one', 'ask']);
  f.router.frame(b, { t: 'reply', corr: bOut.msgs[1]!.id }, body('answer'));
  f.router.flushAccepts();
  assert.deepEqual(aOut.ress.map((r) => r.corr), [2], 'the request is answered (and so accepted)');
  assert.ok(Math.max(0, ...aOut.accs) >= 3, `seq 3 (one-way, delivered to c) was never accepted: accs ${JSON.stringify(aOut.accs)}`);
  assertRejBeforeCoveringAcc(aOut);
});

test('a parked request alone is accepted once admitted (by acc or by its reply)', () => {
  const f = fixture();
  const { route: a, out: aOut } = f.add({ name: 'a', pledge: ['send:b'] });
  const { route: b, out: bOut } = f.add({ name: 'b', mailbox: 1 }, { ready: false });
  f.router.frame(a, send(1, 'b', { kind: 'one' }), body(1));
  f.router.frame(a, send(2, 'b', { kind: 'ask', req: true }), body(2));
  f.router.flushAccepts();
  f.router.ready(b);
  f.router.frame(b, { t: 'reply', corr: bOut.msgs[1]!.id }, body('answer'));
  f.router.flushAccepts();
  const accepted = Math.max(0, ...aOut.accs) >= 2 || aOut.ress.some((r) => r.corr === 2 && !r.err);
  assert.ok(accepted);
  assert.ok(Math.max(0, ...aOut.accs) >= 1);
});

test('parked sends from several senders are un-parked per sender in seq order', () => {
  const f = fixture();
  const { route: a } = f.add({ name: 'a', pledge: ['send:t'] });
  const { route: z } = f.add({ name: 'z', pledge: ['send:t'] });
  const { route: t, out: tOut } = f.add({ name: 't', mailbox: 1, prefetch: 1000 }, { ready: false });
  for (let s = 1; s <= 20; s++) {
    f.router.frame(a, send(s, 't', { kind: `a${s}` }), body(s));
    f.router.frame(z, send(s, 't', { kind: `z${s}` }), body(s));
  }
  f.router.ready(t);
  const kinds = tOut.msgs.map((m) => m.kind);
  assert.equal(kinds.length, 40);
  assert.deepEqual(kinds.filter((k) => k.startsWith('a')), Array.from({ length: 20 }, (_, i) => `a${i + 1}`));
  assert.deepEqual(kinds.filter((k) => k.startsWith('z')), Array.from({ length: 20 }, (_, i) => `z${i + 1}`));
});

test('interactive is admitted past a background flood that took its share; the parked background follows it', () => {
  const f = fixture();
  const { route: a } = f.add({ name: 'a', pledge: ['send:b'], qos: 'background' });
  const { route: z } = f.add({ name: 'z', pledge: ['send:b'], qos: 'interactive' });
  const { route: b, out: bOut } = f.add({ name: 'b', mailbox: 4, prefetch: 4 });
  for (let s = 1; s <= 5; s++) f.router.frame(a, send(s, 'b', { kind: `m${s}` }), body(s)); // 3 in flight (refill at half the window), 2 queued: background's half
  f.router.frame(a, send(6, 'b', { kind: 'late-bg' }), body(6)); // parked: background's share is taken
  f.router.frame(z, send(1, 'b', { kind: 'late-now' }), body(1)); // admitted: interactive has the room held back
  f.router.flushAccepts();
  assert.deepEqual([a.parkedCount, z.parkedCount], [1, 0]);
  assert.deepEqual(bOut.msgs.map((m) => m.kind), ['m1', 'm2', 'm3', 'late-now'], 'and delivered into the last free place of the window, ahead of queued background');
  f.router.frame(b, { t: 'ack', ids: bOut.msgs.map((m) => m.id) }, Buffer.alloc(0));
  assert.deepEqual(bOut.msgs.map((m) => m.kind), ['m1', 'm2', 'm3', 'late-now', 'm4', 'm5', 'late-bg'], 'the room delivery made admitted the parked one');
  assert.equal(a.parkedCount, 0);
});

test('more than SEND_WINDOW parked sends from one sender is flooding', () => {
  const f = fixture();
  const { route: a } = f.add({ name: 'a', pledge: ['send:b'] });
  f.add({ name: 'b', mailbox: 1 }, { ready: false });
  f.router.frame(a, send(1, 'b'), body(0)); // fills the mailbox
  for (let s = 2; s <= SEND_WINDOW + 1; s++) f.router.frame(a, send(s, 'b'), body(0));
  assert.equal(f.faults.length, 0, 'exactly the window is allowed');
  f.router.frame(a, send(SEND_WINDOW + 2, 'b'), body(0));
  assert.equal(f.faults.length, 1);
  assert.equal(f.faults[0]!.agent, 'a');
  assert.match(f.faults[0]!.reason, /flooding/);
});

// ---- removal and restart -----------------------------------------------------------

test('remove() answers queued and in-flight requests with ENOAGENT and refuses parked sends with ENOAGENT', () => {
  const f = fixture();
  const { route: a, out: aOut } = f.add({ name: 'a', pledge: ['send:b'], qos: 'interactive' });
  const { route: c, out: cOut } = f.add({ name: 'c', pledge: ['send:b'], qos: 'interactive' });
  const { route: b, out: bOut } = f.add({ name: 'b', mailbox: 2, prefetch: 1 }, { ready: false });
  f.router.frame(c, send(1, 'b', { req: true, kind: 'first' }), body(0)); // will be in flight
  f.router.frame(a, send(1, 'b', { req: true }), body(1)); // queued
  f.router.frame(a, send(2, 'b'), body(2)); // parked (one-way)
  f.router.frame(a, send(3, 'b', { req: true }), body(3)); // parked (request)
  f.router.flushAccepts();
  f.router.ready(b); // delivers c's request; a's seq 2 moves into the mailbox
  assert.deepEqual(bOut.msgs.map((m) => m.kind), ['first']);
  // Seq 1 is a request: its reply accepts it, so no acc is spent on it alone.
  assert.deepEqual(aOut.accs, [2], 'seq 2 left the parking (accepted), seq 3 did not');

  const dropped = f.router.remove(b);
  assert.equal(b.removed, true);
  assert.deepEqual(dropped.map((e) => `${e.from}:${e.seq}`).sort(), ['a:1', 'a:2', 'c:1']);
  assert.deepEqual(cOut.ress.map((r) => [r.corr, r.err?.code]), [[1, 'ENOAGENT']], 'in-flight request answered');
  assert.deepEqual(aOut.ress.map((r) => [r.corr, r.err?.code]), [[1, 'ENOAGENT']], 'queued request answered');
  assert.deepEqual(aOut.rejs.map((r) => [r.seq, r.code]), [[3, 'ENOAGENT']], 'parked send refused');
  assertRejBeforeCoveringAcc(aOut);
  // nothing is delivered to b any more
  f.router.frame(a, send(4, 'b'), body(4));
  assert.deepEqual(aOut.rejs.map((r) => [r.seq, r.code]), [[3, 'ENOAGENT'], [4, 'ENOAGENT']]);
  assert.equal(bOut.msgs.length, 1);
});

test('detach() requeues in-flight messages; the next incarnation gets them first, flagged redelivered', () => {
  const f = fixture();
  const { route: a } = f.add({ name: 'a', pledge: ['send:b'] });
  const { route: b, out: bOld } = f.add({ name: 'b', prefetch: 2 });
  for (let s = 1; s <= 5; s++) f.router.frame(a, send(s, 'b', { kind: `m${s}` }), body(s));
  assert.deepEqual(bOld.msgs.map((m) => m.kind), ['m1', 'm2']);
  f.router.frame(b, { t: 'ack', ids: [bOld.msgs[1]!.id] }, Buffer.alloc(0)); // m2 done; m3 goes out
  assert.deepEqual(bOld.msgs.map((m) => m.kind), ['m1', 'm2', 'm3']);
  f.router.detach(b);
  assert.equal(b.ready, false);
  assert.equal(b.outlet, undefined);
  assert.equal(b.mailbox.inflight.size, 0);
  assert.equal(b.mailbox.depth, 4);

  f.router.frame(a, send(6, 'b', { kind: 'm6' }), body(6));
  assert.equal(bOld.msgs.length, 3, 'a dead incarnation gets nothing');
  const bNew = new Recorder();
  f.router.attach(b, bNew);
  assert.equal(bNew.frames.length, 0, 'not before ready');
  f.router.ready(b);
  assert.deepEqual(bNew.msgs.map((m) => [m.kind, m.redelivered === true]), [['m1', true], ['m3', true]]);
  const ids = bNew.msgs.map((m) => m.id);
  assert.deepEqual(ids, [bOld.msgs[0]!.id, bOld.msgs[2]!.id], 'same message ids');
  f.router.frame(b, { t: 'ack', ids }, Buffer.alloc(0));
  assert.deepEqual(bNew.msgs.map((m) => [m.kind, m.redelivered === true]).slice(2), [['m4', false], ['m5', false]]);
  f.router.frame(b, { t: 'ack', ids: bNew.msgs.slice(2).map((m) => m.id) }, Buffer.alloc(0));
  assert.deepEqual(bNew.msgs.map((m) => m.kind).slice(4), ['m6']);
});

test('a request still in flight at detach is answered by the next incarnation', () => {
  const f = fixture();
  const { route: a, out: aOut } = f.add({ name: 'a', pledge: ['send:b'] });
  const { route: b } = f.add({ name: 'b' });
  f.router.frame(a, send(9, 'b', { req: true }), body(0));
  f.router.detach(b);
  const bNew = new Recorder();
  f.router.attach(b, bNew);
  f.router.ready(b);
  const m = bNew.msgs[0]!;
  assert.equal(m.req, true);
  assert.equal(m.redelivered, true);
  f.router.frame(b, { t: 'reply', corr: m.id }, body('ok'));
  assert.deepEqual(aOut.ress.map((r) => r.corr), [9]);
});

test('detach() of a sender drops its parked (never accepted) sends', () => {
  const f = fixture();
  const { route: a } = f.add({ name: 'a', pledge: ['send:b'] });
  const { route: b, out: bOut } = f.add({ name: 'b', mailbox: 1 }, { ready: false });
  f.router.frame(a, send(1, 'b', { kind: 'kept' }), body(1));
  f.router.frame(a, send(2, 'b', { kind: 'lost' }), body(2));
  f.router.detach(a);
  f.router.ready(b);
  assert.deepEqual(bOut.msgs.map((m) => m.kind), ['kept']);
});

// ---- randomized: invariants over random sends, acks, replies and restarts ----------


interface Sent { seq: number; to: string; qos: Qos; req: boolean; token: string }
class Incarnation extends Recorder {
  ready = false;
  seq = 0;
  readonly sent = new Map<number, Sent>();
  /** Message ids delivered to this incarnation and finished (ack or reply). */
  readonly finished = new Set<number>();
  readonly violations: string[] = [];
  constructor(readonly name: string, readonly n: number, private readonly log: { token: string; to: string; inc: number; redelivered: boolean }[]) { super(); }
  override write(header: SupervisorHeader, body?: Uint8Array): void {
    super.write(header, body);
    if (header.t === 'msg') {
      if (!this.ready) this.violations.push(`${this.name}#${this.n}: msg before ready`);
      this.log.push({ token: Buffer.from(body ?? []).toString(), to: this.name, inc: this.n, redelivered: header.redelivered === true });
    }
  }
  pending(): (MsgHeader & { body: Buffer | undefined })[] { return this.msgs.filter((m) => !this.finished.has(m.id)); }
}

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  test(`randomized router run (seed ${seed}): accept/refuse, order, window, replies, redelivery`, () => {
    const rand = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const f = fixture();
    const NAMES = ['a', 'b', 'c'] as const;
    const PREFETCH = 2;
    const log: { token: string; to: string; inc: number; redelivered: boolean }[] = [];
    const routes = new Map<string, Route>();
    const incs = new Map<string, Incarnation[]>();
    const cur = (name: string) => incs.get(name)!.at(-1)!;
    const start = (name: string, ready: boolean) => {
      const inc = new Incarnation(name, (incs.get(name)?.length ?? 0) + 1, log);
      if (!incs.has(name)) incs.set(name, []);
      incs.get(name)!.push(inc);
      f.router.attach(routes.get(name)!, inc);
      if (ready) { inc.ready = true; f.router.ready(routes.get(name)!); }
    };
    for (const name of NAMES) {
      routes.set(name, f.router.add({ name, qos: 'utility', pledge: ['send:*'], mailbox: 3, prefetch: PREFETCH, maxFrame: 1 << 20 }));
      start(name, rand() < 0.5);
    }
    const finishOne = (name: string, all = false) => {
      const inc = cur(name);
      const todo = all ? inc.pending() : [pick(inc.pending())];
      for (const m of todo) {
        inc.finished.add(m.id);
        if (m.req && rand() < 0.8) f.router.frame(routes.get(name)!, { t: 'reply', corr: m.id }, m.body!); // echo the token
        else if (m.req && rand() < 0.5) f.router.frame(routes.get(name)!, { t: 'reply', corr: m.id, err: { code: 'EHANDLER', message: m.body!.toString() } }, Buffer.alloc(0));
        else f.router.frame(routes.get(name)!, { t: 'ack', ids: [m.id] }, Buffer.alloc(0));
      }
    };
    const checkWindows = () => {
      for (const name of NAMES) assert.ok(cur(name).pending().length <= PREFETCH, `${name}: more than ${PREFETCH} in flight`);
    };

    for (let step = 0; step < 3000; step++) {
      const r = rand();
      const name = pick(NAMES);
      const inc = cur(name);
      if (r < 0.45) {
        const unsettled = [...inc.sent.keys()].filter((s) => s > Math.max(0, ...inc.accs) && !inc.rejs.some((x) => x.seq === s)).length;
        if (unsettled > 40) continue; // a well-behaved SDK stays under its window
        const seq = ++inc.seq;
        const to = rand() < 0.05 ? 'ghost' : pick(NAMES);
        const qos = pick(['interactive', 'utility', 'background'] as const);
        const req = rand() < 0.4;
        const token = `${name}#${inc.n}#${seq}`;
        inc.sent.set(seq, { seq, to, qos, req, token });
        f.router.frame(routes.get(name)!, { t: 'send', seq, to, kind: 'k', qos, ...(req ? { req: true as const } : {}) }, Buffer.from(token));
      } else if (r < 0.75) {
        if (inc.ready && inc.pending().length) finishOne(name);
      } else if (r < 0.85) {
        f.router.flushAccepts();
      } else if (r < 0.9) {
        if (!inc.ready) { inc.ready = true; f.router.ready(routes.get(name)!); }
      } else if (r < 0.93) {
        f.router.flushAccepts(); // the link flushes at the end of every read; a dying agent's last read included
        f.router.detach(routes.get(name)!);
        start(name, rand() < 0.5);
      }
      if (rand() < 0.5) f.router.flushAccepts();
      checkWindows();
    }
    // Quiesce: everyone ready, everything handled.
    for (const name of NAMES) if (!cur(name).ready) { cur(name).ready = true; f.router.ready(routes.get(name)!); }
    for (let round = 0; round < 10_000; round++) {
      f.router.flushAccepts();
      const busy = NAMES.filter((n) => cur(n).pending().length);
      if (!busy.length) break;
      for (const n of busy) finishOne(n, true);
      checkWindows();
    }
    f.router.flushAccepts();

    assert.equal(f.faults.length, 0, JSON.stringify(f.faults));
    for (const name of NAMES) {
      assert.equal(routes.get(name)!.mailbox.depth, 0, `${name} still has queued mail`);
      assert.equal(cur(name).pending().length, 0);
    }
    const deliveredTokens = new Set(log.map((l) => l.token));
    for (const [name, list] of incs) {
      for (const inc of list) {
        assert.deepEqual(inc.violations, []);
        // acc is monotonic; a rej never follows an acc that covers it; one rej per seq
        assert.ok(inc.accs.every((s, i, all) => i === 0 || s >= all[i - 1]!), `${name}#${inc.n}: acc went backwards ${inc.accs}`);
        assertRejBeforeCoveringAcc(inc);
        const rejSeqs = inc.rejs.map((x) => x.seq);
        assert.equal(new Set(rejSeqs).size, rejSeqs.length, `${name}#${inc.n}: a seq refused twice`);
        for (const x of inc.rejs) {
          const s = inc.sent.get(x.seq);
          assert.ok(s, `${name}#${inc.n}: rej for unknown seq ${x.seq}`);
          assert.equal(x.code, 'ENOAGENT');
          assert.equal(s.to, 'ghost', `${name}#${inc.n}: seq ${x.seq} to ${s.to} refused`);
        }
        // every res answers a request of THIS incarnation, once, with its own token
        const resCorrs = inc.ress.map((x) => x.corr);
        assert.equal(new Set(resCorrs).size, resCorrs.length, `${name}#${inc.n}: a request answered twice`);
        for (const res of inc.ress) {
          const s = inc.sent.get(res.corr);
          assert.ok(s?.req, `${name}#${inc.n}: res for seq ${res.corr}, which was not a request`);
          if (res.err && /acknowledged a request without replying/.test(res.err.message)) {
            assert.equal(res.err.code, 'EHANDLER');
            assert.ok(res.err.message.startsWith(`${s.to} `), `${name}#${inc.n}: EHANDLER for seq ${res.corr} names the wrong agent`);
            continue;
          }
          const echoed = res.err ? res.err.message : res.body!.toString();
          assert.equal(echoed, s.token, `${name}#${inc.n}: res for seq ${res.corr} carries another request's answer`);
        }
        const maxAcc = Math.max(0, ...inc.accs);
        const live = inc === cur(name);
        for (const s of inc.sent.values()) {
          const refused = rejSeqs.includes(s.seq);
          // a request may be accepted by its reply instead of an acc
          const accepted = !refused && (s.seq <= maxAcc || (s.req && resCorrs.includes(s.seq)));
          if (live) assert.ok(refused || accepted, `${name}#${inc.n}: seq ${s.seq} (${s.req ? 'request' : 'send'} to ${s.to}) neither accepted nor refused`);
          if (accepted) assert.ok(deliveredTokens.has(s.token), `${name}#${inc.n}: accepted seq ${s.seq} to ${s.to} never delivered`);
          if (accepted && s.req && live) assert.ok(resCorrs.includes(s.seq), `${name}#${inc.n}: accepted request ${s.seq} never answered`);
        }
      }
    }
    // first deliveries are FIFO per (sender incarnation, target, qos); later ones are flagged redelivered
    const seen = new Set<string>();
    const lastSeq = new Map<string, number>();
    for (const l of log) {
      if (seen.has(l.token)) {
        assert.ok(l.redelivered, `${l.token} delivered twice without the redelivered flag`);
        continue;
      }
      seen.add(l.token);
      const [from, n, seq] = l.token.split('#');
      const s = incs.get(from!)![Number(n) - 1]!.sent.get(Number(seq))!;
      assert.equal(s.to, l.to);
      const key = `${from}#${n}->${l.to}/${s.qos}`;
      assert.ok((lastSeq.get(key) ?? 0) < s.seq, `${key}: seq ${s.seq} delivered after ${lastSeq.get(key)}`);
      lastSeq.set(key, s.seq);
    }
  });
}
