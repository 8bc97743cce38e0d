// The mailbox: strict QoS order, FIFO within a class, a prefetch window, and
// at-least-once redelivery of what was in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mailbox, type Envelope } from '../supervisor/mailbox.js';
import { QOS, type Qos } from '../protocol/header.js';
import { rng } from './helpers/rng.js';

const RANK: Record<Qos, number> = { interactive: 0, user: 1, utility: 2, background: 3 };

function env(id: number, qos: Qos): Envelope {
  return { id, from: 'a', to: 'b', kind: 'k', qos, req: false, seq: id, fromEpoch: 1, body: Buffer.from([id & 0xff]), redelivered: false, attempts: 0, segment: -1, done: false };
}


function takeAll(mb: Mailbox, ack = true): Envelope[] {
  const out: Envelope[] = [];
  let e: Envelope | undefined;
  while ((e = mb.take())) {
    out.push(e);
    if (ack) mb.ack(e.id);
  }
  return out;
}

test('strict QoS order, FIFO within a class, over thousands of random puts', () => {
  const rand = rng(42);
  const mb = new Mailbox(100_000, 100_000);
  const put: Envelope[] = [];
  for (let i = 1; i <= 5000; i++) {
    const e = env(i, QOS[Math.floor(rand() * QOS.length)]!);
    put.push(e);
    mb.put(e);
  }
  assert.equal(mb.depth, 5000);
  // reference: a stable sort by class (Array.prototype.sort is stable)
  const expected = [...put].sort((x, y) => RANK[x.qos] - RANK[y.qos]).map((e) => e.id);
  const got = takeAll(mb, false).map((e) => e.id);
  assert.deepEqual(got, expected);
  assert.equal(mb.depth, 0);
  assert.equal(mb.inflight.size, 5000);
});

test('interleaved random puts and takes match a reference model (exercises FIFO compaction)', () => {
  const rand = rng(7);
  const mb = new Mailbox(1_000_000, 1_000_000);
  const model: Envelope[][] = QOS.map(() => []);
  let id = 0;
  for (let step = 0; step < 20_000; step++) {
    if (rand() < 0.55) {
      const e = env(++id, QOS[Math.floor(rand() * QOS.length)]!);
      mb.put(e);
      model[RANK[e.qos]]!.push(e);
    } else {
      const want = model.find((q) => q.length)?.shift();
      const got = mb.take();
      assert.equal(got?.id, want?.id, `step ${step}`);
      if (got) mb.ack(got.id);
    }
    assert.equal(mb.depth, model.reduce((n, q) => n + q.length, 0));
  }
  const rest = takeAll(mb).map((e) => e.id);
  assert.deepEqual(rest, model.flat().map((e) => e.id));
});

test('the prefetch window caps in-flight messages; ack frees the window', () => {
  const mb = new Mailbox(100, 3);
  for (let i = 1; i <= 6; i++) mb.put(env(i, 'user'));
  const first = [mb.take(), mb.take(), mb.take()].map((e) => e?.id);
  assert.deepEqual(first, [1, 2, 3]);
  assert.equal(mb.take(), undefined, 'window of 3 is full');
  assert.equal(mb.inflight.size, 3);
  assert.equal(mb.depth, 3);

  const acked = mb.ack(2);
  assert.equal(acked?.id, 2);
  assert.equal(mb.inflight.size, 2);
  assert.equal(mb.take()?.id, 4, 'one ack frees one slot');
  assert.equal(mb.take(), undefined);

  // a duplicate or unknown ack frees nothing
  assert.equal(mb.ack(2), undefined);
  assert.equal(mb.ack(999), undefined);
  assert.equal(mb.take(), undefined);

  mb.ack(1);
  mb.ack(3);
  assert.deepEqual([mb.take()?.id, mb.take()?.id, mb.take()], [5, 6, undefined]);
  assert.deepEqual([...mb.inflight.keys()], [4, 5, 6]);
});

test('an interactive message put while the window is full is delivered before older background work', () => {
  const mb = new Mailbox(100, 1);
  mb.put(env(1, 'background'));
  mb.put(env(2, 'background'));
  assert.equal(mb.take()?.id, 1);
  mb.put(env(3, 'interactive'));
  mb.ack(1);
  assert.equal(mb.take()?.id, 3);
});

test('full at capacity (counting queued, not in-flight)', () => {
  const mb = new Mailbox(3, 10);
  assert.equal(mb.full, false);
  mb.put(env(1, 'user'));
  mb.put(env(2, 'background'));
  assert.equal(mb.full, false);
  mb.put(env(3, 'interactive'));
  assert.equal(mb.full, true);
  assert.equal(mb.depth, 3);
  mb.take();
  assert.equal(mb.full, false, 'a delivered message leaves the queue');
  assert.equal(mb.depth, 2);
});

test('requeueInflight puts in-flight messages back at the front of their class, in order, redelivered', () => {
  const mb = new Mailbox(100, 4);
  // class contents: user 1,2,5,6  background 3,4,7  interactive 8 (put later)
  mb.put(env(1, 'user'));
  mb.put(env(2, 'user'));
  mb.put(env(3, 'background'));
  mb.put(env(4, 'background'));
  mb.put(env(5, 'user'));
  mb.put(env(6, 'user'));
  mb.put(env(7, 'background'));
  // window 4: takes user 1,2,5,6
  assert.deepEqual([mb.take(), mb.take(), mb.take(), mb.take()].map((e) => e?.id), [1, 2, 5, 6]);
  mb.ack(5);
  // 1,2,6 in flight; take background 3
  assert.equal(mb.take()?.id, 3);
  mb.put(env(8, 'interactive'));
  mb.put(env(9, 'user'));
  assert.deepEqual([...mb.inflight.keys()], [1, 2, 6, 3]);

  const back = [...mb.inflight.values()];
  assert.deepEqual(mb.requeueInflight(), { requeued: 4, exhausted: [] });
  assert.deepEqual(back.map((e) => e.id), [1, 2, 6, 3]);
  assert.ok(back.every((e) => e.redelivered), 'all flagged redelivered');
  assert.equal(mb.inflight.size, 0);
  assert.equal(mb.depth, 8);

  const order = takeAll(mb);
  assert.deepEqual(order.map((e) => e.id), [8, 1, 2, 6, 9, 3, 4, 7]);
  const redelivered = order.filter((e) => e.redelivered).map((e) => e.id);
  assert.deepEqual(redelivered, [1, 2, 6, 3], 'only the requeued ones are flagged');
});

test('requeueInflight with nothing in flight changes nothing', () => {
  const mb = new Mailbox(10, 10);
  mb.put(env(1, 'utility'));
  assert.deepEqual(mb.requeueInflight(), { requeued: 0, exhausted: [] });
  assert.equal(mb.depth, 1);
  const e = mb.take();
  assert.equal(e?.id, 1);
  assert.equal(e?.redelivered, false);
});

test('requeue after FIFO compaction still puts them at the front', () => {
  const mb = new Mailbox(1e6, 2000);
  for (let i = 1; i <= 3000; i++) mb.put(env(i, 'utility'));
  // take 2000 (head passes the compaction threshold), ack the first 1990
  for (let i = 1; i <= 2000; i++) assert.equal(mb.take()?.id, i);
  for (let i = 1; i <= 1990; i++) mb.ack(i);
  mb.requeueInflight();
  const ids = takeAll(mb).map((e) => e.id);
  const expected = [...Array.from({ length: 10 }, (_, i) => 1991 + i), ...Array.from({ length: 1000 }, (_, i) => 2001 + i)];
  assert.deepEqual(ids, expected);
});

test('requeueInflight returns the messages out of attempts instead of requeueing them; reserved room counts as full', () => {
  const mb = new Mailbox(3, 10);
  for (let i = 1; i <= 3; i++) mb.put(env(i, 'user'));
  for (let i = 0; i < 3; i++) mb.take()!.attempts = i + 1; // ids 1, 2, 3 delivered 1, 2, 3 times
  const { requeued, exhausted } = mb.requeueInflight(2);
  assert.equal(requeued, 1);
  assert.deepEqual(exhausted.map((e) => e.id), [2, 3]);
  assert.equal(mb.depth, 1);
  assert.equal(exhausted[0]!.redelivered, false, 'not flagged: it is not coming back');
  assert.equal(mb.full, false);
  mb.reserve('user');
  mb.reserve('user');
  assert.equal(mb.full, true, 'one queued + two being journaled fill a mailbox of three');
  assert.deepEqual([...mb.all()].map((e) => e.id), [1]);
});

test('drainAll empties everything: in flight first, then queued by class', () => {
  const mb = new Mailbox(100, 2);
  mb.put(env(1, 'background'));
  mb.put(env(2, 'interactive'));
  mb.put(env(3, 'user'));
  mb.put(env(4, 'background'));
  mb.take(); // 2
  mb.take(); // 3
  const all = mb.drainAll();
  assert.deepEqual(all.map((e) => e.id).sort(), [1, 2, 3, 4]);
  assert.deepEqual(all.map((e) => e.id), [2, 3, 1, 4]);
  assert.equal(mb.depth, 0);
  assert.equal(mb.inflight.size, 0);
  assert.equal(mb.full, false);
  assert.equal(mb.take(), undefined);
  // usable again afterwards
  mb.put(env(5, 'user'));
  assert.equal(mb.take()?.id, 5);
});

test('refill: deliver at once when idle, otherwise only once half the window is free', () => {
  const box = new Mailbox(100, 4);
  assert.equal(box.refill, false, 'nothing queued');
  for (let i = 1; i <= 10; i++) box.put(env(i, 'user'));
  assert.equal(box.refill, true, 'nothing in flight');
  while (box.take());
  assert.equal(box.inflight.size, 4);
  box.ack(1);
  assert.equal(box.refill, false, '3 of 4 in flight: wait for a larger batch');
  box.ack(2);
  assert.equal(box.refill, true, 'half the window free');
  while (box.take());
  box.ack(3);
  box.put(env(11, 'interactive'));
  assert.equal(box.refill, true, 'interactive goes as soon as the window has room');
  assert.equal(box.take()?.id, 11);
  assert.equal(box.refill, false, 'the window is full again');
});

// ---- admission by class -------------------------------------------------------------

test('admission by class: each class with those below it fills only its share; interactive may fill it all', () => {
  const mb = new Mailbox(8, 10);
  assert.deepEqual(QOS.map((q) => mb.limitOf(q)), [8, 7, 6, 4], 'interactive, user, utility, background');
  for (let i = 1; i <= 4; i++) {
    assert.equal(mb.admits('background'), true);
    mb.put(env(i, 'background'));
  }
  assert.equal(mb.admits('background'), false, 'background has taken its half');
  assert.deepEqual(QOS.map((q) => mb.admits(q)), [true, true, true, false]);
  mb.reserve('utility');
  mb.reserve('utility');
  assert.equal(mb.heldOf('utility'), 2, 'being journaled counts for its class');
  assert.deepEqual(QOS.map((q) => mb.admits(q)), [true, true, false, false], 'utility with background at 6 of 8');
  mb.put(env(5, 'user'));
  assert.deepEqual(QOS.map((q) => mb.admits(q)), [true, false, false, false], 'held back for interactive alone');
  assert.equal(mb.full, false);
  mb.put(env(6, 'interactive'));
  assert.equal(mb.full, true);
  assert.equal(mb.admits('interactive'), false, 'a full mailbox stops every class');
  mb.unreserve('utility');
  assert.deepEqual(QOS.map((q) => mb.admits(q)), [true, true, true, false], 'the room a landed (or failed) group gives back: background still has its half');
  assert.equal(mb.reserved, 1);
});

test('admission by class on small mailboxes: every class gets one, interactive keeps one of its own from a capacity of 2', () => {
  const one = new Mailbox(1, 10);
  assert.deepEqual(QOS.map((q) => one.limitOf(q)), [1, 1, 1, 1]);
  const two = new Mailbox(2, 10);
  assert.deepEqual(QOS.map((q) => two.limitOf(q)), [2, 1, 1, 1]);
  two.put(env(1, 'background'));
  assert.deepEqual(QOS.map((q) => two.admits(q)), [true, false, false, false]);
  const big = new Mailbox(10_000, 10);
  assert.deepEqual(QOS.map((q) => big.limitOf(q)), [10_000, 8750, 7500, 5000]);
});
