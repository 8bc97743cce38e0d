// Slots and the journal's memory of them, without processes: where slots fall
// (croner for cron, epoch multiples for every), and what the fold recovers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clockOf } from '../supervisor/schedules/clock.js';
import { JournalState } from '../logs/journal/state.js';
import type { AnyRecord } from '../logs/journal/schema.js';

const T = Date.UTC(2026, 0, 1, 0, 0, 10); // 00:00:10 UTC

test('every: slots are multiples of the interval; next is strictly after, latest at or before', () => {
  const c = clockOf({ every: 5000 });
  assert.equal(c.next(T), T + 5000);
  assert.equal(c.next(T - 1), T);
  assert.equal(c.latest(T - 20_000, T), T, 'a slot exactly at the point counts');
  assert.equal(c.latest(T, T + 4999), null, 'nothing after `since` yet');
  assert.equal(c.latest(T - 20_000, T + 12_000), T + 10_000, 'the latest of several missed');
});

test('cron: seconds field, time zones, and a cron that never matches', () => {
  const s = clockOf({ cron: '*/5 * * * * *' });
  assert.equal(s.next(T), T + 5000);
  assert.equal(s.latest(T - 60_000, T + 7000), T + 5000);
  // 03:30 in Berlin is 02:30 UTC in winter.
  const berlin = clockOf({ cron: '30 3 * * *', tz: 'Europe/Berlin' });
  assert.equal(berlin.next(T), Date.UTC(2026, 0, 1, 2, 30));
  assert.equal(clockOf({ cron: '0 0 30 2 *' }).next(T), null);
});

test('the fold keeps each schedule\'s latest slot and whether its message is still owed', () => {
  const st = new JournalState();
  let seq = 0;
  const accept = (id: number, schedule: string, slot: number): AnyRecord =>
    ({ type: 'accept', seq: ++seq, at: slot + 3, id, from: 'scheduler', to: 'a', kind: 'k', qos: 'utility', body: new Uint8Array(), schedule, slot });
  st.apply({ type: 'start', seq: ++seq, at: T, pid: 1, config: 'x', version: 'v' });
  st.apply(accept(1, 'tick', T + 1000));
  st.apply({ type: 'ack', seq: ++seq, at: T + 1100, agent: 'a', ids: [1] });
  st.apply(accept(2, 'tick', T + 2000));
  st.apply(accept(3, 'other', T + 2000));
  st.apply({ type: 'deadletter', seq: ++seq, at: T + 2100, agent: 'a', id: 3, from: 'scheduler', kind: 'k', attempts: 5, reason: 'x' });
  const slots = st.scheduleSlots();
  assert.deepEqual(slots.get('tick'), { slot: T + 2000, at: T + 2003, id: 2, to: 'a', segment: -1, owed: true });
  assert.deepEqual(slots.get('other'), { slot: T + 2000, at: T + 2003, id: 3, to: 'a', segment: -1, owed: false });
  st.apply(accept(9, 'tick', T + 1000)); // an older slot (a redrive would carry none): never moves the mark back
  assert.equal(st.scheduleSlots().get('tick')!.slot, T + 2000);
});

test('the fold follows a slot carried forward: a carried copy or a fired mark moves it to its new segment, keeping the firing\'s time', () => {
  const st = new JournalState();
  const body = new Uint8Array();
  st.apply({ type: 'accept', seq: 1, at: T + 3, id: 7, from: 'scheduler', to: 'a', kind: 'k', qos: 'utility', body, schedule: 'tick', slot: T }, 1);
  // Owed and carried: the accept copy (stamped when copied) and the mark, in one group.
  st.apply({ type: 'accept', seq: 50, at: T + 9000, id: 7, from: 'scheduler', to: 'a', kind: 'k', qos: 'utility', body, schedule: 'tick', slot: T, carried: 1 }, 50);
  assert.deepEqual(st.schedules.get('tick'), { slot: T, at: T + 3, id: 7, to: 'a', segment: 50 });
  st.apply({ type: 'fired', seq: 51, at: T + 9000, schedule: 'tick', slot: T, id: 7, to: 'a', firedAt: T + 3, carried: 1 }, 50);
  assert.deepEqual(st.scheduleSlots().get('tick'), { slot: T, at: T + 3, id: 7, to: 'a', segment: 50, owed: true });
  // A journal that starts with the mark (the accept's segment is gone): the mark alone is the proof.
  const fresh = new JournalState();
  fresh.apply({ type: 'fired', seq: 90, at: T + 20_000, schedule: 'tick', slot: T, id: 7, to: 'a', firedAt: T + 3, carried: 50 }, 90);
  assert.deepEqual(fresh.scheduleSlots().get('tick'), { slot: T, at: T + 3, id: 7, to: 'a', segment: 90, owed: false });
  // An older mark never moves the slot back.
  fresh.apply({ type: 'fired', seq: 91, at: T + 20_000, schedule: 'tick', slot: T - 1000, id: 6, to: 'a', firedAt: T - 997 }, 90);
  assert.equal(fresh.schedules.get('tick')!.slot, T);
});
