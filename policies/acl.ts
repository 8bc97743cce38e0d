// Access for an agent's uid to a tree someone else owns, granted with POSIX ACLs
// and taken back at stop: the owner, the group and the mode bits stay what they
// were (while a grant stands, `ls -l` shows the ACL mask in the group bits, with
// a `+`). A grant is an access entry `u:<uid>:<perms>` on every entry of the tree
// plus a default entry on its directories, so files created later stay reachable.
// Taking it back restores each entry's ACL as it was: entries that had no extended
// ACL before lose theirs entirely (setfacl -b), the others lose only this uid's.
// setfacl walks physically (-P): symlinks in the tree are skipped, never followed.
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { which } from './machine.js';

export type AclPerms = 'rwX' | 'rX';

export interface Grant {
  agent: string;
  /** The config key it comes from (`agents.X.unveil.<key>`). */
  key: string;
  path: string;
  uid: number;
  perms: AclPerms;
  /** Entries of the tree that already had an extended ACL before this grant. */
  extended: string[];
}

export class AclError extends Error {}

export const ACL_FIX = 'apt-get install acl';

/** setfacl's own words, first line. */
function run(tool: string, args: string[]): string | undefined {
  const r = spawnSync(tool, args, { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status === 0) return undefined;
  return (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n')[0];
}

/** getfacl escapes whitespace and backslashes in names as \ooo. */
const unescape = (name: string) => name.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The entries of a tree that carry an extended ACL (access or default) now. */
function extendedIn(getfacl: string, path: string): string[] {
  const r = spawnSync(getfacl, ['-R', '-P', '-p', '--skip-base', '--', path], { encoding: 'utf8', timeout: 120_000, maxBuffer: 256 * 2 ** 20 });
  if (r.status !== 0) throw new AclError((r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n')[0]);
  return r.stdout.split('\n').filter((l) => l.startsWith('# file: ')).map((l) => unescape(l.slice('# file: '.length)));
}

export interface AclTools { setfacl: string | undefined; getfacl: string | undefined }

export const aclTools = (): AclTools => ({ setfacl: which('setfacl'), getfacl: which('getfacl') });

/** Grant `uid` access to the tree at `path`; on failure nothing of it is left and AclError says why. */
export function grant(tools: AclTools, g: Omit<Grant, 'extended'>): Grant {
  if (!tools.setfacl || !tools.getfacl) throw new AclError(`setfacl is not installed (${ACL_FIX})`);
  const full: Grant = { ...g, extended: extendedIn(tools.getfacl, g.path) };
  const dir = lstatSync(g.path).isDirectory();
  const spec = `u:${g.uid}:${g.perms}` + (dir ? `,d:u:${g.uid}:${g.perms}` : '');
  const err = run(tools.setfacl, ['-R', '-P', '-m', spec, '--', g.path]);
  if (err) {
    revoke(tools, full); // a tree granted halfway (a mount below without ACLs) is taken back whole
    throw new AclError(err);
  }
  return full;
}

/** Every entry of the tree, as lstat sees it: directories and files, never a symlink's target. */
function entries(path: string): { path: string; dir: boolean }[] {
  const out: { path: string; dir: boolean }[] = [];
  const walk = (p: string) => {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st || st.isSymbolicLink()) return;
    out.push({ path: p, dir: st.isDirectory() });
    if (st.isDirectory()) {
      let names: string[] = [];
      try {
        names = readdirSync(p);
      } catch {
        return;
      }
      for (const n of names) walk(join(p, n));
    }
  };
  walk(path);
  return out;
}

/** Many paths per setfacl run, few enough for any argv. */
function batched(tool: string, args: string[], paths: string[], errors: string[]): void {
  for (let i = 0; i < paths.length; i += 500) {
    const err = run(tool, [...args, '--', ...paths.slice(i, i + 500)]);
    if (err) errors.push(err);
  }
}

/** Take a grant back; returns what could not be undone (a path gone is nothing to undo). */
export function revoke(tools: AclTools, g: Grant): string[] {
  if (!tools.setfacl || !lstatSync(g.path, { throwIfNoEntry: false })) return [];
  const errors: string[] = [];
  if (g.extended.length === 0) {
    // The common case: nothing in the tree had an ACL before, so none is left.
    const err = run(tools.setfacl, ['-R', '-P', '-b', '--', g.path]);
    if (err) errors.push(err);
    return errors;
  }
  const had = new Set(g.extended);
  const all = entries(g.path);
  batched(tools.setfacl, ['-b'], all.filter((e) => !had.has(e.path)).map((e) => e.path), errors);
  batched(tools.setfacl, ['-x', `u:${g.uid}`], all.filter((e) => had.has(e.path) && !e.dir).map((e) => e.path), errors);
  batched(tools.setfacl, ['-x', `u:${g.uid},d:u:${g.uid}`], all.filter((e) => had.has(e.path) && e.dir).map((e) => e.path), errors);
  return errors;
}
