// The router with a journal, driven in memory: the journal here is a stand-in
// whose group commits land when the test says, so that the order of things can be
// checked exactly (the real Journal on real files is in journal-*.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnyNewRecord } from '../logs/journal/schema.js';
import { SEND_WINDOW, type RouterJournal } from '../supervisor/router/index.js';
import { MemoryJournal } from '../logs/journal/memory.js';
import { assertRejBeforeCoveringAcc, body, fixture, send } from './helpers/router-fixture.js';

class HeldJournal implements RouterJournal {
  readonly groups: { recs: AnyNewRecord[]; live: number; done: (err: Error | undefined, segment: number) => void }[] = [];
  readonly notes: AnyNewRecord[] = [];
  readonly released: number[] = [];
  stage(recs: AnyNewRecord[], live: number, done: (err: Error | undefined, segment: number) => void): void {
    this.groups.push({ recs, live, done });
  }
  note(rec: AnyNewRecord): void { this.notes.push(rec); }
  release(segment: number): void { this.released.push(segment); }
  /** Land the oldest group: written (in `segment`) or failed. */
  land(err?: Error, segment = 7): AnyNewRecord[] {
    const g = this.groups.shift();
    assert.ok(g, 'a group is waiting');
    g.done(err, err ? -1 : segment);
    return g.recs;
  }
}

function setup(maxAttempts?: number) {
  const journal = new HeldJournal();
  const f = fixture({ journal, maxAttempts });
  // Interactive: its class may fill the whole mailbox (lower classes get a share of it, mailbox.test.ts).
  const a = f.add({ name: 'a', pledge: ['send:b'], qos: 'interactive' });
  const b = f.add({ name: 'b', mailbox: 3, prefetch: 10 });
  return { f, journal, a, b };
}

test('a send is delivered and accepted only once its group is in the journal; one group per read', () => {
  const { f, journal, a, b } = setup();
  f.router.frame(a.route, send(1, 'b', { kind: 'x' }), body(1));
  f.router.frame(a.route, send(2, 'b', { kind: 'y', req: true }), body(2));
  assert.equal(b.out.msgs.length, 0, 'nothing delivered before the commit');
  f.router.flushAccepts(); // the end of the read: its sends become one group
  assert.equal(journal.groups.length, 1);
  assert.deepEqual(a.out.accs, [], 'no acc before the commit');
  const recs = journal.land();
  assert.deepEqual(recs.map((r) => r.type === 'accept' && [r.id, r.from, r.to, r.kind, r.req === true]), [[1, 'a', 'b', 'x', false], [2, 'a', 'b', 'y', true]]);
  assert.equal(journal.groups[0]?.live, undefined);
  assert.deepEqual(b.out.msgs.map((m) => m.kind), ['x', 'y']);
  assert.deepEqual(a.out.accs, [2], 'one cumulative acc, after the commit');
  assert.deepEqual(journal.notes.map((n) => n.type), ['deliver']);
  // The handler finishes: the ack is journaled and the accept's segment released.
  f.router.frame(b.route, { t: 'ack', ids: [b.out.msgs[0]!.id] }, Buffer.alloc(0));
  assert.deepEqual(journal.notes.at(-1), { type: 'ack', agent: 'b', ids: [1] });
  assert.deepEqual(journal.released, [7]);
  // A duplicate ack is not journaled twice.
  f.router.frame(b.route, { t: 'ack', ids: [b.out.msgs[0]!.id] }, Buffer.alloc(0));
  assert.equal(journal.notes.filter((n) => n.type === 'ack').length, 1);
});

test('a failed commit refuses its sends with EJOURNAL, before any acc covers them; room and order come back', () => {
  const { f, journal, a, b } = setup();
  for (const s of [1, 2]) f.router.frame(a.route, send(s, 'b'), body(s));
  f.router.flushAccepts();
  f.router.frame(a.route, send(3, 'b'), body(3));
  f.router.flushAccepts();
  journal.land(Object.assign(new Error('journal write failed: ENOSPC (no space left on device)'), { code: 'ENOSPC' }));
  assert.deepEqual(a.out.rejs.map((r) => [r.seq, r.code]), [[1, 'EJOURNAL'], [2, 'EJOURNAL']]);
  assert.match(a.out.rejs[0]!.message, /^not accepted: journal write failed: ENOSPC/);
  assert.equal(b.out.msgs.length, 0);
  journal.land();
  // An acc through 2 after the rejs is harmless (nothing left to settle there); 3 is accepted once journaled.
  assert.deepEqual(a.out.accs, [2, 3]);
  assert.equal(b.out.msgs.length, 1);
  assert.equal(b.route.mailbox.reserved, 0, 'the failed group gave its room back');
  assertRejBeforeCoveringAcc(a.out);
});

test('room being journaled counts: a full mailbox parks later sends until delivery makes room', () => {
  const { f, journal, a, b } = setup();
  f.router.detach(b.route); // b is down: nothing drains its mailbox of 3
  for (let s = 1; s <= 5; s++) f.router.frame(a.route, send(s, 'b'), body(s));
  f.router.flushAccepts();
  assert.equal(journal.groups[0]!.recs.length, 3, 'three fit; two wait, unjournaled');
  assert.equal(a.route.parkedCount, 2);
  journal.land();
  assert.deepEqual(a.out.accs, [3], 'acc stops below the parked ones');
});

test('a sender that dies while its sends are being journaled: they are accepted and delivered, its next incarnation gets no stale acc', () => {
  const { f, journal, a, b } = setup();
  f.router.frame(a.route, send(1, 'b'), body(1));
  f.router.flushAccepts();
  f.router.detach(a.route);
  f.router.attach(a.route, a.out);
  f.router.ready(a.route);
  a.out.clear();
  journal.land();
  assert.equal(b.out.msgs.length, 1, 'in the journal, so delivered');
  assert.deepEqual(a.out.accs, [], 'the new incarnation never sent seq 1');
});

test('checkpoints are journaled in the sender\'s sequence and reported once durable; ignoring acc is a flood', () => {
  const events: string[] = [];
  const journal = new HeldJournal();
  const f = fixture({ journal }, { checkpointed: (n, s, seg) => events.push(`${n}:${s.toString()}:${seg}`) });
  const a = f.add({ name: 'a', pledge: ['send:b'] });
  f.add({ name: 'b' });
  f.router.frame(a.route, send(1, 'b'), body(1));
  f.router.frame(a.route, { t: 'ckpt', seq: 2 }, Buffer.from('state-1'));
  f.router.flushAccepts();
  assert.deepEqual(journal.groups[0]!.recs.map((r) => r.type), ['accept', 'checkpoint']);
  assert.equal(journal.groups[0]!.live, 2);
  assert.deepEqual(events, []);
  journal.land(undefined, 3);
  assert.deepEqual(events, ['a:state-1:3']);
  assert.deepEqual(a.out.accs, [2]);
  // A sender that keeps checkpointing without waiting for acc piles them up in memory: stopped at the window.
  for (let s = 3; s <= SEND_WINDOW + 3; s++) f.router.frame(a.route, { t: 'ckpt', seq: s }, Buffer.from('x'));
  assert.equal(f.faults.length, 1);
  assert.match(f.faults[0]!.reason, /flooding/);
});

test('after max_attempts deliveries a message is dead-lettered, journaled, its segment released, its requester answered', () => {
  const { f, journal, a, b } = setup(2);
  f.router.frame(a.route, send(1, 'b', { kind: 'poison', req: true }), body(1));
  f.router.flushAccepts();
  journal.land(undefined, 5);
  for (let attempt = 1; attempt <= 2; attempt++) {
    assert.equal(b.out.msgs.length, attempt);
    f.router.detach(b.route); // the handler killed it
    f.router.attach(b.route, b.out);
    f.router.ready(b.route);
  }
  assert.equal(b.out.msgs.length, 2, 'not delivered a third time');
  assert.equal(b.out.msgs[1]!.redelivered, true);
  const dead = journal.notes.find((n) => n.type === 'deadletter');
  // With the message itself (qos, body), so that `outheis redrive` can send it again after its accept record is gone.
  assert.deepEqual(dead, { type: 'deadletter', agent: 'b', id: 1, from: 'a', kind: 'poison', attempts: 2, reason: 'not acked after 2 deliveries', qos: 'interactive', body: body(1) });
  assert.deepEqual(journal.released, [5]);
  assert.deepEqual(a.out.ress.map((r) => [r.corr, r.err?.code]), [[1, 'EHANDLER']]);
  assert.equal(journal.notes.filter((n) => n.type === 'deliver').length, 2);
});

// ---- without a journal: the memory journal stands in ----------------------------

test('the memory journal commits before stage returns, in no segment, and keeps nothing', () => {
  const journal = new MemoryJournal();
  const landed: [Error | undefined, number][] = [];
  journal.stage([{ type: 'checkpoint', agent: 'a', state: Buffer.from('s') }], 1, (err, segment) => landed.push([err, segment]));
  assert.deepEqual(landed, [[undefined, -1]], 'done ran synchronously');
  assert.equal(journal.keepsNothing, true);
});

test('without a journal, a send is delivered within its frame, a checkpoint reported at once (segment -1), and acc waits for the end of the read', () => {
  const events: string[] = [];
  const f = fixture({}, { checkpointed: (n, s, seg) => events.push(`${n}:${s.toString()}:${seg}`) });
  const a = f.add({ name: 'a', pledge: ['send:b'] });
  const b = f.add({ name: 'b' });
  f.router.frame(a.route, send(1, 'b', { kind: 'x' }), body(1));
  assert.deepEqual(b.out.msgs.map((m) => m.kind), ['x'], 'delivered before the read ends');
  assert.equal(b.route.mailbox.reserved, 0);
  f.router.frame(a.route, { t: 'ckpt', seq: 2 }, Buffer.from('state-1'));
  assert.deepEqual(events, ['a:state-1:-1']);
  assert.equal(f.router.settled, true, 'nothing is ever waiting for a commit');
  assert.deepEqual(a.out.accs, [], 'no acc before the flush');
  f.router.flushAccepts();
  assert.deepEqual(a.out.accs, [2]);
  // A lone request is accepted by its reply, not by an acc.
  f.router.frame(a.route, send(3, 'b', { req: true }), body(3));
  f.router.flushAccepts();
  assert.deepEqual(a.out.accs, [2]);
  f.router.frame(b.route, { t: 'reply', corr: b.out.msgs[1]!.id }, body('ok'));
  assert.deepEqual(a.out.ress.map((r) => r.corr), [3]);
});
