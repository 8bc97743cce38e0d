// When a schedule's slots fall. A slot is an instant (ms since the epoch) that
// names one firing: the journal records it, and no slot at or before the last
// one recorded fires again. `every` slots are multiples of the interval since the
// epoch, so that they are the same instants across restarts (a restart must not
// shift them); cron slots come from croner (a well-kept parser with time zones
// and the optional seconds field), never from hand-written field arithmetic.
import { Cron } from 'croner';

export type SlotSpec = { cron: string; tz?: string | undefined } | { every: number };

export interface Clock {
  /** The first slot strictly after `after`; null when there is none (a cron that never matches again). */
  next(after: number): number | null;
  /** The latest slot at or before `at`, if there is one after `since`. */
  latest(since: number, at: number): number | null;
}

/** Five fields, or six with seconds first; the @-nicknames (@hourly) too. Not a date: croner takes ISO dates as one-shot patterns. */
const CRON_FIELDS = /^(?:@[a-z]+|\S+(?:\s+\S+){4,5})$/;

/** Parse a cron expression; throws an Error whose message says what is wrong. */
export function cronOf(expr: string, tz?: string): Cron {
  const text = expr.trim();
  if (!CRON_FIELDS.test(text)) throw new Error(`expected 5 fields (minute hour day month weekday) or 6 (seconds first), got ${JSON.stringify(expr)}`);
  const cron = new Cron(text, { paused: true, mode: '5-or-6-parts', ...(tz !== undefined ? { timezone: tz } : {}) });
  // An unknown time zone only shows when a date is converted; asked here, it is refused at validation, not at the first fire.
  cron.nextRun(new Date());
  return cron;
}

export function clockOf(spec: SlotSpec): Clock {
  if ('every' in spec) {
    const p = spec.every;
    return {
      next: (after) => (Math.floor(after / p) + 1) * p,
      latest: (since, at) => {
        const slot = Math.floor(at / p) * p;
        return slot > since ? slot : null;
      },
    };
  }
  const cron = cronOf(spec.cron, spec.tz);
  return {
    next: (after) => cron.nextRun(new Date(after))?.getTime() ?? null,
    latest: (since, at) => {
      // previousRuns counts back from just past `at`, so a slot exactly at `at` is included.
      const [prev] = cron.previousRuns(1, new Date(at + 1));
      const slot = prev?.getTime();
      return slot !== undefined && slot > since ? slot : null;
    },
  };
}
