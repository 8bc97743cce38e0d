// The tap names each firing's accept record with its schedule and slot. Admission by
// class lets an interactive send pass a parked background one to the same agent, so
// firings are matched per target and class, not per target alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouterJournal } from '../logs/journal/port.js';
import type { AnyNewRecord } from '../logs/journal/schema.js';
import { ScheduleTap } from '../supervisor/schedules/tap.js';
import { SCHEDULER } from '../supervisor/schedules/spec.js';
import type { Qos } from '../protocol/constants.js';

function tapOver(): { tap: ScheduleTap; staged: AnyNewRecord[] } {
  const staged: AnyNewRecord[] = [];
  const journal: RouterJournal = {
    stage: (recs, _live, done) => { staged.push(...recs); done(undefined, 0); },
    note: () => {},
    release: () => {},
  };
  return { tap: new ScheduleTap(journal), staged };
}

const accept = (id: number, qos: Qos): AnyNewRecord => ({ type: 'accept', id, from: SCHEDULER, to: 'svc', kind: 'tick', qos, body: new Uint8Array() });

test('a background firing parked behind an interactive one to the same agent keeps its own schedule and slot', () => {
  const { tap, staged } = tapOver();
  tap.expect('svc', { schedule: 'slow-bg', slot: 1000, seq: 1, qos: 'background' });
  tap.expect('svc', { schedule: 'urgent', slot: 2000, seq: 2, qos: 'interactive' });
  // The interactive one is admitted first, the parked background one after it.
  tap.stage([accept(10, 'interactive')], 1, () => {});
  tap.stage([accept(11, 'background')], 1, () => {});
  const named = staged.map((r) => (r.type === 'accept' ? [r.id, r.schedule, r.slot] : []));
  assert.deepEqual(named, [[10, 'urgent', 2000], [11, 'slow-bg', 1000]]);
});

test('a refused firing leaves its lane; the next one of that class takes the next accept', () => {
  const { tap, staged } = tapOver();
  tap.expect('svc', { schedule: 'a', slot: 1, seq: 1, qos: 'utility' });
  tap.expect('svc', { schedule: 'b', slot: 2, seq: 2, qos: 'utility' });
  assert.equal(tap.refused(1)?.schedule, 'a');
  assert.equal(tap.refused(1), undefined, 'only once');
  tap.stage([accept(5, 'utility')], 1, () => {});
  const r = staged[0]!;
  assert.ok(r.type === 'accept' && r.schedule === 'b' && r.slot === 2);
});
