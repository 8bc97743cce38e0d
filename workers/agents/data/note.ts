// One Markdown note as the index and the replies see it: its frontmatter (parsed
// by gray-matter, never by hand), title, headings, body and tags. 11ty's fork of
// gray-matter: maintained, on js-yaml 5, and it refuses `---js` frontmatter that
// the original evaluates, which in a vault anyone can write to would be code.
import matter from '@11ty/gray-matter';

export interface Note {
  /** Vault-relative, `/`-separated. */
  path: string;
  title: string;
  headings: string[];
  /** The text after the frontmatter. */
  body: string;
  /** Without the `#`, as written, each once: frontmatter `tags:` first, then `#tag`s in the text. */
  tags: string[];
  frontmatter: Record<string, unknown>;
  mtime: number;
  size: number;
}

/**
 * `#tag` where a word starts: a letter, digit or `_` right after the `#`, so a
 * heading's `# ` and a URL's fragment (`page#part`) are not tags. Inner `-` and `/`
 * belong to it (`#date-2026-12-02`, `#project/alpha`).
 */
const TAG = /(?<![\p{L}\p{N}_&#/])#([\p{L}\p{N}_](?:[\p{L}\p{N}_/-]*[\p{L}\p{N}_])?)/gu;
const HEADING = /^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$/gm;
/** Fenced code is not prose: a `#include` in it is no tag, a `# comment` no heading. */
const FENCE = /^ {0,3}(```|~~~)[^\n]*\n[\s\S]*?(?:^ {0,3}\1[^\n]*$|(?![\s\S]))/gm;

function frontmatterOf(text: string): { data: Record<string, unknown>; body: string } {
  try {
    // Options given: gray-matter then keeps no cache of every text it has parsed.
    const parsed = matter(text, {});
    const data = parsed.data !== null && typeof parsed.data === 'object' && !Array.isArray(parsed.data) ? (parsed.data as Record<string, unknown>) : {};
    return { data, body: parsed.content };
  } catch {
    // Frontmatter a person got wrong: the note is still a note, read as text.
    return { data: {}, body: text };
  }
}

/** `tags: [a, b]`, `tags: a, b`, `tags: "#a #b"`: every shape people write. */
function frontmatterTags(value: unknown): string[] {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,]+/) : [];
  return items.filter((t): t is string | number => typeof t === 'string' || typeof t === 'number')
    .map((t) => String(t).trim().replace(/^["']|["']$/g, '').replace(/^#/, '')).filter((t) => t !== '');
}

const stem = (path: string): string => path.slice(path.lastIndexOf('/') + 1).replace(/\.md$/i, '');

export function parseNote(path: string, text: string, mtime: number, size: number): Note {
  const { data, body } = frontmatterOf(text);
  const prose = body.replace(FENCE, '');
  const headings: string[] = [];
  let firstH1: string | undefined;
  for (const m of prose.matchAll(HEADING)) {
    headings.push(m[2]!);
    if (m[1] === '#' && firstH1 === undefined) firstH1 = m[2];
  }
  const tags = [...new Set([...frontmatterTags(data.tags ?? data.tag), ...[...prose.matchAll(TAG)].map((m) => m[1]!)])];
  const fmTitle = typeof data.title === 'string' && data.title.trim() ? data.title.trim() : undefined;
  return { path, title: fmTitle ?? firstH1 ?? stem(path), headings, body, tags, frontmatter: data, mtime, size };
}

/**
 * A short window of the body around the first place one of `terms` occurs (case
 * folded), cut at word boundaries; the body's start when none occurs in it (the
 * match was in the title or the tags).
 */
export function snippetOf(body: string, terms: readonly string[], width = 160): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  const lower = flat.toLowerCase();
  let at = -1;
  for (const t of terms) {
    const i = lower.indexOf(t.toLowerCase());
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  if (flat.length <= width) return flat;
  let start = at < 0 ? 0 : Math.max(0, at - Math.floor(width / 3));
  let end = Math.min(flat.length, start + width);
  start = Math.max(0, end - width);
  if (start > 0) start = flat.indexOf(' ', start) + 1 || start;
  if (end < flat.length) end = flat.lastIndexOf(' ', end) > start ? flat.lastIndexOf(' ', end) : end;
  return `${start > 0 ? '…' : ''}${flat.slice(start, end)}${end < flat.length ? '…' : ''}`;
}
