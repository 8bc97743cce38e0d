// Admission by class in the router, driven in memory: a full mailbox never stops a
// higher class, parked senders come back highest class first, and a sender parked
// for a long time is held (its acc withheld), not faulted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SEND_WINDOW } from '../supervisor/router/index.js';
import { QOS } from '../protocol/header.js';
import { body, fixture, send } from './helpers/router-fixture.js';

test('parked sends are un-parked highest class first as room appears, whatever order they parked in', () => {
  const f = fixture();
  const s = Object.fromEntries(QOS.map((q) => [q, f.add({ name: q, pledge: ['send:t'], qos: q })]));
  const t = f.add({ name: 't', mailbox: 4, prefetch: 1 }, { ready: false });
  for (let i = 1; i <= 4; i++) f.router.frame(s.interactive!.route, send(i, 't'), body(i)); // fills the mailbox
  // Parked in the order background, utility, user, interactive.
  for (const q of ['background', 'utility', 'user', 'interactive'] as const) f.router.frame(s[q]!.route, send(q === 'interactive' ? 5 : 1, 't'), body(0));
  f.router.flushAccepts();
  const parked = () => QOS.map((q) => s[q]!.route.parkedCount);
  assert.deepEqual(parked(), [1, 1, 1, 1]);
  f.router.ready(t.route); // one taken (window 1): one place free
  const seen = [parked()];
  for (let i = 0; i < 3; i++) {
    f.router.frame(t.route, { t: 'ack', ids: [t.out.msgs.at(-1)!.id] }, Buffer.alloc(0));
    seen.push(parked());
  }
  assert.deepEqual(seen, [[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]], 'interactive, user, utility, background');
});

test('a parked lower class holds back no higher class, and a waiting higher class holds back every lower one', () => {
  const f = fixture();
  const bg = f.add({ name: 'bg', pledge: ['send:t'], qos: 'background' });
  const user = f.add({ name: 'user', pledge: ['send:t'], qos: 'user' });
  const t = f.add({ name: 't', mailbox: 8 }, { ready: false });
  for (let i = 1; i <= 6; i++) f.router.frame(bg.route, send(i, 't'), body(i));
  assert.deepEqual([t.route.mailbox.heldOf('background'), bg.route.parkedCount], [4, 2], 'background fills its half; the rest waits');
  for (let i = 1; i <= 5; i++) f.router.frame(user.route, send(i, 't'), body(i));
  assert.deepEqual([t.route.mailbox.heldOf('user'), user.route.parkedCount], [3, 2], 'user comes in past it, up to its own share (7 of 8)');
  f.router.frame(f.router.operator, send(1, 't', { qos: 'interactive' }), body(0));
  assert.equal(t.route.mailbox.heldOf('interactive'), 1, 'interactive comes in past both');
  assert.equal(t.route.mailbox.full, true);
  f.router.ready(t.route); // takes all 8 in class order, then admits user first: background stays parked while user waits
  assert.deepEqual(t.out.msgs.map((m) => m.qos), ['interactive', 'user', 'user', 'user', ...Array(4).fill('background'), 'user', 'user', 'background', 'background']);
  assert.deepEqual([user.route.parkedCount, bg.route.parkedCount], [0, 0]);
});

test('acc is withheld below a parked send even when a later, higher-class send of the same sender is admitted', () => {
  const f = fixture();
  const a = f.add({ name: 'a', pledge: ['send:t'], qos: 'background' });
  const t = f.add({ name: 't', mailbox: 2, prefetch: 1 }, { ready: false });
  f.router.frame(a.route, send(1, 't'), body(1)); // background's one place
  f.router.frame(a.route, send(2, 't'), body(2)); // parked
  f.router.frame(a.route, send(3, 't', { qos: 'interactive' }), body(3)); // admitted
  f.router.flushAccepts();
  assert.deepEqual(a.out.accs, [1], 'seq 3 is in, but 2 is not: acc stops at 1');
  f.router.ready(t.route);
  f.router.frame(t.route, { t: 'ack', ids: [t.out.msgs.at(-1)!.id] }, Buffer.alloc(0));
  f.router.flushAccepts();
  assert.equal(a.out.accs.at(-1), 3, 'both accepted once 2 got in');
  assert.deepEqual(t.out.msgs.map((m) => m.qos), ['interactive', 'background']);
});

test('a background sender parked at its full window for a long time is held, not faulted; it is flooding only past it', () => {
  const f = fixture();
  const a = f.add({ name: 'a', pledge: ['send:t'], qos: 'background' });
  const t = f.add({ name: 't', mailbox: 100 }, { ready: false });
  // A compliant SDK writes at most SEND_WINDOW sends it has not seen accepted.
  for (let s = 1; s <= SEND_WINDOW; s++) f.router.frame(a.route, send(s, 't'), body(0));
  f.router.flushAccepts();
  assert.deepEqual([t.route.mailbox.heldOf('background'), a.route.parkedCount], [50, SEND_WINDOW - 50]);
  assert.deepEqual(a.out.accs, [50], 'acc held below the first parked send: the SDK stops writing at its window');
  for (let round = 0; round < 20; round++) {
    // Rounds of other traffic and flushes while it waits: nothing about waiting is a fault.
    f.router.frame(f.router.operator, send(round + 1, 't', { qos: 'interactive' }), body(0));
    f.router.flushAccepts();
  }
  assert.equal(f.faults.length, 0);
  assert.deepEqual(a.out.rejs, []);
  // 50 were accepted: a compliant SDK may write 50 more, and no further.
  for (let s = SEND_WINDOW + 1; s <= SEND_WINDOW + 50; s++) f.router.frame(a.route, send(s, 't'), body(0));
  assert.equal(f.faults.length, 0);
  f.router.frame(a.route, send(SEND_WINDOW + 51, 't'), body(0)); // one past its window
  assert.equal(f.faults.length, 1);
  assert.match(f.faults[0]!.reason, /flooding/);
});
