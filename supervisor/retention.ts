// Journal retention, the supervisor's half (the journal's is logs/journal/journal.ts):
// which journal segments the live state still holds, and what in an old segment
// must be copied forward before it goes (also when the journal was lost under the
// supervisor and everything live is copied into the new one). Passes run on a
// timer and at start from here, and from the journal itself on a segment roll,
// on a write that would pass journal.max_size, and on a full disk.
import type { Journal } from '../logs/journal/journal.js';
import type { AnyNewRecord } from '../logs/journal/schema.js';
import type { Logger } from '../logs/logger.js';
import type { AgentSlot, AgentSlots } from './agent-slot.js';
import type { Envelope } from './mailbox.js';
import { acceptRecord, type Route } from './router/index.js';
import type { SlotMarks } from './schedules/marks.js';
import { SCHEDULER } from './schedules/spec.js';

/** A new checkpoint is durable (segment -1: there is no journal): it replaces the slot's, which no longer holds its segment. */
export function keepCheckpoint(slot: AgentSlot, state: Buffer, segment: number, journal: Journal | undefined): void {
  if (slot.checkpoint && slot.checkpoint.segment >= 0) journal?.release(slot.checkpoint.segment);
  slot.checkpoint = { state, segment };
}

export class Retention {
  private timer: NodeJS.Timeout | undefined;

  /**
   * `marks`: each schedule's last fired slot, carried forward with the segment that holds it (schedules/marks.ts).
   * `remote`: the routes of agents on other hosts, whose mailboxes hold what is owed to them.
   */
  constructor(private readonly journal: Journal, private readonly slots: AgentSlots, private readonly log: Logger, private readonly marks?: SlotMarks, private readonly remote: readonly Route[] = []) {
    journal.serve({ live: (segment) => this.liveIn(segment), marks: marks && ((segment) => marks.in(segment)) }, {
      lost: (loss) => {
        const what = { journal: journal.dir, reason: loss.reason, carriedMessages: loss.carried, carriedCheckpoints: loss.checkpoints };
        if (loss.error) {
          this.log.fatal({ ...what, err: loss.error }, 'JOURNAL LOST under the running supervisor and recreated, but what is owed could not be copied into it: it is still in memory and will be delivered, but a crash now loses it');
        } else {
          this.log.fatal(what, 'JOURNAL LOST under the running supervisor (removed or replaced): recreated, with everything still owed and the latest checkpoints copied from memory; the history before it is gone');
        }
      },
      reclaimed: (r) => this.log[r.why === 'roll' ? 'info' : 'warn']({ why: r.why, removedSegments: r.removed, bytesBefore: r.before, bytesAfter: r.after },
        r.why === 'nospace' ? 'journal: disk full, removed settled segments early to make room' : 'journal retention made room'),
      sweepFailed: (err) => this.log.error({ err: err.message }, 'journal retention failed'),
    });
  }

  /** A pass now (the journal may be over its bound from an earlier run), then at half of `retainMs`, within [1 s, 1 min]. */
  start(retainMs: number): void {
    void this.sweep();
    const every = Math.min(60_000, Math.max(1000, Math.floor(retainMs / 2)));
    this.timer = setInterval(() => void this.sweep(), every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One retention pass (see logs/journal/journal.ts); also run by tests. */
  async sweep(): Promise<void> {
    try {
      await this.journal.sweep();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'journal retention failed');
    }
  }

  /** What is still live in a journal segment, for retention to copy forward. */
  private liveIn(segment: number): { records: AnyNewRecord[]; moved(to: number): void } {
    const envs: Envelope[] = [];
    const records: AnyNewRecord[] = [];
    for (const route of [...[...this.slots].map((s) => s.route), ...this.remote]) {
      for (const e of route.mailbox.all()) {
        if (e.segment !== segment || e.done) continue;
        envs.push(e);
        const rec = acceptRecord(e, e.attempts);
        // A firing still owed says which slot it is, like the original (the router's record knows nothing of schedules).
        const firing = e.from === SCHEDULER ? this.marks?.firingOf(e.id) : undefined;
        if (firing) Object.assign(rec, firing);
        records.push(rec);
      }
    }
    const ckpts = [...this.slots].filter((s) => s.checkpoint?.segment === segment).map((s) => ({ slot: s, ckpt: s.checkpoint! }));
    for (const { slot, ckpt } of ckpts) records.push({ type: 'checkpoint', agent: slot.name, state: ckpt.state });
    return {
      records,
      moved: (to) => {
        for (const e of envs) {
          if (e.done) this.journal.release(to); // settled while being carried
          else e.segment = to;
        }
        for (const { slot, ckpt } of ckpts) {
          if (slot.checkpoint === ckpt) ckpt.segment = to;
          else this.journal.release(to); // superseded meanwhile
        }
      },
    };
  }
}
