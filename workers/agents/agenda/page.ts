// Agenda.md: the upcoming days, each with its items. It is derived, so it carries
// no date tags of its own (the agenda never reads it back as a source) and no
// timestamp (an unchanged agenda renders to the same bytes, and is not rewritten).
import type { DatedItem } from './items.js';
import { sortItems } from './items.js';
import { addDays, longDate } from './time.js';

export function renderAgenda(items: DatedItem[], from: string, days: number): string {
  const until = addDays(from, days - 1);
  const upcoming = sortItems(items.filter((i) => i.date >= from && i.date <= until));
  const out = [
    '# Agenda',
    '',
    `Upcoming items from ${from} to ${until}, gathered from the \`#date-YYYY-MM-DD\` tags in the vault.`,
    'The agenda agent rewrites this page; edit the notes the items link to instead.',
    '',
  ];
  if (!upcoming.length) out.push('Nothing is planned.', '');
  let day = '';
  for (const item of upcoming) {
    if (item.date !== day) {
      day = item.date;
      out.push(`## ${longDate(day)} (${day})`, '');
    }
    out.push(`- ${item.time ? `${item.time} ` : ''}${escapeText(item.text)} ([${escapeText(item.path)}](${encodeURI(item.path)}))`);
    if (upcoming[upcoming.indexOf(item) + 1]?.date !== day) out.push('');
  }
  return out.join('\n');
}

/** A line of the page never becomes a tag or a link by accident: `#` and brackets are escaped. */
const escapeText = (s: string) => s.replace(/([#[\]])/g, '\\$1');
