// Journal retention, the supervisor's half (the journal's is logs/journal/journal.ts):
// which journal segments the live state still holds, and what in an old segment
// must be copied forward before it goes.
import type { Journal } from '../logs/journal/journal.js';
import type { AnyNewRecord } from '../logs/journal/schema.js';
import type { Logger } from '../logs/logger.js';
import type { AgentSlot, AgentSlots } from './agent-slot.js';
import type { Envelope } from './mailbox.js';
import { acceptRecord } from './router/index.js';

/** A new checkpoint is durable (segment -1: there is no journal): it replaces the slot's, which no longer holds its segment. */
export function keepCheckpoint(slot: AgentSlot, state: Buffer, segment: number, journal: Journal | undefined): void {
  if (slot.checkpoint && slot.checkpoint.segment >= 0) journal?.release(slot.checkpoint.segment);
  slot.checkpoint = { state, segment };
}

export class Retention {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly journal: Journal, private readonly slots: AgentSlots, private readonly log: Logger) {}

  /** Passes at half of `retainMs`, within [1 s, 1 min]. */
  start(retainMs: number): void {
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
      await this.journal.sweep({ live: (segment) => this.liveIn(segment) });
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'journal retention failed');
    }
  }

  /** What is still live in a journal segment, for retention to copy forward. */
  private liveIn(segment: number): { records: AnyNewRecord[]; moved(to: number): void } {
    const envs: Envelope[] = [];
    const records: AnyNewRecord[] = [];
    for (const slot of this.slots) {
      for (const e of slot.route.mailbox.all()) {
        if (e.segment !== segment || e.done) continue;
        envs.push(e);
        records.push(acceptRecord(e, e.attempts));
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
