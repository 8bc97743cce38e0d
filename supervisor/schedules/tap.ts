// The scheduler's view of the journal port. The router builds each accept record
// (it reads headers, and knows nothing of schedules); this tap, between the router
// and the journal, adds which schedule and which slot a firing is to the accept
// record of the scheduler's own send, so that one durable record is both the
// message and the proof that the slot fired. It also sees every ack and dead
// letter, which is how the scheduler learns that a firing was handled, and where
// each firing's record landed (marks.ts).
//
// Matching: the router keeps the order of one sender's sends to one target within
// a class (parked ones too; admission by class lets a higher class pass a parked
// lower one), so the scheduler's accepts to an agent arrive in the order it sent
// them per target and class; a send refused before staging never reaches the
// journal and is taken out of its queue by its seq.
import type { RouterJournal } from '../../logs/journal/port.js';
import type { AnyNewRecord } from '../../logs/journal/schema.js';
import type { FiredSlot } from '../../logs/journal/state.js';
import { SlotMarks } from './marks.js';
import { SCHEDULER } from './spec.js';
import type { Qos } from '../../protocol/constants.js';

export interface Firing { schedule: string; slot: number; seq: number; qos: Qos }

/** One queue per target and class: the order the router keeps. */
const lane = (to: string, qos: Qos): string => `${to}\0${qos}`;

export interface TapEvents {
  /** The firing's accept record is going into the journal as message `id`. */
  staged(f: Firing, id: number): void;
  /** Message `id` was acked or dead-lettered. */
  settled(id: number): void;
  /** Whether any firing is still owed: acks are looked at only then. */
  owing(): boolean;
}

export class ScheduleTap implements RouterJournal {
  private readonly waiting = new Map<string, Firing[]>();
  events: TapEvents | undefined;
  /** Each schedule's last fired slot and the segment proving it, for retention (marks.ts). */
  readonly marks = new SlotMarks();

  constructor(private readonly journal: RouterJournal) {}

  /** A firing about to be sent to `to`. */
  expect(to: string, f: Firing): void {
    const key = lane(to, f.qos);
    const q = this.waiting.get(key);
    if (q) q.push(f);
    else this.waiting.set(key, [f]);
  }

  /** Refused before it was staged: it will never have an accept record. */
  refused(seq: number): Firing | undefined {
    for (const [key, q] of this.waiting) {
      const i = q.findIndex((f) => f.seq === seq);
      if (i < 0) continue;
      const [f] = q.splice(i, 1);
      if (!q.length) this.waiting.delete(key);
      return f;
    }
    return undefined;
  }

  stage(recs: AnyNewRecord[], live: number, done: (err: Error | undefined, segment: number) => void): void {
    // The hot path: with no firing on its way, every group goes through untouched.
    if (!this.waiting.size) return this.journal.stage(recs, live, done);
    const fired: FiredSlot[] = [];
    const names: string[] = [];
    for (const r of recs) {
      if (r.type !== 'accept' || r.from !== SCHEDULER || r.redrive !== undefined) continue;
      const key = lane(r.to, r.qos);
      const q = this.waiting.get(key);
      const f = q?.shift();
      if (!f) continue; // a redrive of an old firing: a message, not a slot
      if (!q!.length) this.waiting.delete(key);
      r.schedule = f.schedule;
      r.slot = f.slot;
      // The time the writer would stamp (it stamps a group when it is handed over, as now), set here so that the mark keeps it.
      r.at = Date.now();
      fired.push({ slot: f.slot, at: r.at, id: r.id, to: r.to, segment: -1 });
      names.push(f.schedule);
      this.events?.staged(f, r.id);
    }
    if (!fired.length) return this.journal.stage(recs, live, done);
    this.journal.stage(recs, live, (err, segment) => {
      if (!err) fired.forEach((f, i) => this.marks.fired(names[i]!, { ...f, segment }));
      done(err, segment);
    });
  }

  note(rec: AnyNewRecord, lazy?: boolean): void {
    if (this.events?.owing()) {
      if (rec.type === 'ack') for (const id of rec.ids) this.events.settled(id);
      else if (rec.type === 'deadletter') this.events.settled(rec.id);
    }
    this.journal.note(rec, lazy);
  }

  release(segment: number): void {
    this.journal.release(segment);
  }
}
