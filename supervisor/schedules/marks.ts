// Each schedule's last fired slot, where the journal holds its proof: the segment of
// the firing's accept record, or of the `fired` mark carried forward after it. A
// schedule may fire less often than `journal.retain` keeps segments; when retention
// removes the segment holding the proof, the mark goes forward with the segment's
// live records (logs/journal/journal.ts, Carrier.marks), so that a restart still
// knows the slot fired: no slot twice, and catch_up still sees what was missed.
// Every schedule the journal knows is kept, also one a reload removed: if it comes
// back, its slots must not fire again either.
import type { FiredSlot } from '../../logs/journal/state.js';
import type { AnyNewRecord, NewRecordOf } from '../../logs/journal/schema.js';

export class SlotMarks {
  private readonly marks = new Map<string, FiredSlot>();

  /** What the journal recorded, at start. */
  seed(slots: ReadonlyMap<string, FiredSlot>): void {
    for (const [name, f] of slots) this.fired(name, f);
  }

  /** A firing's accept record is durable in `f.segment` (never moves a schedule back to an earlier slot). */
  fired(schedule: string, f: FiredSlot): void {
    const last = this.marks.get(schedule);
    if (!last || f.slot > last.slot) this.marks.set(schedule, { ...f });
  }

  /** All of them, by schedule (the live state's view, snapshot.ts). */
  get all(): ReadonlyMap<string, FiredSlot> {
    return this.marks;
  }

  /** The schedule and slot of message `id`, if it is a schedule's last firing: for a carried copy of its accept record. */
  firingOf(id: number): { schedule: string; slot: number } | undefined {
    for (const [schedule, f] of this.marks) if (f.id === id) return { schedule, slot: f.slot };
    return undefined;
  }

  /** The marks in `segment` (undefined: all of them) as records to carry forward, and where they landed. */
  in(segment: number | undefined): { records: AnyNewRecord[]; moved(to: number): void } {
    const carried = [...this.marks].filter(([, f]) => segment === undefined || f.segment === segment);
    const records = carried.map(([schedule, f]): NewRecordOf<'fired'> => {
      const r: NewRecordOf<'fired'> = { type: 'fired', schedule, slot: f.slot, id: f.id, to: f.to, firedAt: f.at };
      if (f.segment >= 0) r.carried = f.segment;
      return r;
    });
    return {
      records,
      moved: (to) => {
        // A schedule that fired meanwhile has its proof where that firing went.
        for (const [schedule, f] of carried) if (this.marks.get(schedule) === f) f.segment = to;
      },
    };
  }
}
