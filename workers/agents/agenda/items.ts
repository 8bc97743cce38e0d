// Dated items in a note's text. A line that carries `#date-YYYY-MM-DD` is an item
// on that day (on each day, if it carries several); `#time-HH:MM` on the same line
// gives its time. The item's text is the line without those tags and without its
// list, task or heading marker; other tags stay, they are part of what the line says.
// Code blocks and the frontmatter are not prose, so their lines are not items.
import { isRealDate } from './time.js';

export interface DatedItem {
  date: string;
  time?: string;
  text: string;
  path: string;
  /** 1-based line in the note, for a stable order within a day. */
  line: number;
}

const DATE_TAG = /(?<![\w#])#date-(\d{4}-\d{2}-\d{2})(?![\w-])/g;
const TIME_TAG = /(?<![\w#])#time-(\d{2}:\d{2})(?![\w:])/g;
const MARKER = /^\s*(?:#{1,6}\s+|>\s*)?(?:(?:[-*+]|\d+[.)])\s+)?(?:\[[ xX]\]\s+)?/;
const FENCE = /^\s*(```|~~~)/;
const VALID_TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

/** Every dated item in `text`, the note at `path`. */
export function itemsIn(path: string, text: string): DatedItem[] {
  const out: DatedItem[] = [];
  const lines = text.split(/\r?\n/);
  let i = frontmatterEnd(lines);
  let fence: string | undefined;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    const f = FENCE.exec(line)?.[1];
    if (f && (fence === undefined || fence === f)) {
      fence = fence === undefined ? f : undefined;
      continue;
    }
    if (fence !== undefined || !line.includes('#date-')) continue;
    const dates = [...line.matchAll(DATE_TAG)].map((m) => m[1]!).filter(isRealDate);
    if (!dates.length) continue;
    const time = [...line.matchAll(TIME_TAG)].map((m) => m[1]!).find((t) => VALID_TIME.test(t));
    const text = itemText(line) || path.replace(/^.*\//, '').replace(/\.md$/i, '');
    for (const date of new Set(dates)) out.push({ date, ...(time ? { time } : {}), text, path, line: i + 1 });
  }
  return out;
}

/** The line as a reader would say it: no date/time tags, no list marker, single spaces. */
export function itemText(line: string): string {
  return line.replace(DATE_TAG, ' ').replace(TIME_TAG, ' ').replace(MARKER, '').replace(/\s+/g, ' ').trim();
}

/** The first line after a leading `---` ... `---` block (0 when there is none). */
function frontmatterEnd(lines: string[]): number {
  if (lines[0]?.trim() !== '---') return 0;
  for (let i = 1; i < lines.length; i++) if (/^(---|\.\.\.)\s*$/.test(lines[i]!)) return i + 1;
  return 0;
}

/** A day's items: all-day ones first (they frame the day), then by time, then as they appear. */
export function sortItems(items: DatedItem[]): DatedItem[] {
  return [...items].sort((a, b) =>
    a.date.localeCompare(b.date) ||
    (a.time ?? '').localeCompare(b.time ?? '') ||
    a.path.localeCompare(b.path) ||
    a.line - b.line);
}
