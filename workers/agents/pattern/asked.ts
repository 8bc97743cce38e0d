// What was asked most, from the relay's conversation log: JSONL files (one object
// a line: time, question, answer, sources) in a directory the relay owns and this
// agent may only read (`unveil: {<log dir>: r}`). Questions are counted after
// normalising case, spacing and punctuation, so "What's on today?" and "what's on
// today" are one question.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Exchange { time: string; question: string; answer?: string; sources?: string[] }
export interface Asked { question: string; times: number }

/** Every exchange in `dir`'s *.jsonl files; lines that are not an exchange are skipped, not fatal. */
export async function readConversations(dir: string): Promise<Exchange[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.jsonl')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []; // the relay has not talked yet
    throw err;
  }
  const out: Exchange[] = [];
  for (const f of files) out.push(...parseLog(await readFile(join(dir, f), 'utf8')));
  return out;
}

export function parseLog(text: string): Exchange[] {
  const out: Exchange[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as Partial<Exchange>;
      if (typeof e.question === 'string' && e.question.trim()) {
        out.push({ time: String(e.time ?? ''), question: e.question, ...(Array.isArray(e.sources) ? { sources: e.sources.filter((s) => typeof s === 'string') } : {}) });
      }
    } catch {
      // a torn last line (the relay was writing): the rest of the log still counts
    }
  }
  return out;
}

export const normalise = (q: string): string => q.toLowerCase().replace(/[^\p{L}\p{N}\s'-]+/gu, ' ').replace(/\s+/g, ' ').trim();

/** The most asked questions, each shown as it was first asked. */
export function mostAsked(log: Exchange[], top = 10): Asked[] {
  const counts = new Map<string, Asked>();
  for (const e of log) {
    const key = normalise(e.question);
    if (!key) continue;
    const have = counts.get(key);
    if (have) have.times++;
    else counts.set(key, { question: e.question.replace(/\s+/g, ' ').trim(), times: 1 });
  }
  return [...counts.values()].sort((a, b) => b.times - a.times || a.question.localeCompare(b.question)).slice(0, top);
}

/** The notes answers drew on most. */
export function mostCited(log: Exchange[], top = 10): { path: string; times: number }[] {
  const counts = new Map<string, number>();
  for (const e of log) for (const s of new Set(e.sources ?? [])) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, top).map(([path, times]) => ({ path, times }));
}
