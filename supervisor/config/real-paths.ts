// The config's path rules, on the paths the kernel will actually use.
//
// Comparing path strings is not enough: with `ln -s data lnk`, "lnk/state" and
// "data" look unrelated and are one directory, so a state_dir given through the link
// would sit inside an agent's writable domain, and a root supervisor would write its
// logs where that agent can plant links. Every rule here resolves first (symlinks
// followed, as realpath does), then compares by whole segments. Paths that do not
// exist yet (domains are created at start) resolve through their longest existing
// prefix. Messages keep the path as the operator wrote it, and add what it resolves
// to when that differs.
//
// `check` and `start` both run these rules (they are part of the config's schema),
// and the supervisor runs them once more after it has created the domains, when
// every path exists.

import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/** What a path resolves to, and every symlink crossed on the way (where each link itself lies, resolved). */
export interface RealPath {
  real: string;
  links: string[];
}

/** Linux's own limit on links followed in one lookup (MAXSYMLINKS). */
const MAX_LINKS = 40;

export class PathLoopError extends Error {
  readonly code = 'ELOOP';
}

/**
 * `p` (absolute) with every symlink resolved. Components that do not exist (or
 * cannot be looked at) are kept as written: mkdir will create exactly those.
 */
export function resolveReal(p: string): RealPath {
  const links: string[] = [];
  const todo = path.resolve(p).split(path.sep).filter(Boolean);
  let real: string = path.sep;
  while (todo.length > 0) {
    const name = todo.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      real = path.dirname(real);
      continue;
    }
    const next = path.join(real, name);
    const st = lstatSync(next, { throwIfNoEntry: false });
    if (st === undefined) return { real: path.join(next, ...todo), links };
    if (!st.isSymbolicLink()) {
      real = next;
      continue;
    }
    if (links.length >= MAX_LINKS) throw new PathLoopError(`${p}: more than ${MAX_LINKS} symlinks (a loop?)`);
    links.push(next);
    const target = readlinkSync(next);
    if (path.isAbsolute(target)) real = path.sep;
    todo.unshift(...target.split(path.sep).filter(Boolean));
  }
  return { real, links };
}

const isInside = (child: string, parent: string) => child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);

/** How `a` relates to `b`, as words for a message; undefined when they do not overlap. */
export function pathRelation(a: string, b: string): 'is the same path as' | 'is inside' | 'contains' | undefined {
  if (a === b) return 'is the same path as';
  if (isInside(a, b)) return 'is inside';
  if (isInside(b, a)) return 'contains';
  return undefined;
}

export const pathsOverlap = (a: string, b: string): boolean => pathRelation(a, b) !== undefined;

/** What the path rules need of a config: ResolvedConfig (the file's keys) and Config (the code's) both give it. */
export interface PathsView {
  dir: string;
  /** The config file itself: the supervisor reads every agent's manifest from it. */
  file: string;
  stateDir: string;
  agents: Iterable<{ name: string; owns: readonly string[]; unveilResolved: readonly { path: string; mode: 'r' | 'rw'; key: string }[] }>;
}

export interface PathIssue {
  path: (string | number)[];
  message: string;
}

/** A path an agent names: where it is in the config, as written, and resolved. */
interface Place {
  agent: string;
  key: (string | number)[];
  mode: 'owns' | 'r' | 'rw';
  configured: string;
  real: string;
}

/** A key path as load.ts's formatPath writes it (`agents.w.unveil["."]`); not imported, as load.ts imports this file's users. */
const keyText = (key: (string | number)[]) =>
  key.reduce<string>((out, k) => (/^[A-Za-z0-9_-]+$/.test(String(k)) ? (out ? `${out}.${k}` : String(k)) : `${out}[${JSON.stringify(String(k))}]`), '');

/**
 * Every rule about paths: one owner per domain (no overlap between owners), nobody
 * else writes an owned path, one unveil key per path, and no agent sees, owns or
 * can redirect the state directory. All of them on resolved paths.
 */
export function pathIssues(c: PathsView): PathIssue[] {
  const issues: PathIssue[] = [];
  const add = (p: (string | number)[], message: string) => issues.push({ path: p, message });
  const resolve = (p: string, key: (string | number)[]): RealPath | undefined => {
    try {
      return resolveReal(p);
    } catch (err) {
      add(key, `${JSON.stringify(p)} cannot be resolved: ${(err as Error).message}`);
      return undefined;
    }
  };
  const rel = (p: string) => {
    const r = path.relative(c.dir, p);
    return r === '' ? '.' : r.startsWith('..') || path.isAbsolute(r) ? p : r;
  };
  // A link above the config's directory (/home → /data/home) moves every path alike: not worth a word.
  const realDir = (() => {
    try {
      return resolveReal(c.dir).real;
    } catch {
      return c.dir;
    }
  })();
  const plain = (p: string) => (pathRelation(p, c.dir) ? path.join(realDir, path.relative(c.dir, p)) : p);
  /** "vault" as written (relative to the config when inside it), and where it leads when a link takes it elsewhere. */
  const show = (pl: { configured: string; real: string }) =>
    `${JSON.stringify(rel(pl.configured))}${pl.real !== plain(pl.configured) ? ` (resolves to ${pl.real})` : ''}`;

  const places: Place[] = [];
  for (const a of c.agents) {
    a.owns.forEach((p, i) => {
      const r = resolve(p, ['agents', a.name, 'owns', i]);
      if (r) places.push({ agent: a.name, key: ['agents', a.name, 'owns', i], mode: 'owns', configured: p, real: r.real });
    });
    for (const u of a.unveilResolved) {
      const r = resolve(u.path, ['agents', a.name, 'unveil', u.key]);
      if (r) places.push({ agent: a.name, key: ['agents', a.name, 'unveil', u.key], mode: u.mode, configured: u.path, real: r.real });
    }
  }
  const owned = places.filter((p) => p.mode === 'owns');

  // --- ownership: one owner per domain, and nobody else writes it
  for (let j = 0; j < owned.length; j++) {
    const later = owned[j]!;
    for (let i = 0; i < j; i++) {
      const first = owned[i]!;
      if (first.agent === later.agent) continue;
      const r = pathRelation(later.real, first.real);
      if (!r) continue;
      const what = later.configured === first.configured
        ? `${show(later)} is already owned by agent ${first.agent}`
        : `${show(later)} ${r} ${show(first)}, owned by agent ${first.agent}`;
      add(later.key, `${what} (${keyText(first.key)}); a path has exactly one owner`);
    }
  }
  for (const u of places) {
    if (u.mode !== 'rw') continue;
    for (const o of owned) {
      if (o.agent === u.agent) continue;
      const r = pathRelation(u.real, o.real);
      if (!r) continue;
      const where = r === 'is the same path as' && u.configured === o.configured ? show(u) : `${show(u)}, which ${r} ${show(o)},`;
      add(u.key, `rw on ${where} owned by agent ${o.agent}; only the owner may write it (unveil it "r", or send to ${o.agent})`);
    }
  }

  // --- one agent, two unveil keys for one path: which mode would win is anyone's guess
  const firstKey = new Map<string, Place>();
  for (const u of places) {
    if (u.mode === 'owns') continue;
    const id = `${u.agent}\0${u.real}`;
    const prev = firstKey.get(id);
    if (!prev) firstKey.set(id, u);
    else add(u.key, `same path as unveil key ${JSON.stringify(prev.key[3])}${prev.configured !== u.configured ? ` (both resolve to ${u.real})` : ''}`);
  }

  // --- the state directory: the journal (everyone's messages), the logs and the
  // control socket (which can stop or restart anything). The supervisor writes there,
  // as root when it is root: no agent may see it, own it, or write anything the path
  // to it goes through, or it could make the supervisor write where it chooses.
  // --- the config file: the supervisor reads every manifest from it at each start. An
  // agent that may write it could widen its own pledges and unveils for the next one.
  const file = resolve(c.file, []);
  for (const w of file ? places.filter((p) => p.mode !== 'r') : []) {
    const r = pathRelation(file!.real, w.real);
    if (r) add(w.key, `agent ${w.agent} may write ${show(w)}, which holds the config file ${file!.real}: it could rewrite its own manifest (its pledges, its unveils) for the next start; move the config out of every agent's writable paths`);
  }

  const stateKey = ['state_dir'];
  const state = resolve(c.stateDir, stateKey);
  if (!state) return issues;
  const shownState = show({ configured: c.stateDir, real: state.real });
  for (const p of places) {
    const r = pathRelation(p.real, state.real);
    if (!r) continue;
    const may = p.mode === 'r' ? 'may read' : 'may write';
    add(p.key, `agent ${p.agent} ${may} ${show(p)}, which ${r} the state directory ${shownState}, where the supervisor keeps its journal, logs and control socket; no agent may see or own it: move state_dir out of every agent's paths`);
  }
  const writable = places.filter((p) => p.mode !== 'r');
  for (const link of state.links) {
    const at = resolve(path.dirname(link), stateKey);
    if (!at) continue;
    const linkReal = path.join(at.real, path.basename(link));
    for (const w of writable) {
      if (pathRelation(linkReal, w.real) === undefined) continue;
      add(stateKey, `${shownState} goes through the symlink ${linkReal}, inside ${show(w)} (${keyText(w.key)}), which agent ${w.agent} may write: it could point the supervisor's files anywhere; use a path no agent can change`);
    }
  }
  return issues;
}
