// The config file's schema, and the single source of the config types.
//
// The schema is built per file (configSchema(ctx)) because relative paths in
// the file mean "relative to the file", not to whatever directory the
// supervisor happened to be started from (systemd starts it in /).
//
// Pipeline: strict structure → resolve paths and inherit defaults →
// cross-checks (cross-checks.ts) → final normalisation and start order.
// Zod stops the pipeline at the first stage that reports a structural
// problem, so cross-checks only ever see a well-formed config; unknown keys
// are the exception (zod lets them through), so a typo and a dependency cycle
// are reported together.

import path from 'node:path';
import { z } from 'zod';
import { describeValue, durationSchema, percentSchema, sizeSchema } from '../../protocol/units.js';
import { crossCheck, startOrder } from './cross-checks.js';
import { QOS } from '../../protocol/constants.js';

export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
/** Names the router uses for itself and for the CLI; an agent by either name would be unaddressable. */
export const RESERVED_AGENT_NAMES: ReadonlySet<string> = new Set(['operator', 'supervisor']);

export const STRATEGIES = ['one_for_one', 'one_for_all', 'rest_for_one'] as const;
export const RESTART_TYPES = ['permanent', 'transient', 'temporary'] as const;
/** The wire's QoS classes: config and frames share one list. */
export const QOS_CLASSES = QOS;
export const FSYNC_POLICIES = ['always', 'batch', 'interval', 'none'] as const;
export const UNVEIL_MODES = ['r', 'rw'] as const;
export const PLEDGES = ['net', 'spawn', 'worker', 'addons'] as const;

export type Strategy = (typeof STRATEGIES)[number];
export type RestartType = (typeof RESTART_TYPES)[number];
export type Qos = (typeof QOS_CLASSES)[number];
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];
export type UnveilMode = (typeof UNVEIL_MODES)[number];

/** Where the file came from; paths inside it are resolved against `dir`. */
export interface ConfigContext {
  file: string;
  dir: string;
}

export const UNKNOWN_KEY_PREFIX = 'unknown key; expected one of: ';

// Every object is strict: a misspelt `heartbaet` silently ignored would leave
// hang detection at its default while the operator believes it is changed.
function strict<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `${UNKNOWN_KEY_PREFIX}${known}` : undefined),
  });
}

const nameRules = 'a letter, then up to 62 letters, digits, "_" or "-"';
const groupName = z.string().regex(NAME_PATTERN, { error: (iss) => `invalid group name ${JSON.stringify(iss.input)}: expected ${nameRules}` });
const agentName = z
  .string()
  .regex(NAME_PATTERN, { error: (iss) => `invalid agent name ${JSON.stringify(iss.input)}: expected ${nameRules}` })
  .refine((n) => !RESERVED_AGENT_NAMES.has(n), {
    error: (iss) => `agent name ${JSON.stringify(iss.input)} is reserved (operator and supervisor are names the router uses itself)`,
  });

const nonEmpty = (what: string) => z.string().min(1, { error: `expected ${what}, got an empty string` });

const pledgeSchema = z.string().refine((p) => (PLEDGES as readonly string[]).includes(p) || p === 'send:*' || (p.startsWith('send:') && NAME_PATTERN.test(p.slice(5))), {
  error: (iss) => `expected a pledge: "send:<agent>", "send:*", ${PLEDGES.map((p) => `"${p}"`).join(', ')}; got ${JSON.stringify(iss.input)}`,
});

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
  error: (iss) => `expected an environment variable name (letters, digits, "_"; not starting with a digit), got ${JSON.stringify(iss.input)}`,
});

// POSIX portable user names (useradd's default rule), or "auto" for a uid per agent.
const userSchema = z.string().regex(/^(?:auto|[a-z_][a-z0-9_-]{0,30}\$?)$/i, {
  error: (iss) => `expected "auto" or a user name, got ${JSON.stringify(iss.input)}`,
});

function mustBePositive<T extends z.ZodType<number>>(schema: T, what: string) {
  return schema.refine((v) => v > 0, { error: (iss) => `expected ${what} greater than 0, got ${describeValue(iss.input)}` });
}

const backoffSchema = strict({
  initial: durationSchema.prefault('100ms'),
  max: durationSchema.prefault('15s'),
  // Default is the group's period, filled in by the group transform below.
  reset: durationSchema.optional(),
});

const groupShape = {
  strategy: z.enum(STRATEGIES).default('one_for_one'),
  intensity: z.int().min(0).default(5),
  period: mustBePositive(durationSchema.prefault('30s'), 'a period'),
  backoff: backoffSchema.prefault({}),
};

type GroupIn = { strategy: Strategy; intensity: number; period: number; backoff: { initial: number; max: number; reset?: number | undefined } };

function checkBackoff(g: GroupIn, ctx: z.RefinementCtx) {
  if (g.backoff.max < g.backoff.initial) {
    ctx.addIssue({ code: 'custom', path: ['backoff', 'max'], message: `expected backoff.max (${g.backoff.max}ms) to be at least backoff.initial (${g.backoff.initial}ms)` });
  }
}

function resolveGroup<G extends GroupIn>(g: G) {
  return { ...g, backoff: { initial: g.backoff.initial, max: g.backoff.max, reset: g.backoff.reset ?? g.period } };
}

const rootGroupSchema = strict(groupShape).superRefine(checkBackoff).transform(resolveGroup);
const nestedGroupSchema = strict({ ...groupShape, group: z.string().optional() }).superRefine(checkBackoff).transform(resolveGroup);

const limitsSchema = strict({
  memory: mustBePositive(sizeSchema, 'a memory limit').optional(),
  nofile: z.int().min(1).optional(),
  nproc: z.int().min(1).optional(),
  cpu: mustBePositive(percentSchema, 'a cpu share').optional(),
  // A message is one journal record, and records are capped at 16 MiB (logs/journal/record.ts).
  frame: mustBePositive(sizeSchema.prefault('1MiB'), 'a frame size').refine((n) => n <= 16 * 1024 * 1024, 'expected a frame size of at most 16MiB (one message is one journal record)'),
  mailbox: z.int().min(1).default(10_000),
});

const agentObject = strict({
  run: nonEmpty('the path of the agent\'s entry file'),
  args: z.array(z.string()).default(() => []),
  group: z.string().optional(),
  after: z.array(z.string()).default(() => []),
  restart: z.enum(RESTART_TYPES).default('permanent'),
  qos: z.enum(QOS_CLASSES).default('user'),
  owns: z.array(nonEmpty('a path')).default(() => []),
  unveil: z.record(nonEmpty('a path'), z.enum(UNVEIL_MODES)).default(() => ({})),
  pledge: z.array(pledgeSchema).default(() => []),
  env: z.array(envName).default(() => []),
  limits: limitsSchema.prefault({}),
  heartbeat: durationSchema.prefault('5s'),
  shutdown: durationSchema.prefault('5s'),
  start_timeout: mustBePositive(durationSchema.prefault('10s'), 'a start timeout'),
  user: userSchema.optional(),
});

function agentSchema(ctx: ConfigContext) {
  const abs = (p: string) => path.resolve(ctx.dir, p);
  return agentObject.transform((a) => ({
    ...a,
    run: abs(a.run),
    owns: a.owns.map(abs),
    // `unveil` keeps the keys as written so messages can quote them; enforcement uses this list.
    unveilResolved: Object.entries(a.unveil).map(([key, mode]) => ({ path: abs(key), mode, key })),
  }));
}

function resolvedSchema(ctx: ConfigContext) {
  return strict({
    state_dir: nonEmpty('a directory').default('.outheis'),
    journal: strict({
      fsync: z.enum(FSYNC_POLICIES).default('batch'),
      // For fsync: interval, how far behind the disk may be.
      interval: mustBePositive(durationSchema.prefault('100ms'), 'an fsync interval'),
      // Deliveries of one message before it goes to the dead letters (a poison message must not crash its agent forever).
      max_attempts: z.int().min(1).max(1000).default(5),
      // Settled segments (every message in them acked or dead-lettered) older than this are removed.
      retain: durationSchema.prefault('24h'),
      // Over this, the oldest segments go even if young: what is still live in them is copied forward first.
      max_size: mustBePositive(sizeSchema.prefault('1GiB'), 'a journal size'),
      segment_size: sizeSchema.prefault('64MiB').refine((n) => n >= 64 * 1024, 'expected a segment size of at least 64KiB'),
    }).superRefine((j, ctx) => {
      if (j.max_size < 2 * j.segment_size) ctx.addIssue({ code: 'custom', path: ['max_size'], message: `expected at least two segments' worth (2 × segment_size = ${2 * j.segment_size} bytes)` });
    }).prefault({}),
    // Per file: <name>.log plus `keep` rotated ones, so a chatty agent costs at most max_size × (keep + 1) of disk.
    logs: strict({
      max_size: mustBePositive(sizeSchema.prefault('10MiB'), 'a log file size'),
      keep: z.int().min(0).max(100).default(5),
      // One line of agent output is cut here: a 50 MB line must not become a 50 MB string in the supervisor.
      max_line: mustBePositive(sizeSchema.prefault('64KiB'), 'a line length'),
    }).prefault({}),
    // How often agents' CPU and RSS are sampled (pidusage) for status, top and limits; 0 turns sampling (and limit enforcement) off.
    // 2s: with 100 agents a 1s cadence alone costs the supervisor ~0.5% of a core (bench/idle.ts).
    metrics: strict({ interval: durationSchema.prefault('2s') }).prefault({}),
    supervisor: rootGroupSchema.prefault({}),
    groups: z.record(groupName, nestedGroupSchema).default(() => ({})),
    agents: z.record(agentName, agentSchema(ctx)),
  }).transform((c) => ({
    file: ctx.file,
    dir: ctx.dir,
    state_dir: path.resolve(ctx.dir, c.state_dir),
    journal: c.journal,
    logs: c.logs,
    metrics: c.metrics,
    supervisor: c.supervisor,
    groups: c.groups,
    // The record key is the name; agents carry it so they can be passed around alone.
    agents: Object.fromEntries(Object.entries(c.agents).map(([name, a]) => [name, { name, ...a }])),
  }));
}

/** The config after path resolution, before cross-checks; what cross-checks.ts inspects. */
export type ResolvedConfig = z.output<ReturnType<typeof resolvedSchema>>;

const dedupe = <T>(xs: readonly T[]): T[] => [...new Set(xs)];

export function configSchema(ctx: ConfigContext) {
  return resolvedSchema(ctx)
    .superRefine((c, rc) => {
      for (const issue of crossCheck(c)) rc.addIssue({ code: 'custom', path: issue.path, message: issue.message, input: undefined });
    })
    .transform((c) => ({
      ...c,
      // Duplicates are harmless, but only dropped now so that cross-check
      // paths (agents.x.pledge.2) still index the lists as written.
      agents: Object.fromEntries(
        Object.entries(c.agents).map(([name, a]) => [
          name,
          { ...a, after: dedupe(a.after), owns: dedupe(a.owns), pledge: dedupe(a.pledge), env: dedupe(a.env) },
        ]),
      ),
      order: startOrder(c.agents),
    }));
}

export type Config = z.output<ReturnType<typeof configSchema>>;
export type AgentConfig = Config['agents'][string];
export type GroupConfig = Config['supervisor'];
export type NestedGroupConfig = Config['groups'][string];
export type Limits = AgentConfig['limits'];
export type UnveilEntry = AgentConfig['unveilResolved'][number];
