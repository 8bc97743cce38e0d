// The paths agents write and read, made ready for their uids without ever taking
// them from whoever owns them. With a uid per agent (the supervisor is root):
//   - a path that does not exist is created by outheis, and a domain it creates
//     (an owned path, or a path unveiled rw) belongs to its one writer;
//   - a path that already belongs to the agent's uid needs nothing: that is how a
//     domain outheis created looks on the next start. The owner on disk is the
//     record; nothing else is remembered about what outheis created;
//   - a path someone else owns keeps its owner and mode: the agent's uid gets an
//     ACL (acl.ts), rwX to its writer, and rX to a reader whose uid the mode bits
//     keep out. Each grant is logged, and taken back at stop. Grants are written to
//     the state directory as they are made, so those of a supervisor that died are
//     taken back at the next start. Where ACLs cannot be set, the start is refused
//     with the fix.
// Agents that do not unveil a path never see it at all (their mount namespace lacks it).
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, type Dirent } from 'node:fs';
import { dirname } from 'node:path';
import { ACL_FIX, AclError, aclTools, grant, revoke, type AclPerms, type AclTools, type Grant } from './acl.js';
import type { Manifests } from './manifest.js';
import { readableByOthers } from './sdk.js';
import type { Account } from './users.js';

export class DomainError extends Error {}

export interface Domains {
  /** Paths outheis created and gave to an agent, this start. */
  created: { agent: string; path: string; uid: number }[];
  /** ACLs in force until release(). */
  grants: Grant[];
  /** What taking back a previous run's grants (from the record) could not undo. */
  stale: string[];
  /** Take every grant back, newest first; returns what could not be undone. */
  release(): string[];
}

export interface DomainOptions {
  /** Where grants are recorded while they stand (the state directory); none: not recorded. */
  record?: string;
  tools?: AclTools;
}

/** Every directory above `path` lets others through: bubblewrap, as the agent's uid, must reach it to bind it. */
function blockedAncestor(path: string): string | undefined {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const st = statSync(dir, { throwIfNoEntry: false });
    if (st && (st.mode & 0o001) === 0) return `${dir} is mode 0${(st.mode & 0o777).toString(8)}`;
    if (dir === dirname(dir)) return undefined;
  }
}

/** Can a uid that is neither owner nor group read the whole tree through its mode bits? */
function treeReadableByOthers(path: string): boolean {
  if (!readableByOthers(path)) return false;
  const st = statSync(path);
  if (!st.isDirectory()) return true;
  if ((st.mode & 0o001) === 0) return false;
  const walk = (dir: string): boolean => {
    for (const e of readdirEntries(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isSymbolicLink()) continue;
      const s = statSync(p, { throwIfNoEntry: false });
      if (!s) continue;
      if ((s.mode & 0o004) === 0 || (s.isDirectory() && ((s.mode & 0o001) === 0 || !walk(p)))) return false;
    }
    return true;
  };
  return walk(path);
}

function readdirEntries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function readRecord(file: string | undefined): Grant[] {
  if (!file || !existsSync(file)) return [];
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Grant[];
  } catch {
    return [];
  }
}

function writeRecord(file: string | undefined, grants: Grant[]): void {
  if (!file) return;
  if (grants.length === 0) return rmSync(file, { force: true });
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.tmp`, JSON.stringify(grants), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** Create every unveiled path that is missing (as a directory), and give each agent's uid what it needs of it. */
export function prepareDomains(config: Manifests, accounts: Map<string, Account> | undefined, opts: DomainOptions = {}): Domains {
  const tools = opts.tools ?? aclTools();
  // 1. a supervisor that died left its grants standing: take them back first
  const stale = readRecord(opts.record).reverse().flatMap((g) => revoke(tools, g).map((e) => `${g.path} (uid ${g.uid}): ${e}`));
  writeRecord(opts.record, []);

  // 2. what is missing is created; a domain created for an agent is its writer's
  const writers = new Map<string, string[]>();
  const createdFor = new Map<string, string | undefined>();
  const make = (path: string, agent: string | undefined) => {
    if (!existsSync(path)) {
      mkdirSync(path, { recursive: true, mode: 0o755 });
      createdFor.set(path, agent);
    } else if (agent && createdFor.has(path) && createdFor.get(path) === undefined) {
      createdFor.set(path, agent);
    }
  };
  for (const a of Object.values(config.agents)) {
    for (const p of a.owns) make(p, a.name);
    for (const u of a.unveilResolved) {
      make(u.path, u.mode === 'rw' ? a.name : undefined);
      if (u.mode === 'rw') writers.set(u.path, [...(writers.get(u.path) ?? []), a.name]);
    }
  }
  const domains: Domains = { created: [], grants: [], stale, release: () => [] };
  if (!accounts) return domains; // one uid for everyone: nothing to hand over
  for (const [path, names] of writers) {
    if (names.length > 1) {
      throw new DomainError(`${path} is unveiled rw to ${names.join(' and ')}; with a uid per agent a path has one writer: make it one agent's (owns) and let the others ask it, or unveil it r`);
    }
  }
  for (const [path, agent] of createdFor) {
    if (agent === undefined) continue;
    const acct = accounts.get(agent)!;
    chownSync(path, acct.uid, acct.gid); // empty: outheis just made it
    domains.created.push({ agent, path, uid: acct.uid });
  }

  // 3. what belongs to someone else: an ACL for the agent's uid, recorded as it stands
  const release = (): string[] => {
    const errors = [...domains.grants].reverse().flatMap((g) => revoke(tools, g).map((e) => `${g.path} (uid ${g.uid}): ${e}`));
    domains.grants = [];
    writeRecord(opts.record, []);
    return errors;
  };
  domains.release = release;
  try {
    for (const a of Object.values(config.agents)) {
      const acct = accounts.get(a.name)!;
      for (const u of a.unveilResolved) {
        const key = `agents.${a.name}.unveil.${u.key}`;
        const path = realpathSync(u.path);
        const blocked = blockedAncestor(path);
        if (blocked) throw new DomainError(`${key}: the agent's uid ${acct.uid} cannot reach ${path}: ${blocked}; give others search permission on it (chmod o+x) or unveil a path elsewhere`);
        const st = statSync(path);
        if (st.uid === acct.uid) continue;
        if (u.mode === 'r' && treeReadableByOthers(path)) continue;
        const perms: AclPerms = u.mode === 'rw' ? 'rwX' : 'rX';
        try {
          domains.grants.push(grant(tools, { agent: a.name, key, path, uid: acct.uid, perms }));
        } catch (err) {
          if (!(err instanceof AclError)) throw err;
          throw new DomainError(`${key}: ${path} belongs to uid ${st.uid}, and outheis does not change the owner of what it did not create; `
            + `giving the agent's uid ${acct.uid} ${perms} access with an ACL failed (${err.message}). Fix: ${ACL_FIX} and use a filesystem with ACL support, `
            + `or chown -R ${acct.uid}:${acct.gid} ${path} yourself, or remove ${path} and let outheis create it for the agent`);
        }
        writeRecord(opts.record, domains.grants);
      }
    }
  } catch (err) {
    release();
    throw err;
  }
  return domains;
}
