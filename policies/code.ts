// What an agent's code is, and so what of the host its sandbox shows it: its
// package, never its neighbours. The entry file is resolved first (a symlink's
// target is what node runs, and its package is what is mounted). Then:
//   - its package: the nearest directory at or above the entry's that holds a
//     package.json, its node_modules included (an agent imports its own
//     dependencies). The search goes no higher than the config's directory when
//     the entry lies inside it (what is above a deployment is not its agents'), and
//     stops below a home directory and /: a package.json there (`npm init` in ~)
//     does not make the home a package;
//   - without one: the entry's directory, unless that is a home directory or /,
//     where it is the entry file alone;
//   - an agent outheis ships (`run: outheis:data`, bundled.ts): no package at all.
//     Its file is among the SDK's (dist/workers), and what it imports is the npm
//     packages it names, each with its closure: never the whole outheis install.
// The node_modules of the directories above the code are mounted too (hoisted
// workspace dependencies, a project's own above its agents' directory): they are
// dependencies, not secrets.
// Inside what is mounted, credential-looking entries (.ssh, .env*, *.pem, ...) are
// masked by an unreadable stand-in, so a package that happens to hold them does not
// expose them; `check` warns about them and about code in a home directory.
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { bundledAgentAt, bundledPackages } from './bundled.js';
import { realOr, under } from './paths.js';

export interface Code {
  /** The entry file's real path: what node runs. */
  entry: string;
  /** What is bound read-only: the package, the entry's directory, or the entry file alone. */
  root: string;
  kind: 'package' | 'directory' | 'file' | 'bundled';
  /** Credential-looking entries inside `root`, each hidden behind an unreadable stand-in. */
  masks: { path: string; dir: boolean }[];
  /** node_modules of the directories above a package: hoisted dependencies. */
  nodeModules: string[];
  /** The entry's directory, when that is a home directory. */
  home: string | undefined;
  /** A bundled agent's npm packages (real directories, dependency closure included); none for other code. */
  packages: string[];
}

/** Directories that hold keys and tokens by convention. */
const SECRET_DIRS = new Set(['.ssh', '.gnupg', '.aws', '.azure', '.kube', '.docker', '.password-store']);
/** Files that do. */
const SECRET_FILES = [
  /^\.env(\..*)?$/, /^\.(npmrc|yarnrc\.yml|netrc|pgpass|git-credentials|pypirc|htpasswd)$/,
  /^id_(rsa|dsa|ecdsa|ed25519)/, /\.(pem|key|p12|pfx|jks|keystore)$/,
];
/** Not scanned: published dependencies and version control are not where an operator leaves secrets, and they are large. */
const UNSCANNED = new Set(['node_modules', '.git']);

/** /root, /home/<user> and $HOME: never a package, never mounted whole. */
export function isHome(dir: string): boolean {
  const homes = ['/root', process.env.HOME, safeHomedir()].filter((h): h is string => !!h && h !== '/');
  return dirname(dir) === '/home' || homes.some((h) => h === dir || realOr(h) === dir);
}

function safeHomedir(): string | undefined {
  try {
    return homedir();
  } catch {
    return undefined;
  }
}

export const isSecretName = (name: string, dir: boolean): boolean => (dir ? SECRET_DIRS.has(name) : SECRET_FILES.some((re) => re.test(name)));

/** Credential-looking entries under `root` (symlinks are not followed: inside the sandbox they lead only to what is mounted). */
function scan(root: string): Code['masks'] {
  const out: Code['masks'] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // unreadable: the agent's uid will not read it either
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (isSecretName(e.name, true)) out.push({ path, dir: true });
        else if (!UNSCANNED.has(e.name)) walk(path);
      } else if (e.isFile() && isSecretName(e.name, false)) {
        out.push({ path, dir: false });
      }
    }
  };
  walk(root);
  return out;
}

/** The nearest package.json at or above `dir`, no higher than `top`, stopping below a home directory and /. */
function packageOf(dir: string, top: string | undefined): string | undefined {
  for (let d = dir; d !== '/' && !isHome(d); d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
    if (d === top) return undefined;
  }
  return undefined;
}

/** node_modules directories above `dir`, up to a home directory or /. */
function nodeModulesAbove(dir: string): string[] {
  const out: string[] = [];
  for (let d = dirname(dir); d !== '/' && !isHome(d); d = dirname(d)) {
    const nm = join(d, 'node_modules');
    if (statSync(nm, { throwIfNoEntry: false })?.isDirectory()) out.push(nm);
  }
  return out;
}

/**
 * An agent's code; `run` must exist (preflight says so otherwise). `configDir`,
 * the config's directory, bounds the search for a package when the entry lies inside it.
 * `scanned` shares the search for credentials between agents of one package (one config's worth).
 */
export function codeOf(run: string, configDir?: string, scanned = new Map<string, Code['masks']>()): Code {
  const secretsIn = (root: string) => scanned.get(root) ?? scanned.set(root, scan(root)).get(root)!;
  const entry = realpathSync(run);
  const dir = dirname(entry);
  const bundled = bundledAgentAt(entry);
  if (bundled) return { entry, root: dir, kind: 'bundled', masks: [], nodeModules: [], home: undefined, packages: bundledPackages(bundled) };
  const home = isHome(dir) ? dir : undefined;
  const top = configDir !== undefined && under(entry, realOr(configDir)) ? realOr(configDir) : undefined;
  const pkg = packageOf(dir, top);
  if (pkg) return { entry, root: pkg, kind: 'package', masks: secretsIn(pkg), nodeModules: nodeModulesAbove(pkg), home, packages: [] };
  if (home || dir === '/') return { entry, root: entry, kind: 'file', masks: [], nodeModules: [], home, packages: [] };
  return { entry, root: dir, kind: 'directory', masks: secretsIn(dir), nodeModules: nodeModulesAbove(dir), home, packages: [] };
}

/** What `check` warns about an agent's code: it runs, but its neighbourhood deserves a look. */
export function codeWarnings(code: Code): string[] {
  const out: string[] = [];
  if (code.home) {
    out.push(`the entry file lies directly in the home directory ${code.home}: only the file itself is mounted (no sibling modules); move the agent into a directory of its own with a package.json`);
  }
  if (code.masks.length) {
    const shown = code.masks.slice(0, 5).map((m) => m.path.slice(code.root.length + 1) + (m.dir ? '/' : ''));
    const more = code.masks.length > shown.length ? ` and ${code.masks.length - shown.length} more` : '';
    out.push(`the code directory ${code.root} holds credentials (${shown.join(', ')}${more}): they are masked inside the sandbox, but keep secrets out of code (env_file, or a path outside it)`);
  }
  return out;
}

/** A bundled agent's code is the SDK's, which holds nothing of a deployment's. */
export const insideCode = (path: string, code: Code): boolean => code.kind !== 'file' && code.kind !== 'bundled' && under(path, code.root);

let stand: { file: string; dir: string } | undefined;

/**
 * The stand-ins masks are bound from: an empty file and an empty directory, mode
 * 0000, in a private world-traversable directory (bubblewrap, as the agent's uid,
 * must reach them). Unreadable even by their owner without capabilities, so a
 * masked secret is refused (EACCES), not read as empty.
 */
export function maskSources(): { file: string; dir: string } {
  if (stand && existsSync(stand.file) && existsSync(stand.dir)) return stand;
  const base = mkdtempSync(join(tmpdir(), 'outheis-mask-'));
  chmodSync(base, 0o755);
  const file = join(base, 'file');
  const dir = join(base, 'dir');
  closeSync(openSync(file, 'wx', 0o000));
  chmodSync(file, 0o000);
  mkdirSync(dir, { mode: 0o000 });
  chmodSync(dir, 0o000);
  process.once('exit', () => {
    try {
      chmodSync(dir, 0o700);
      rmSync(base, { recursive: true, force: true });
    } catch {
      // a temp directory left behind is harmless
    }
  });
  stand = { file, dir };
  return stand;
}
