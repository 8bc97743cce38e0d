// Confining a caller's path to the vault. The sandbox is the boundary that holds
// (only the vault is writable, nothing outside it is even mounted); this gives the
// caller a clear EPATH instead of an OS error, and keeps a symlink that a person
// left in the vault from turning a read or a write towards somewhere else.
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { agentError } from '../messages.js';

export const NOTE_EXT = '.md';

export const isInside = (p: string, dir: string): boolean => p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** A hidden file (editors' swap, lock and temp files) or a directory the vault's owner keeps to itself (.git, .obsidian). */
export const isHidden = (name: string): boolean => name.startsWith('.');

/**
 * A caller's path as a clean vault-relative one (`a/b.md`), judged on its text
 * alone: refused when absolute, with a NUL byte, or with a `..` component.
 * `what` names the path in messages. An empty result means the vault itself.
 */
export function cleanPath(path: string, what = 'path'): string {
  if (path.includes('\0')) throw agentError('EPATH', `${what} ${JSON.stringify(path)} holds a NUL byte`);
  if (path.startsWith('/')) throw agentError('EPATH', `${what} ${JSON.stringify(path)} is absolute: paths are relative to the vault`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw agentError('EPATH', `${what} ${JSON.stringify(path)} leads out of the vault ("..")`);
  return parts.join('/');
}

/** A note's path: clean, and a Markdown file that is not hidden. */
export function notePath(path: string): string {
  const rel = cleanPath(path);
  if (!rel) throw agentError('EPATH', `path ${JSON.stringify(path)} names the vault itself, not a note`);
  const name = rel.slice(rel.lastIndexOf('/') + 1);
  if (!rel.endsWith(NOTE_EXT) || name === NOTE_EXT) throw agentError('EPATH', `path ${JSON.stringify(path)} is not a note: the vault's notes are *${NOTE_EXT} files`);
  if (rel.split('/').some(isHidden)) throw agentError('EPATH', `path ${JSON.stringify(path)} has a hidden component (a name starting with "."): those are not notes`);
  return rel;
}

/**
 * Where `rel` (clean, from notePath/cleanPath) really is, checked one component at a
 * time: a symlink at any component must resolve inside the vault, a dangling one is
 * refused (a write would follow it). What does not exist yet is returned as it
 * would be created, under the last real directory. `vault` is the vault's real path.
 */
export function realPathIn(vault: string, rel: string): { real: string; exists: boolean } {
  let cur = vault;
  const parts = rel ? rel.split('/') : [];
  for (let i = 0; i < parts.length; i++) {
    const next = join(cur, parts[i]!);
    const st = lstatSync(next, { throwIfNoEntry: false });
    if (!st) return { real: join(next, ...parts.slice(i + 1)), exists: false };
    if (st.isSymbolicLink()) {
      const link = parts.slice(0, i + 1).join('/');
      let target: string;
      try {
        target = realpathSync(next);
      } catch {
        // Dangling (here: perhaps only because the sandbox does not show its target).
        const points = resolve(cur, readlinkSync(next));
        throw agentError('EPATH', isInside(points, vault) ? `${rel}: ${link} is a symlink to ${readlinkSync(next)}, which does not exist` : `${rel}: ${link} is a symlink that leads out of the vault`);
      }
      if (!isInside(target, vault)) throw agentError('EPATH', `${rel}: ${link} is a symlink that leads out of the vault`);
      cur = target;
    } else {
      cur = next;
    }
    if (i < parts.length - 1 && !lstatSync(cur).isDirectory()) throw agentError('EPATH', `${rel}: ${parts.slice(0, i + 1).join('/')} is not a directory`);
  }
  return { real: cur, exists: true };
}

/** The vault's real path, from `--vault`: it must exist and be a directory. */
export function vaultRoot(path: string): string {
  let real: string;
  try {
    real = realpathSync(resolve(path));
  } catch (err) {
    throw new Error(`--vault ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist (it is the agent\'s owns: domain, which the supervisor creates)' : (err as Error).message}`);
  }
  if (!lstatSync(real).isDirectory()) throw new Error(`--vault ${path} is not a directory`);
  return real;
}

/** A path relative to the vault for a real path inside it. */
export const relativeTo = (vault: string, real: string): string => (real === vault ? '' : real.slice(vault.length + 1));

