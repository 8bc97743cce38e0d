// Stale open items: `- [ ]` tasks in notes nobody has touched for a while. The
// note's mtime stands for the task's age: a task has no date of its own, and a note
// someone is working in is not where forgotten tasks are.
import { mtimeMs, type Note } from '../agenda/vault.js';

export interface StaleItem { text: string; path: string; line: number; days: number }

const OPEN_TASK = /^\s*(?:[-*+]|\d+[.)])\s+\[ \]\s+(.+)$/;
const DAY = 86_400_000;

export function staleItems(notes: Note[], now: number, olderThanDays: number): StaleItem[] {
  const out: StaleItem[] = [];
  for (const n of notes) {
    const days = Math.floor((now - mtimeMs(n.mtime)) / DAY);
    if (days < olderThanDays) continue;
    n.text.split(/\r?\n/).forEach((l, i) => {
      const m = OPEN_TASK.exec(l);
      if (m) out.push({ text: m[1]!.trim(), path: n.path, line: i + 1, days });
    });
  }
  return out.sort((a, b) => b.days - a.days || a.path.localeCompare(b.path) || a.line - b.line);
}
