// The insights page: plain Markdown a person reads in their editor. Deterministic
// sections first; the model's summary, when there is one, on top and marked as the
// model's, so a reader can tell counted facts from generated prose.
import type { Asked } from './asked.js';
import type { StaleItem } from './stale.js';
import type { Count } from './topics.js';

export interface Facts {
  date: string;
  notes: number;
  tags: Count[];
  topics: Count[];
  stale: StaleItem[];
  staleDays: number;
  asked: Asked[];
  cited: { path: string; times: number }[];
  conversations: number;
}

export function renderInsights(f: Facts, summary?: string): string {
  const out = [`# Insights ${f.date}`, '', `Written by the pattern agent from ${f.notes} notes and ${f.conversations} conversations.`, ''];
  if (summary) out.push('## Summary', '', '_Written by the model from the counts below._', '', summary.trim(), '');
  out.push(...factsMarkdown(f));
  return out.join('\n');
}

/** The counted sections alone: also what the model is shown to summarise. */
export function factsMarkdown(f: Facts): string[] {
  const out: string[] = [];
  out.push('## Recurring tags', '', ...list(f.tags.map((t) => `\`${t.name}\`: ${t.notes} ${plural(t.notes, 'note')}`), 'No tags yet.'), '');
  out.push('## Recurring topics', '', ...list(f.topics.map((t) => `${t.name}: ${t.notes} notes`), 'No word recurs across notes yet.'), '');
  out.push(`## Open items untouched for ${f.staleDays}+ days`, '',
    ...list(f.stale.map((s) => `${s.text} (${link(s.path)}, ${s.days} days)`), 'None.'), '');
  out.push('## Asked most', '', ...list(f.asked.map((a) => `${quote(a.question)}: ${a.times} ${plural(a.times, 'time')}`), 'Nothing asked yet.'), '');
  if (f.cited.length) out.push('## Notes answers drew on', '', ...list(f.cited.map((c) => `${link(c.path)}: ${c.times} ${plural(c.times, 'answer')}`), ''), '');
  return out;
}

const list = (lines: string[], empty: string) => (lines.length ? lines.map((l) => `- ${l}`) : [empty]);
const plural = (n: number, w: string) => (n === 1 ? w : `${w}s`);
/** Links from insights/ to a note elsewhere in the vault. */
const link = (path: string) => `[${path.replace(/([[\]])/g, '\\$1')}](../${encodeURI(path)})`;
/** A question is the user's text: shown as a quote, never as a tag or a link of the page. */
const quote = (q: string) => `“${q.replace(/([#[\]`])/g, '\\$1')}”`;
