// Walking the vault for its notes: regular *.md files, not hidden, not behind a
// symlink (a linked directory could lead anywhere; a note is where it lies).
import { readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { isHidden, NOTE_EXT } from './paths.js';

export interface Found { rel: string; st: Stats }

/** The notes at or below `rel` (a directory, '' for the whole vault), with their stat. A directory that vanished mid-walk is skipped. */
export function notesUnder(vault: string, rel: string): Found[] {
  const out: Found[] = [];
  const walk = (dirRel: string) => {
    let entries;
    try {
      entries = readdirSync(dirRel ? join(vault, dirRel) : vault, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (isHidden(e.name)) continue;
      const childRel = dirRel ? `${dirRel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(childRel);
      else if (e.isFile() && e.name.endsWith(NOTE_EXT) && e.name !== NOTE_EXT) {
        const st = statSync(join(vault, childRel), { throwIfNoEntry: false });
        if (st?.isFile()) out.push({ rel: childRel, st });
      }
    }
  };
  walk(rel);
  return out;
}
