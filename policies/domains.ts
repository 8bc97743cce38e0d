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
import type { AgentManifest, Manifests } from './manifest.js';
import { realOr, under } from './paths.js';
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
  /**
   * A reload: the paths of these agents (added, or restarted with a new manifest)
   * prepared as at start. `needed`: the grants they rely on, standing ones included.
   * Throws DomainError having taken back what it granted.
   */
  extend(config: Manifests, accounts: Map<string, Account> | undefined, agents: string[]): { created: Domains['created']; needed: Grant[] };
  /** A reload: take back the grants of these agents (removed, or stopped for a new manifest) except those in `keep`. Returns what could not be undone. */
  releaseOf(agents: ReadonlySet<string>, keep: readonly Grant[]): string[];
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

/** One writer per path, with a uid per agent. */
function checkWriters(config: Manifests): void {
  const writers = new Map<string, string[]>();
  for (const a of Object.values(config.agents)) {
    for (const u of a.unveilResolved) if (u.mode === 'rw') writers.set(u.path, [...(writers.get(u.path) ?? []), a.name]);
  }
  for (const [path, names] of writers) {
    if (names.length > 1) {
      throw new DomainError(`${path} is unveiled rw to ${names.join(' and ')}; with a uid per agent a path has one writer: make it one agent's (owns) and let the others ask it, or unveil it r`);
    }
  }
}

/** What is missing of these agents' paths is created; a domain created for an agent is its writer's (chowned to its uid). */
function createMissing(agents: readonly AgentManifest[], accounts: Map<string, Account> | undefined): Domains['created'] {
  const createdFor = new Map<string, string | undefined>();
  const make = (path: string, agent: string | undefined) => {
    if (!existsSync(path)) {
      mkdirSync(path, { recursive: true, mode: 0o755 });
      createdFor.set(path, agent);
    } else if (agent && createdFor.has(path) && createdFor.get(path) === undefined) {
      createdFor.set(path, agent);
    }
  };
  for (const a of agents) {
    for (const p of a.owns) make(p, a.name);
    for (const u of a.unveilResolved) make(u.path, u.mode === 'rw' ? a.name : undefined);
  }
  const created: Domains['created'] = [];
  if (!accounts) return created;
  for (const [path, agent] of createdFor) {
    if (agent === undefined) continue;
    const acct = accounts.get(agent)!;
    chownSync(path, acct.uid, acct.gid); // empty: outheis just made it
    created.push({ agent, path, uid: acct.uid });
  }
  return created;
}

/** Whether `path` is in, or holds, one of the owned domains (by real path). */
function overlapsDomain(path: string, owned: readonly string[]): boolean {
  return owned.some((o) => {
    const real = realOr(o);
    return under(path, real) || under(real, path);
  });
}
const ownedOf = (agents: readonly AgentManifest[]): string[] => agents.flatMap((a) => a.owns);

const sameGrant = (a: Omit<Grant, 'extended'>, b: Omit<Grant, 'extended'>): boolean => a.path === b.path && a.uid === b.uid && a.perms === b.perms;

/**
 * The ACLs these agents' uids need on what belongs to someone else, granted and
 * recorded as they stand; one already standing (an agent a reload restarts) is
 * reused, not granted twice. On failure what this call granted is taken back.
 */
function grantAll(agents: readonly AgentManifest[], accounts: Map<string, Account>, standing: Grant[], tools: AclTools, record: string | undefined, owned: readonly string[]): Grant[] {
  const needed: Grant[] = [];
  const fresh: Grant[] = [];
  try {
    for (const a of agents) {
      const acct = accounts.get(a.name)!;
      for (const u of a.unveilResolved) {
        const key = `agents.${a.name}.unveil.${u.key}`;
        const path = realpathSync(u.path);
        const blocked = blockedAncestor(path);
        if (blocked) throw new DomainError(`${key}: the agent's uid ${acct.uid} cannot reach ${path}: ${blocked}; give others search permission on it (chmod o+x) or unveil a path elsewhere`);
        const st = statSync(path);
        if (st.uid === acct.uid) continue;
        // Readable by everyone now is enough only where nobody writes: in another agent's
        // domain its owner creates files later, with its own modes (0640 say), which
        // only the default ACL a grant sets lets this reader open.
        if (u.mode === 'r' && !overlapsDomain(path, owned) && treeReadableByOthers(path)) continue;
        const perms: AclPerms = u.mode === 'rw' ? 'rwX' : 'rX';
        const want = { agent: a.name, key, path, uid: acct.uid, perms };
        const already = standing.find((g) => sameGrant(g, want));
        if (already) {
          needed.push(already);
          continue;
        }
        try {
          const g = grant(tools, want);
          fresh.push(g);
          needed.push(g);
          standing.push(g);
        } catch (err) {
          if (!(err instanceof AclError)) throw err;
          throw new DomainError(`${key}: ${path} belongs to uid ${st.uid}, and outheis does not change the owner of what it did not create; `
            + `giving the agent's uid ${acct.uid} ${perms} access with an ACL failed (${err.message}). Fix: ${ACL_FIX} and use a filesystem with ACL support, `
            + `or chown -R ${acct.uid}:${acct.gid} ${path} yourself, or remove ${path} and let outheis create it for the agent`);
        }
        writeRecord(record, standing);
      }
    }
  } catch (err) {
    for (const g of fresh.reverse()) {
      revoke(tools, g);
      standing.splice(standing.indexOf(g), 1);
    }
    writeRecord(record, standing);
    throw err;
  }
  return needed;
}

/** Create every unveiled path that is missing (as a directory), and give each agent's uid what it needs of it. */
export function prepareDomains(config: Manifests, accounts: Map<string, Account> | undefined, opts: DomainOptions = {}): Domains {
  const tools = opts.tools ?? aclTools();
  // 1. a supervisor that died left its grants standing: take them back first
  const stale = readRecord(opts.record).reverse().flatMap((g) => revoke(tools, g).map((e) => `${g.path} (uid ${g.uid}): ${e}`));
  writeRecord(opts.record, []);
  const all = () => Object.values(config.agents);
  if (accounts) checkWriters(config);
  const domains: Domains = {
    created: [], grants: [], stale,
    release: () => {
      const errors = [...domains.grants].reverse().flatMap((g) => revoke(tools, g).map((e) => `${g.path} (uid ${g.uid}): ${e}`));
      domains.grants = [];
      writeRecord(opts.record, []);
      return errors;
    },
    extend: (next, nextAccounts, names) => {
      const agents = names.map((n) => next.agents[n]!);
      if (nextAccounts) checkWriters(next);
      const created = createMissing(agents, nextAccounts);
      domains.created.push(...created);
      const needed = nextAccounts ? grantAll(agents, nextAccounts, domains.grants, tools, opts.record, ownedOf(Object.values(next.agents))) : [];
      return { created, needed };
    },
    releaseOf: (names, keep) => {
      const errors: string[] = [];
      for (const g of [...domains.grants].reverse()) {
        if (!names.has(g.agent) || keep.includes(g)) continue;
        domains.grants.splice(domains.grants.indexOf(g), 1);
        // Taking it back clears the tree's ACLs (acl.ts): while another agent's grant stands on the same path, it waits for stop.
        if (domains.grants.some((o) => o.path === g.path)) {
          domains.grants.unshift(g);
          continue;
        }
        errors.push(...revoke(tools, g).map((e) => `${g.path} (uid ${g.uid}): ${e}`));
      }
      writeRecord(opts.record, domains.grants);
      return errors;
    },
  };
  // 2. what is missing is created; 3. what belongs to someone else: an ACL for the agent's uid
  domains.created = createMissing(all(), accounts);
  if (accounts) grantAll(all(), accounts, domains.grants, tools, opts.record, ownedOf(all()));
  return domains;
}
