// The agents outheis ships (workers/agents/), run by name: `run: outheis:data`
// runs <package>/dist/workers/agents/data.js where it is installed, never a copy.
// Their sandbox sees what the SDK already brings (dist/workers holds them), plus
// the npm packages they import, each with its dependency closure and nothing else
// of the install: one agent's libraries are not another's, and outheis's own
// dependencies (the journal, the CLI) are not an agent's at all.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { realOr } from './paths.js';
import { readableByOthers, stagedCopies } from './sdk.js';
import { PACKAGE_ROOT } from './package-root.js';

export const BUNDLED_PREFIX = 'outheis:';

/**
 * Each bundled agent and the npm packages it imports directly (its own
 * dependencies' are found by walking their package.json). Adding a library to an
 * agent is adding its name here, and to outheis's package.json.
 */
export const BUNDLED: Readonly<Record<string, readonly string[]>> = {
  relay: ['zod'],
  data: ['zod', 'minisearch', '@11ty/gray-matter'],
  agenda: ['zod'],
  pattern: ['zod'],
  llm: ['zod', 'openai', '@anthropic-ai/sdk'],
};

export const BUNDLED_NAMES: readonly string[] = Object.keys(BUNDLED);

const AGENTS_DIR = join(PACKAGE_ROOT, 'dist/workers/agents');

/** `outheis:data` → `data`; undefined for a path. */
export function bundledNameOf(run: string): string | undefined {
  return run.startsWith(BUNDLED_PREFIX) ? run.slice(BUNDLED_PREFIX.length) : undefined;
}

/** Why `run` names no bundled agent (it starts with `outheis:` and the rest is not one), or undefined. */
export function bundledProblem(run: string): string | undefined {
  const name = bundledNameOf(run);
  if (name === undefined || Object.hasOwn(BUNDLED, name)) return undefined;
  return `unknown bundled agent ${JSON.stringify(run)}: expected one of ${BUNDLED_NAMES.map((n) => BUNDLED_PREFIX + n).join(', ')}, or the path of an entry file`;
}

/** Where a bundled agent's entry file is in this install (the config's `outheis:<name>`). */
export const bundledEntry = (name: string): string => join(AGENTS_DIR, `${name}.js`);

/** The bundled agent an entry file is, by where it lies: `run: outheis:data` and its path alike. */
export function bundledAgentAt(entry: string): string | undefined {
  const real = realOr(entry);
  if (dirname(real) !== realOr(AGENTS_DIR) || !real.endsWith('.js')) return undefined;
  const name = real.slice(dirname(real).length + 1, -3);
  return Object.hasOwn(BUNDLED, name) ? name : undefined;
}

/** Where node finds package `name` when imported from directory `from`: the first node_modules on the way up. */
function resolvePackage(name: string, from: string): string | undefined {
  for (let d = from; ; d = dirname(d)) {
    const dir = join(d, 'node_modules', name);
    if (existsSync(join(dir, 'package.json'))) return realOr(dir);
    if (d === dirname(d)) return undefined;
  }
}

const inside = (p: string, dir: string) => p === dir || p.startsWith(dir + sep);

/**
 * The real directories of `direct` and of everything they depend on (package.json
 * `dependencies`, optional ones when installed), as node would resolve them from
 * `from`. A package nested inside another one is covered by it and not listed twice.
 */
export function packageClosure(direct: readonly string[], from: string): string[] {
  const found = new Set<string>();
  const todo = direct.map((name) => ({ name, from, by: 'the bundled agents' }));
  while (todo.length) {
    const { name, from: at, by } = todo.pop()!;
    const dir = resolvePackage(name, at);
    if (!dir) throw new Error(`${name} (imported by ${by}) is not installed under ${at}: run npm install in ${PACKAGE_ROOT}`);
    if (found.has(dir)) continue;
    found.add(dir);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies ?? {})) todo.push({ name: dep, from: dir, by: name });
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) if (resolvePackage(dep, dir)) todo.push({ name: dep, from: dir, by: name });
  }
  const all = [...found].sort();
  return all.filter((p) => !all.some((q) => q !== p && inside(p, q)));
}

/** The packages a bundled agent imports, with their closure, from this install. */
export const bundledPackages = (name: string): string[] => packageClosure(BUNDLED[name] ?? [], AGENTS_DIR);

/**
 * Each package bound read-only at its real path (where node, walking up from the
 * agent's entry, looks for it). When an agent's own uid cannot read the install
 * (under /root), the sources are world-readable copies, staged as the SDK's are.
 */
export function packageMounts(packages: readonly string[], forOthers: boolean): [string, string][] {
  const source = forOthers && !packages.every(readableByOthers) ? stagedCopies(packages.map((p) => [p, join('packages', p)])) : (p: string) => p;
  return packages.map((p) => [source(p), p]);
}
