// An agent's manifest: the part of its config the sandbox enforces (what code it
// runs, what it owns and may see, what it pledges, its environment, its limits
// and uid, its QoS class for `nice`). The supervisor's config schema composes these
// fields into its agent schema, so the messages and key paths are the config's; the
// doctor builds its probe's manifest with this schema alone.
import path from 'node:path';
import * as z from 'zod';
import { ENV, QOS } from '../protocol/constants.js';
import { describeValue, percentSchema, sizeSchema } from '../protocol/units.js';
import { bundledEntry, bundledNameOf, bundledProblem } from './bundled.js';

export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
/** The wire's QoS classes: config and frames share one list. */
export const QOS_CLASSES = QOS;
export const UNVEIL_MODES = ['r', 'rw'] as const;
export const PLEDGES = ['net', 'spawn', 'worker', 'addons'] as const;

export type Qos = (typeof QOS_CLASSES)[number];
export type UnveilMode = (typeof UNVEIL_MODES)[number];

export const UNKNOWN_KEY_PREFIX = 'unknown key; expected one of: ';

// Every object is strict: a misspelt `heartbaet` silently ignored would leave
// hang detection at its default while the operator believes it is changed.
export function strict<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `${UNKNOWN_KEY_PREFIX}${known}` : undefined),
  });
}

export const nonEmpty = (what: string) => z.string().min(1, { error: `expected ${what}, got an empty string` });

export function mustBePositive<T extends z.ZodType<number>>(schema: T, what: string) {
  return schema.refine((v) => v > 0, { error: (iss) => `expected ${what} greater than 0, got ${describeValue(iss.input)}` });
}

const pledgeSchema = z.string().refine((p) => (PLEDGES as readonly string[]).includes(p) || p === 'send:*' || (p.startsWith('send:') && NAME_PATTERN.test(p.slice(5))), {
  error: (iss) => `expected a pledge: "send:<agent>", "send:*", ${PLEDGES.map((p) => `"${p}"`).join(', ')}; got ${JSON.stringify(iss.input)}`,
});

/** An environment variable's name as a shell would accept it. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What systemd hands the service's main process (sd_notify, the watchdog, socket activation): the supervisor's alone, never an agent's. */
export const SERVICE_MANAGER_ENV = /^(?:NOTIFY_SOCKET|WATCHDOG_[A-Za-z0-9_]*|LISTEN_[A-Za-z0-9_]*)$/;

const SET_BY_SUPERVISOR: ReadonlySet<string> = new Set([...Object.values(ENV), 'MSGPACKR_NATIVE_ACCELERATION_DISABLED']);

/**
 * Names no agent may be given, by `env` or `env_file`, and why. Each would let the
 * config (or whoever can edit an env file) change what the sandbox enforces or what
 * the SDK was told, which the manifest's other keys say openly.
 */
export function reservedEnvName(name: string): string | undefined {
  if (SET_BY_SUPERVISOR.has(name)) return 'the supervisor sets it for the SDK';
  if (name === 'NODE_OPTIONS') return 'node flags here would change the permission model (--allow-fs-write and the like): use unveil and pledge';
  if (name.startsWith('LD_')) return 'the dynamic loader would run code in the hardening chain (bwrap, setpriv, prlimit) before it confines anything';
  if (SERVICE_MANAGER_ENV.test(name)) return 'it is the service manager\'s word to the supervisor (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*): an agent holding it could speak to systemd for the whole service';
  return undefined;
}

/** Why `name` cannot be an agent's variable, or undefined when it can. */
export function envNameProblem(name: string): string | undefined {
  if (!ENV_NAME.test(name)) return `${JSON.stringify(name)} is not a valid variable name (letters, digits and "_", not starting with a digit)`;
  const reserved = reservedEnvName(name);
  return reserved && `${name} is reserved: ${reserved}`;
}

/** `NAME` (passed through from the supervisor's environment) or `NAME=value` (set). */
export function splitEnvEntry(entry: string): { name: string; value: string | undefined } {
  const eq = entry.indexOf('=');
  return eq < 0 ? { name: entry, value: undefined } : { name: entry.slice(0, eq), value: entry.slice(eq + 1) };
}

const envEntry = z.string().superRefine((entry, ctx) => {
  const { name, value } = splitEnvEntry(entry);
  const problem = envNameProblem(name);
  // The entry is quoted whole when its name is malformed: that is how the operator wrote it.
  if (problem) ctx.addIssue({ code: 'custom', message: ENV_NAME.test(name) ? problem : `${JSON.stringify(entry)} is not a valid variable name (expected NAME or NAME=value; NAME is letters, digits and "_", not starting with a digit)` });
  else if (value !== undefined && value.includes('\0')) ctx.addIssue({ code: 'custom', message: `the value of ${name} holds a NUL byte, which no environment can carry` });
});

/** One name, one source: `[MODE=a, MODE=b]` or `[TZ, TZ=UTC]` is a mistake, not a precedence rule to learn. */
const envSchema = z.array(envEntry).superRefine((entries, ctx) => {
  const first = new Map<string, number>();
  entries.forEach((entry, i) => {
    const { name } = splitEnvEntry(entry);
    const at = first.get(name);
    if (at === undefined) first.set(name, i);
    else if (entries[at] !== entry) ctx.addIssue({ code: 'custom', path: [i], message: `${name} is already given by env.${at}` });
  });
}).default(() => []);

// POSIX portable user names (useradd's default rule), or "auto" for a uid per agent.
const userSchema = z.string().regex(/^(?:auto|[a-z_][a-z0-9_-]{0,30}\$?)$/i, {
  error: (iss) => `expected "auto" or a user name, got ${JSON.stringify(iss.input)}`,
});

const limitsSchema = strict({
  memory: mustBePositive(sizeSchema, 'a memory limit').optional(),
  nofile: z.int().min(1).optional(),
  nproc: z.int().min(1).optional(),
  cpu: mustBePositive(percentSchema, 'a cpu share').optional(),
  // A message is one journal record, and records are capped at 16 MiB (logs/journal/record.ts).
  frame: mustBePositive(sizeSchema.prefault('1MiB'), 'a frame size').refine((n) => n <= 16 * 1024 * 1024, 'expected a frame size of at most 16MiB (one message is one journal record)'),
  mailbox: z.int().min(1).default(10_000),
});

/** The manifest's keys, each with its rule and default; the config's agent schema picks them in its own key order. */
export const manifestShape = {
  // A path, or `outheis:<name>` for an agent outheis ships (bundled.ts).
  run: nonEmpty('the path of the agent\'s entry file').superRefine((run, ctx) => {
    const problem = bundledProblem(run);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  args: z.array(z.string()).default(() => []),
  qos: z.enum(QOS_CLASSES).default('user'),
  owns: z.array(nonEmpty('a path')).default(() => []),
  unveil: z.record(nonEmpty('a path'), z.enum(UNVEIL_MODES)).default(() => ({})),
  pledge: z.array(pledgeSchema).default(() => []),
  env: envSchema,
  // NAME=value lines, read by the supervisor at each spawn (supervisor/config/env-file.ts); relative to the config file.
  env_file: nonEmpty('the path of an env file').optional(),
  limits: limitsSchema.prefault({}),
  user: userSchema.optional(),
};

/**
 * Paths in a manifest mean "relative to the config file's directory", not to
 * wherever the supervisor was started (systemd starts it in /).
 */
export function resolvePaths<M extends { run: string; owns: string[]; unveil: Record<string, UnveilMode>; env_file?: string | undefined }>(m: M, dir: string) {
  const abs = (p: string) => path.resolve(dir, p);
  const { env_file, ...rest } = m;
  const bundled = bundledNameOf(m.run);
  return {
    ...rest,
    run: bundled === undefined ? abs(m.run) : bundledEntry(bundled),
    // `outheis:<name>` as written, for check and status to show; `run` is the file that runs.
    ...(bundled === undefined ? {} : { bundled }),
    // Named as the code names things; messages about it quote `env_file`.
    ...(env_file === undefined ? {} : { envFile: abs(env_file) }),
    owns: m.owns.map(abs),
    // `unveil` keeps the keys as written so messages can quote them; enforcement uses this list.
    unveilResolved: Object.entries(m.unveil).map(([key, mode]) => ({ path: abs(key), mode, key })),
  };
}

/** One manifest on its own, its paths resolved against `dir`. */
export function manifestSchema(dir: string) {
  return strict(manifestShape).transform((m) => resolvePaths(m, dir));
}

/** What the sandbox enforces for one agent, and its name. The supervisor's AgentConfig is one. */
export type AgentManifest = z.output<ReturnType<typeof manifestSchema>> & { name: string };

/**
 * Every agent's manifest, and what planning needs of the config around them:
 * its directory (relative paths, the sandbox's working directory), the state
 * directory (masked from every agent) and the start order. The supervisor's
 * Config is one.
 */
export interface Manifests {
  dir: string;
  stateDir: string;
  order: readonly string[];
  agents: Readonly<Record<string, AgentManifest>>;
}
