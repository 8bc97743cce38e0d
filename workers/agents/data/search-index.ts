// The vault's full-text index (MiniSearch) over title, headings, body and tags,
// and the notes it was built from, kept for snippets and `list`.
import MiniSearch from 'minisearch';
import { snippetOf, type Note } from './note.js';

export interface Hit { path: string; title: string; score: number; snippet: string }

/**
 * Words, with the inner `-`, `_` and `/` that tags and dates carry kept as one
 * term and split into their parts as well: `#date-2026-12-02` is found by itself
 * and by `2026`, `project/alpha` by `alpha`. The same for notes and queries.
 */
const WORD = /[\p{L}\p{N}](?:[\p{L}\p{N}_/-]*[\p{L}\p{N}])?/gu;

export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const [word] of text.matchAll(WORD)) {
    out.push(word);
    if (/[_/-]/.test(word)) out.push(...word.split(/[_/-]+/).filter((p) => p !== ''));
  }
  return out;
}

const FIELDS = ['title', 'headings', 'body', 'tags'] as const;

export class NoteIndex {
  private readonly notes = new Map<string, Note>();
  private readonly search_ = new MiniSearch<{ path: string; title: string; headings: string; body: string; tags: string }>({
    idField: 'path',
    fields: [...FIELDS],
    storeFields: [],
    tokenize,
    searchOptions: {
      tokenize,
      boost: { title: 3, tags: 2, headings: 2 },
      // A word being typed still finds; a typo in a long word too.
      prefix: (term) => term.length >= 3,
      fuzzy: (term) => (term.length >= 6 ? 0.15 : false),
    },
  });

  get size(): number {
    return this.notes.size;
  }

  get(path: string): Note | undefined {
    return this.notes.get(path);
  }

  paths(): IterableIterator<string> {
    return this.notes.keys();
  }

  /** Add or replace a note. */
  put(note: Note): void {
    if (this.notes.has(note.path)) this.search_.discard(note.path);
    this.notes.set(note.path, note);
    this.search_.add({ path: note.path, title: note.title, headings: note.headings.join('\n'), body: note.body, tags: note.tags.join(' ') });
  }

  remove(path: string): boolean {
    if (!this.notes.delete(path)) return false;
    this.search_.discard(path);
    return true;
  }

  search(q: string, limit: number): Hit[] {
    return this.search_.search(q).slice(0, limit).map((r) => {
      const note = this.notes.get(r.id as string)!;
      return { path: note.path, title: note.title, score: r.score, snippet: snippetOf(note.body, r.terms) };
    });
  }

  /** Every note at or under the directory `under` ('' for all), by path. */
  list(under: string): Note[] {
    const prefix = under ? `${under}/` : '';
    return [...this.notes.values()].filter((n) => n.path.startsWith(prefix)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}
