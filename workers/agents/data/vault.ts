// The vault: its notes on disk and the index over them, kept in step. Every
// caller's path goes through paths.ts first; every change on disk (ours or a
// person's) ends in `refresh`, which re-reads what changed and drops what went.
import { lstatSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { agentError, type ListRes, type ReadRes, type WriteRes } from '../messages.js';
import { writeAtomic } from './atomic.js';
import { parseNote } from './note.js';
import { cleanPath, isHidden, notePath, NOTE_EXT, realPathIn } from './paths.js';
import { notesUnder } from './scan.js';
import { NoteIndex, type Hit } from './search-index.js';

export class Vault {
  readonly index = new NoteIndex();

  /** `root` is the vault's real path (paths.ts vaultRoot). */
  constructor(readonly root: string) {}

  /** Index one note from disk (unless it is unchanged), or drop it when it is gone or no note. */
  private load(rel: string, st?: Stats): void {
    const file = join(this.root, rel);
    const stat = st ?? this.plainStat(rel);
    if (!stat?.isFile()) {
      this.index.remove(rel);
      return;
    }
    const had = this.index.get(rel);
    if (had && had.mtime === stat.mtimeMs && had.size === stat.size) return;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      this.index.remove(rel); // gone between the stat and the read; its own event follows
      return;
    }
    this.index.put(parseNote(rel, text, stat.mtimeMs, stat.size));
  }

  /**
   * Bring the index in line with the disk at or below `rel` (a note or a directory,
   * '' for the whole vault): what the watcher reports, and the rescan after a
   * watcher error. Only plain paths inside the vault, never through a symlink.
   */
  refresh(rel = ''): void {
    const parts = rel.split('/').filter((p) => p !== '');
    if (parts.some((p) => p === '..' || isHidden(p))) return;
    rel = parts.join('/');
    const st = this.plainStat(rel);
    if (st?.isFile()) {
      if (rel.endsWith(NOTE_EXT)) this.load(rel, st);
      return;
    }
    // A directory (scanned), or nothing (what was at or under it is gone).
    const seen = new Set<string>();
    if (st?.isDirectory()) {
      for (const { rel: r, st: s } of notesUnder(this.root, rel)) {
        seen.add(r);
        this.load(r, s);
      }
    }
    const prefix = rel ? `${rel}/` : '';
    for (const p of [...this.index.paths()]) if ((p === rel || p.startsWith(prefix)) && !seen.has(p)) this.index.remove(p);
  }

  /**
   * The stat of what is at `rel` when it is reached without a symlink, else
   * undefined: a linked note or directory could lead out of the vault, so the
   * index never follows one (read and write do, when it stays inside).
   */
  private plainStat(rel: string): Stats | undefined {
    const path = rel ? join(this.root, rel) : this.root;
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st || st.isSymbolicLink()) return undefined;
    try {
      return realpathSync(path) === path ? st : undefined;
    } catch {
      return undefined;
    }
  }

  search(q: string, limit: number): { hits: Hit[] } {
    return { hits: this.index.search(q, limit) };
  }

  read(path: string): ReadRes {
    const rel = notePath(path);
    const { real, exists } = realPathIn(this.root, rel);
    const st = exists ? statSync(real, { throwIfNoEntry: false }) : undefined;
    if (!st) throw agentError('ENOTFOUND', `no note ${rel} in the vault`);
    if (!st.isFile()) throw agentError('EPATH', `${rel} is not a file`);
    const text = readFileSync(real, 'utf8');
    const note = parseNote(rel, text, st.mtimeMs, st.size);
    return { path: rel, title: note.title, text, frontmatter: note.frontmatter, tags: note.tags, mtime: Math.round(st.mtimeMs) };
  }

  write(path: string, text: string): WriteRes {
    const rel = notePath(path);
    const { real, exists } = realPathIn(this.root, rel);
    if (exists && !statSync(real).isFile()) throw agentError('EPATH', `${rel} is not a file`);
    const bytes = writeAtomic(real, text);
    // Indexed now, not when the watcher gets to it: a search right after finds it.
    // Through a symlink inside the vault the note indexed is the one written.
    this.refresh(real.slice(this.root.length + 1));
    if (real !== join(this.root, rel)) this.refresh(rel);
    return { path: rel, bytes };
  }

  list(under?: string): ListRes {
    const dir = cleanPath(under ?? '', 'under');
    return { notes: this.index.list(dir).map((n) => ({ path: n.path, title: n.title, tags: n.tags, mtime: Math.round(n.mtime) })) };
  }
}
