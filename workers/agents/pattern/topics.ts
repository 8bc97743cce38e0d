// Recurring topics and tags, counted without a model: a tag's count is the number
// of notes that carry it; a topic is a word that recurs across notes (counted once
// per note, so one long note does not make its pet word a topic).
import type { Note } from '../agenda/vault.js';

export interface Count { name: string; notes: number }

/** Agenda markers (#date-, #time-) are scheduling, not subject matter. */
const MARKER_TAG = /^(date|time)-/;

export function tagCounts(notes: Note[], top = 15): Count[] {
  const counts = new Map<string, number>();
  for (const n of notes) {
    const tags = new Set([...n.tags, ...inlineTags(n.text)].map((t) => t.replace(/^#/, '').toLowerCase()).filter((t) => t && !MARKER_TAG.test(t)));
    for (const t of tags) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  return ranked(counts, top, 1);
}

/** Topics: words in at least two notes, most notes first. */
export function topicCounts(notes: Note[], top = 15): Count[] {
  const counts = new Map<string, number>();
  // Title and text apart: the text's frontmatter is only recognised at its very start.
  for (const n of notes) for (const w of new Set([...words(n.title), ...words(n.text)])) counts.set(w, (counts.get(w) ?? 0) + 1);
  return ranked(counts, top, 2);
}

function ranked(counts: Map<string, number>, top: number, min: number): Count[] {
  return [...counts].filter(([, c]) => c >= min)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, top)
    .map(([name, notes]) => ({ name, notes }));
}

/** `#tag` words in prose (data's tags may come from the frontmatter only). */
export function inlineTags(text: string): string[] {
  return [...prose(text).matchAll(/(?<![\w#&/])#([\p{L}\p{N}][\p{L}\p{N}_/-]*)/gu)].map((m) => m[1]!);
}

/** Lowercase words of four letters or more, without tags, links' targets, code or stop words. */
export function words(text: string): string[] {
  return prose(text)
    .replace(/(?<![\w&])#[\p{L}\p{N}_/-]+/gu, ' ')
    .replace(/\]\([^)]*\)|https?:\/\/\S+/g, ' ')
    .toLowerCase()
    .split(/[^\p{L}\p{N}'-]+/u)
    .map((w) => w.replace(/^['-]+|['-]+$/g, ''))
    .filter((w) => w.length >= 4 && !/^\d/.test(w) && !STOP.has(w));
}

/** The text without frontmatter and fenced code. */
function prose(text: string): string {
  return text.replace(/^---\n[\s\S]*?\n(---|\.\.\.)\s*(\n|$)/, '').replace(/^(```|~~~)[\s\S]*?^\1.*$/gm, ' ');
}

export const STOP = new Set(`
about above after again against also although always among another anything around because been before being below
between both could didn does doing done down during each either else enough even ever every from further have having
here hers herself himself however into itself just know like made make many might more most much must myself need
never next none nothing often once only other ought ours ourselves over same shall should since some something still
such than that their theirs them themselves then there these they thing things this those though through thus till
today tomorrow together under until upon very want was were what whatever when where whether which while whom whose
will with within without would your yours yourself yourselves week note notes todo done yesterday
`.split(/\s+/).filter(Boolean));
