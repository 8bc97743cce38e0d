// A point in the journal as an operator writes it, for `journal --since` and
// `replay --until`: a seq, a date/time, a time of day, or a duration ago.
import type { JournalPoint } from '../logs/journal/query.js';
import { tryParseDuration } from '../protocol/units.js';
import { UsageError } from './errors.js';

const SEQ = /^\d+$/;
const TIME_OF_DAY = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;

export const POINT_FORMS = 'a seq (1042), a date and time (2024-05-01T12:03:04, local unless it ends in Z or an offset), a time of day (12:03, 12:03:04.120; the last such time, today or yesterday) or a duration ago (30s, 10m, 2h)';

/** `flag` names the option in the error; `now` is the clock for "ago" and "today". */
export function parsePoint(flag: string, text: string, now: number): JournalPoint {
  const s = text.trim();
  if (SEQ.test(s)) {
    const seq = Number(s);
    if (Number.isSafeInteger(seq)) return { seq };
  }
  const ago = tryParseDuration(s);
  if (ago.ok) return { time: now - ago.value };
  const tod = TIME_OF_DAY.exec(s);
  if (tod) {
    const [h, m, sec, ms] = [tod[1], tod[2], tod[3] ?? '0', (tod[4] ?? '0').padEnd(3, '0')].map(Number) as [number, number, number, number];
    if (h < 24 && m < 60 && sec < 60) {
      const d = new Date(now);
      d.setHours(h, m, sec, ms);
      // Times of day are what `journal` prints; one later than now was yesterday's.
      if (d.getTime() > now) d.setDate(d.getDate() - 1);
      return { time: d.getTime() };
    }
  }
  // Date.parse also takes looser forms; a bare number was a seq above, so this is a date.
  const t = Date.parse(s);
  if (s !== '' && Number.isFinite(t)) return { time: t };
  throw new UsageError(`${flag} expects ${POINT_FORMS}; got ${JSON.stringify(text)}`);
}
