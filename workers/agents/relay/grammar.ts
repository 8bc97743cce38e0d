// The relay without a model: a small grammar, tried in order.
//   search <words>           full-text search of the vault
//   note: <text>             save a note in the inbox folder
//   agenda / today / ...     the day's agenda ("what is on my agenda today?",
//                            "agenda tomorrow", "agenda 2026-12-24")
//   anything else            a search for its keywords: the top hits, titled, with snippets
import { addDays, isRealDate } from '../agenda/time.js';
import { STOP } from '../pattern/topics.js';

export type Command =
  | { kind: 'search'; q: string }
  | { kind: 'note'; text: string }
  | { kind: 'agenda'; date?: string }
  | { kind: 'fallback'; q: string };

const AGENDA_WORDS = /\b(agenda|today|today's|todays|tomorrow|tomorrow's|schedule|scheduled|calendar|appointments?)\b/i;

/** `today` is the caller's local date: "tomorrow" and the like are relative to it. */
export function parseCommand(input: string, today: string): Command {
  const text = input.trim();
  const search = /^(?:search|find|grep)\b[:\s]*(.*)$/is.exec(text);
  if (search) return search[1]!.trim() ? { kind: 'search', q: search[1]!.trim() } : { kind: 'fallback', q: '' };
  const note = /^note\s*:\s*([\s\S]*)$/i.exec(text);
  if (note) return { kind: 'note', text: note[1]!.trim() };
  if (AGENDA_WORDS.test(text)) {
    const date = /\b(\d{4}-\d{2}-\d{2})\b/.exec(text)?.[1];
    if (date && isRealDate(date)) return { kind: 'agenda', date };
    if (/\btomorrow/i.test(text)) return { kind: 'agenda', date: addDays(today, 1) };
    if (/\byesterday\b/i.test(text)) return { kind: 'agenda', date: addDays(today, -1) };
    return { kind: 'agenda' };
  }
  return { kind: 'fallback', q: keywords(text).join(' ') };
}

const QUESTION_WORDS = new Set(['what', 'when', 'where', 'which', 'who', 'whom', 'why', 'how', 'tell', 'show', 'give', 'find', 'please', 'does', 'have', 'there', 'about', 'know', 'anything', 'something']);

/** The words worth searching for: no question words, no stop words, no one-letter fragments. */
export function keywords(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.toLowerCase().split(/[^\p{L}\p{N}#_-]+/u)) {
    const w = raw.replace(/^[-_]+|[-_]+$/g, '');
    if (w.length < 2 || STOP.has(w) || QUESTION_WORDS.has(w) || SHORT_STOP.has(w) || out.includes(w)) continue;
    out.push(w);
  }
  return out;
}

const SHORT_STOP = new Set(['a', 'an', 'the', 'is', 'are', 'am', 'be', 'do', 'did', 'i', 'me', 'my', 'we', 'us', 'our', 'you', 'it', 'its', 'of', 'in', 'on', 'at', 'to', 'for', 'and', 'or', 'not', 'no', 'so', 'by', 'as', 'if', 'any', 'all', 'can', 'has', 'had', 'was', 'with', 'from', 'that', 'this', 'what']);
