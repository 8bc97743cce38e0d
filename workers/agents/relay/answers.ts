// Answers without a model: each grammar command (grammar.ts) answered from the vault
// through the agents that own it. Deterministic, so the same vault gives the same answer.
import type { AskRes, SearchRes, TodayRes } from '../messages.js';
import type { Vault } from '../agenda/vault.js';
import { longDate } from '../agenda/time.js';
import { keywords, type Command } from './grammar.js';

export interface Deps {
  vault: Vault;
  agendaToday(date?: string): Promise<TodayRes>;
  /** Saves a new note in the inbox; resolves with its path. */
  saveNote(text: string, title?: string): Promise<string>;
}

type Hit = SearchRes['hits'][number];

export const HELP = 'Ask me "search <words>", "agenda" (or "today", "agenda tomorrow"), "note: <text>", or just a question and I will look in the vault.';

export async function answerWithoutModel(cmd: Command, deps: Deps): Promise<AskRes> {
  switch (cmd.kind) {
    case 'search': {
      const hits = await deps.vault.search(cmd.q, 5);
      if (!hits.length) return { text: `Nothing in the vault matches "${cmd.q}".`, sources: [] };
      return { text: `Found ${hits.length} ${hits.length === 1 ? 'note' : 'notes'} for "${cmd.q}":\n${hitLines(hits)}`, sources: hits.map((h) => h.path) };
    }
    case 'note': {
      if (!cmd.text) return { text: 'Nothing to save: write "note: <text>".', sources: [] };
      const path = await deps.saveNote(cmd.text);
      return { text: `Saved to ${path}.`, sources: [path] };
    }
    case 'agenda': {
      const day = await deps.agendaToday(cmd.date);
      return { text: agendaText(day), sources: unique(day.items.map((i) => i.path)) };
    }
    case 'fallback': {
      if (!cmd.q) return { text: HELP, sources: [] };
      const hits = (await searchLoosely(deps.vault, cmd.q)).slice(0, 3);
      if (!hits.length) return { text: `I found nothing in the vault about "${cmd.q}". ${HELP}`, sources: [] };
      return { text: `Without a model I can only search. The vault has this on "${cmd.q}":\n${hitLines(hits)}`, sources: hits.map((h) => h.path) };
    }
  }
}

/**
 * All keywords at once first; when that finds nothing (a search that wants every
 * term), each keyword alone, merged by best score: a question's words rarely all
 * stand in one note.
 */
export async function searchLoosely(vault: Vault, q: string): Promise<Hit[]> {
  const hits = await vault.search(q, 5);
  const words = keywords(q);
  if (hits.length || words.length < 2) return hits;
  const best = new Map<string, Hit>();
  for (const w of words.slice(0, 6)) {
    for (const h of await vault.search(w, 5)) if ((best.get(h.path)?.score ?? -Infinity) < h.score) best.set(h.path, h);
  }
  return [...best.values()].sort((a, b) => b.score - a.score);
}

export function agendaText(day: TodayRes): string {
  const head = `${longDate(day.date)} (${day.date})`;
  if (!day.items.length) return `Nothing on the agenda for ${head}.`;
  return `On ${head}:\n${day.items.map((i) => `- ${i.time ? `${i.time} ` : ''}${i.text} (${i.path})`).join('\n')}`;
}

const hitLines = (hits: Hit[]) => hits.map((h) => `- ${h.title} (${h.path})${h.snippet ? `: ${oneLine(h.snippet)}` : ''}`).join('\n');
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim().slice(0, 240);
const unique = (xs: string[]) => [...new Set(xs)];
