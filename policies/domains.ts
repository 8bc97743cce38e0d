// Paths agents write become theirs on disk: with a uid per agent, an owned domain
// (and any other `rw` path) is chown-ed to its one writer; readers that unveil it
// `r` read it through the usual mode bits (0755 directories, 0644 files), and agents
// that do not unveil it never see it at all (their mount namespace lacks it).
import { chownSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifests } from './manifest.js';
import type { Account } from './users.js';

export class DomainError extends Error {}

function chownTree(path: string, uid: number, gid: number): void {
  const st = lstatSync(path);
  // lchown semantics for links: a symlink planted in a domain must not hand its target over.
  if (st.isSymbolicLink()) return;
  chownSync(path, uid, gid);
  if (st.isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}

/** Create every unveiled path that is missing (as a directory), and give each writable one to its writer. */
export function prepareDomains(config: Manifests, accounts: Map<string, Account> | undefined): void {
  const writers = new Map<string, string[]>();
  for (const a of Object.values(config.agents)) {
    for (const p of a.owns) mkdirSync(p, { recursive: true, mode: 0o755 });
    for (const u of a.unveilResolved) {
      mkdirSync(u.path, { recursive: true, mode: 0o755 });
      if (u.mode === 'rw') writers.set(u.path, [...(writers.get(u.path) ?? []), a.name]);
    }
  }
  if (!accounts) return; // one uid for everyone: nothing to hand over
  for (const [path, names] of writers) {
    if (names.length > 1) {
      throw new DomainError(`${path} is unveiled rw to ${names.join(' and ')}; with a uid per agent a path has one writer: make it one agent's (owns) and let the others ask it, or unveil it r`);
    }
    const acct = accounts.get(names[0]!)!;
    chownTree(path, acct.uid, acct.gid);
  }
}
