// Reading a config file into a validated Config, or a ConfigError that lists
// every problem at once with the key path to fix: nothing starts on a config
// that has any problem, so one round trip per typo would be needlessly slow.

import fs from 'node:fs';
import path from 'node:path';
import YAML, { LineCounter } from 'yaml';
import type * as z from 'zod';
import { configSchema, UNKNOWN_KEY_PREFIX, type Config } from './schema.js';
import { didYouMean } from './cross-checks.js';
import { pathIssues } from './real-paths.js';
import { describeValue } from '../../protocol/units.js';

export interface ConfigIssue {
  /** Dotted key path (`agents.data.unveil.vault`), or '' for a problem with the file itself. */
  path: string;
  message: string;
  /** 1-based line in a YAML file, when the key can be located. */
  line?: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly issues: ConfigIssue[],
    /** The file being loaded, when there was one. */
    readonly file?: string,
  ) {
    super(formatConfigIssues(issues));
  }
}

export const CONFIG_FILE_NAMES = ['outheis.yaml', 'outheis.yml', 'outheis.json'] as const;

/** Segments that would be ambiguous after a dot (paths such as `../data` used as unveil keys) are bracketed. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const s of segments) {
    const text = String(s);
    if (/^[A-Za-z0-9_-]+$/.test(text)) out += out ? `.${text}` : text;
    else out += `[${JSON.stringify(text)}]`;
  }
  return out;
}

export function formatConfigIssues(issues: readonly ConfigIssue[]): string {
  return issues
    // File-level messages (syntax errors) already say where they are.
    .map((i) => (i.path ? `${i.path}: ${i.message}${i.line !== undefined ? ` (line ${i.line})` : ''}` : i.message))
    .join('\n');
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a map',
  record: 'a map',
  array: 'a list',
  nonoptional: 'a value',
};

// Zod's own wording ("Invalid input: expected string, received number")
// neither quotes the value nor speaks the config's vocabulary (map, list).
const errorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type': {
      const expected = EXPECTED[iss.expected] ?? iss.expected;
      return iss.input === undefined ? `required: expected ${expected}` : `expected ${expected}, got ${describeValue(iss.input)}`;
    }
    case 'invalid_value':
      return `expected ${iss.values.length === 1 ? '' : 'one of '}${iss.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(iss.input)}`;
    case 'too_small':
      if (iss.origin === 'number' || iss.origin === 'int') {
        return `expected a number ${iss.inclusive ? 'of at least' : 'greater than'} ${String(iss.minimum)}, got ${describeValue(iss.input)}`;
      }
      return undefined;
    case 'too_big':
      if (iss.origin === 'number' || iss.origin === 'int') {
        return `expected a number ${iss.inclusive ? 'of at most' : 'less than'} ${String(iss.maximum)}, got ${describeValue(iss.input)}`;
      }
      return undefined;
    default:
      return undefined;
  }
};

function toIssues(zodIssues: readonly z.core.$ZodIssue[], locate?: Locate): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const push = (segments: readonly PropertyKey[], message: string) => {
    const line = locate?.(segments);
    out.push({ path: formatPath(segments), message, ...(line !== undefined ? { line } : {}) });
  };
  for (const iss of zodIssues) {
    if (iss.code === 'unrecognized_keys') {
      const known = iss.message.startsWith(UNKNOWN_KEY_PREFIX) ? iss.message.slice(UNKNOWN_KEY_PREFIX.length).split(', ') : [];
      for (const key of iss.keys) {
        const hint = known.length ? `${didYouMean(key, known)} (expected one of: ${known.join(', ')})` : '';
        push([...iss.path, key], `unknown key ${JSON.stringify(key)}${hint}`);
      }
    } else if (iss.code === 'invalid_key') {
      push(iss.path, iss.issues.map((i) => i.message).join('; '));
    } else {
      push(iss.path, iss.message);
    }
  }
  return out;
}

/** Maps a key path to a line, so `outheis check` can point into the YAML. */
type Locate = (segments: readonly PropertyKey[]) => number | undefined;

function validate(raw: unknown, file: string, locate?: Locate): Config {
  const abs = path.resolve(file);
  if (raw === null || raw === undefined) {
    throw new ConfigError([{ path: '', message: `the config is empty; expected a map with at least an "agents" key` }], abs);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([{ path: '', message: `expected a map of config keys at the top level, got ${describeValue(raw)}` }], abs);
  }
  const result = configSchema({ file: abs, dir: path.dirname(abs) }).safeParse(raw, { error: errorMap });
  if (result.success) return result.data;
  throw new ConfigError(toIssues(result.error.issues, locate), abs);
}

/** Validates an already-parsed object as if it had been read from `file` (paths resolve against its directory). */
export function parseConfig(raw: unknown, file: string): Config {
  return validate(raw, file);
}

function lineOfYamlError(e: YAML.YAMLError): string {
  const first = e.message.split('\n')[0] ?? e.message;
  const pos = e.linePos?.[0];
  const short = first.replace(/ at line \d+, column \d+:?$/, '');
  return pos ? `YAML syntax error at line ${pos.line}, column ${pos.col}: ${short}` : `YAML syntax error: ${short}`;
}

function parseYaml(text: string, file: string): { raw: unknown; locate: Locate } {
  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigError(
      doc.errors.map((e) => ({ path: '', message: lineOfYamlError(e), ...(e.linePos ? { line: e.linePos[0].line } : {}) })),
      file,
    );
  }
  let raw: unknown;
  try {
    // A cap on alias expansion: a "billion laughs" config should fail, not exhaust memory.
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new ConfigError([{ path: '', message: `YAML error: ${(err as Error).message}` }], file);
  }
  const locate: Locate = (segments) => {
    // The deepest existing node: a missing key is reported at its parent map.
    for (let n = segments.length; n >= 0; n--) {
      try {
        const node = doc.getIn(segments.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
        const offset = n === 0 ? doc.contents?.range?.[0] : node?.range?.[0];
        if (offset !== undefined) return lineCounter.linePos(offset).line;
      } catch {
        // getIn through a scalar throws; keep walking up
      }
    }
    return undefined;
  };
  return { raw, locate };
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /at position (\d+)/.exec(msg);
    if (pos && !/line \d+/.test(msg)) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split('\n').length;
      const col = before.length - before.lastIndexOf('\n');
      throw new ConfigError([{ path: '', message: `JSON syntax error at line ${line}, column ${col}: ${msg}`, line }], file);
    }
    throw new ConfigError([{ path: '', message: `JSON syntax error: ${msg}` }], file);
  }
}

function readText(file: string): string {
  try {
    // A BOM is what some editors write first; neither parser wants it.
    return fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT' ? `config file not found: ${file}`
      : code === 'EISDIR' ? `${file} is a directory, not a config file`
      : code === 'EACCES' ? `cannot read config file ${file}: permission denied`
      : `cannot read config file ${file}: ${(err as Error).message}`;
    throw new ConfigError([{ path: '', message }], file);
  }
}

/** Reads and parses a `.yaml`, `.yml` or `.json` file without validating it. Throws ConfigError. */
function readRaw(file: string): { abs: string; raw: unknown; locate?: Locate } {
  const abs = path.resolve(file);
  const ext = path.extname(abs).toLowerCase();
  if (ext !== '.yaml' && ext !== '.yml' && ext !== '.json') {
    throw new ConfigError([{ path: '', message: `unsupported config file type ${JSON.stringify(ext || path.basename(abs))} (expected .yaml, .yml or .json): ${abs}` }], abs);
  }
  const text = readText(abs);
  if (ext === '.json') return { abs, raw: parseJson(text, abs) };
  return { abs, ...parseYaml(text, abs) };
}

/** Reads, validates and cross-checks a `.yaml`, `.yml` or `.json` config file. Throws ConfigError. */
export function loadConfig(file: string): Config {
  const { abs, raw, locate } = readRaw(file);
  return validate(raw, abs, locate);
}

/**
 * The path rules (real-paths.ts) once more, on a loaded config: the supervisor runs
 * them after creating the domains, when every path exists and resolves exactly, and
 * long after any `check`. Throws ConfigError.
 */
export function recheckPaths(cfg: Config): void {
  const issues = pathIssues({ dir: cfg.dir, file: cfg.file, stateDir: cfg.stateDir, agents: Object.values(cfg.agents) });
  if (issues.length) throw new ConfigError(issues.map((i) => ({ path: formatPath(i.path), message: i.message })), cfg.file);
}

/**
 * Only where the state directory is, as `configSchema` would resolve it. The CLI's
 * client verbs use this, so that `outheis stop` still works while the file on disk
 * holds a half-finished edit that would not validate.
 */
export function stateDirOf(file: string): string {
  const { abs, raw } = readRaw(file);
  const value = typeof raw === 'object' && raw !== null ? (raw as { state_dir?: unknown }).state_dir : undefined;
  if (value !== undefined && (typeof value !== 'string' || value === '')) {
    throw new ConfigError([{ path: 'state_dir', message: `expected a directory, got ${JSON.stringify(value)}` }], abs);
  }
  return path.resolve(path.dirname(abs), value ?? '.outheis');
}

/** The first of outheis.yaml, outheis.yml, outheis.json that exists in `cwd`, as an absolute path. */
export function findConfigFile(cwd: string = process.cwd()): string | undefined {
  for (const name of CONFIG_FILE_NAMES) {
    const candidate = path.join(path.resolve(cwd), name);
    if (fs.statSync(candidate, { throwIfNoEntry: false })?.isFile()) return candidate;
  }
  return undefined;
}
