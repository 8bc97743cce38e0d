// An agent's env_file: NAME=value lines the supervisor reads and hands to that agent
// alone, through the spawn. Agents are where API keys live, so the file is held to
// what an ssh key is: a regular file (not a link an agent could swap), owned by the
// supervisor's user or root, open to nobody else, and outside every agent's writable
// paths. Its values go into the agent's environment and nowhere else: not into a
// Config, a message, a log record, nor the supervisor's own environment; every error
// here names a line, never quotes one.
//
// Read at `check`, at `start`, and again at every spawn: a changed secret takes effect
// when the agent (re)starts, as with systemd's EnvironmentFile=.
import fs from 'node:fs';
import { parseEnv } from 'node:util';
import { SAFE } from '../../logs/safe-open.js';
import { ENV_NAME, reservedEnvName } from '../../policies/manifest.js';
import type { ConfigIssue } from './load.js';
import type { Config } from './schema.js';

/** Bigger than any list of secrets: past it, the path is wrong. */
const MAX_ENV_FILE = 1024 * 1024;

export class EnvFileError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/** The file's values; throws EnvFileError whose messages start with the file's path. */
export function readEnvFile(file: string): Record<string, string> {
  const text = readGuarded(file);
  const problems = checkLines(text).map((p) => `${file}: ${p}`);
  if (problems.length) throw new EnvFileError(problems);
  return parseEnv(text) as Record<string, string>;
}

function readGuarded(file: string): string {
  let fd: number;
  try {
    // SAFE (O_NOFOLLOW | O_NONBLOCK): a symlink put in the file's place is refused, not
    // followed as root, and a FIFO put there does not hang the supervisor.
    fd = fs.openSync(file, fs.constants.O_RDONLY | SAFE);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new EnvFileError([
      code === 'ENOENT' ? `${file} does not exist`
      : code === 'ELOOP' ? `${file} is a symbolic link; point env_file at the file itself`
      : code === 'EACCES' ? `${file} cannot be read by this supervisor (permission denied)`
      : `${file} cannot be read (${code ?? (err as Error).message})`,
    ]);
  }
  try {
    const st = fs.fstatSync(fd);
    const uid = process.geteuid?.() ?? 0;
    if (!st.isFile()) throw new EnvFileError([`${file} is not a regular file`]);
    if (st.uid !== uid && st.uid !== 0) throw new EnvFileError([`${file} is owned by uid ${st.uid}; it must belong to this supervisor's user (uid ${uid}) or root: chown it`]);
    const open = st.mode & 0o077;
    if (open) {
      const how = st.mode & 0o004 ? 'readable by others' : st.mode & 0o040 ? 'readable by its group' : 'open to its group or others';
      throw new EnvFileError([`${file} is ${how} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it`]);
    }
    if (st.size > MAX_ENV_FILE) throw new EnvFileError([`${file} is ${st.size} bytes; an env file is at most ${MAX_ENV_FILE}`]);
    return fs.readFileSync(fd, 'utf8').replace(/^\uFEFF/, '');
  } finally {
    fs.closeSync(fd);
  }
}

const ASSIGNMENT = /^\s*(?:export\s+)?([^\s=]*)\s*=\s*(.*)$/;

/**
 * node's parseEnv reads the values (quotes, escapes, multi-line quoted values) but
 * skips what it cannot read, and even joins a line without `=` to the next one. So
 * every line is checked here first, and the operator learns which one is wrong.
 */
function checkLines(text: string): string[] {
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  const seen = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const n = i + 1;
    if (/^\s*(?:#.*)?$/.test(line)) continue;
    const m = ASSIGNMENT.exec(line);
    if (!m) {
      problems.push(`line ${n}: expected NAME=value`);
      continue;
    }
    const name = m[1]!;
    // What stands before `=` is not quoted back when malformed: it may be a pasted secret.
    const reserved = ENV_NAME.test(name) ? reservedEnvName(name) : 'malformed';
    if (reserved === 'malformed') problems.push(`line ${n}: the name before "=" is not a valid variable name (letters, digits and "_", not starting with a digit)`);
    else if (reserved) problems.push(`line ${n}: ${name} is reserved: ${reserved}`);
    const first = seen.get(name);
    if (first !== undefined) problems.push(`line ${n}: ${reserved === 'malformed' ? 'this name' : name} is set again (first on line ${first})`);
    else seen.set(name, n);
    // A quoted value may run over several lines: find where it closes.
    const value = m[2]!;
    const quote = value[0];
    if (quote === '"' || quote === "'" || quote === '`') {
      let rest = value.slice(1);
      let j = i;
      while (!rest.includes(quote) && j + 1 < lines.length) rest = lines[++j]!;
      if (!rest.includes(quote)) problems.push(`line ${n}: a quoted value opens here and is not closed`);
      i = j;
    }
  }
  return problems;
}

/**
 * What `check` and `start` say about env files: each readable and well-formed as
 * readEnvFile requires, and none inside a path an agent may write (it could put a
 * link there, or its own values, between two spawns).
 */
export function envFileIssues(cfg: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const writable = Object.values(cfg.agents).flatMap((a) => [
    ...a.owns.map((p) => ({ agent: a.name, key: 'owns', path: p })),
    ...a.unveilResolved.filter((u) => u.mode === 'rw').map((u) => ({ agent: a.name, key: `unveil ${u.key}`, path: u.path })),
  ]);
  for (const name of cfg.order) {
    const file = cfg.agents[name]!.envFile;
    if (file === undefined) continue;
    const at = `agents.${name}.env_file`;
    try {
      readEnvFile(file);
    } catch (err) {
      if (!(err instanceof EnvFileError)) throw err;
      for (const message of err.problems) issues.push({ path: at, message });
      continue;
    }
    const real = realOrSelf(file);
    const inside = writable.find((w) => {
      const dir = realOrSelf(w.path);
      return real === dir || real.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
    });
    if (inside) issues.push({ path: at, message: `${file} is inside ${inside.path}, which agent ${inside.agent} may write (${inside.key}); keep secrets outside every agent's writable paths` });
  }
  return issues;
}

function realOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}
