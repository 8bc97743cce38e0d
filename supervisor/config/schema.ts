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
import * as z from 'zod';
import { durationSchema, sizeSchema } from '../../protocol/units.js';
import { crossCheck, startOrder } from './cross-checks.js';
import { manifestShape, mustBePositive, nonEmpty, NAME_PATTERN, resolvePaths, strict } from '../../policies/manifest.js';
import { FSYNC_POLICIES, type FsyncPolicy } from '../../logs/journal/writer.js';
import { SCHEDULER, schedulesSchema } from '../schedules/spec.js';

export { FSYNC_POLICIES, type FsyncPolicy };

// The manifest (what the sandbox enforces) is policies' schema; this file adds supervision, journal and logs.
export {
  NAME_PATTERN,
  PLEDGES,
  QOS_CLASSES,
  UNKNOWN_KEY_PREFIX,
  UNVEIL_MODES,
  type Qos,
  type UnveilMode,
} from '../../policies/manifest.js';

/** Names the router uses for itself, the CLI and the schedules' sender; an agent by one of them would be unaddressable. */
export const RESERVED_AGENT_NAMES: ReadonlySet<string> = new Set(['operator', 'supervisor', SCHEDULER]);

export const STRATEGIES = ['one_for_one', 'one_for_all', 'rest_for_one'] as const;
export const RESTART_TYPES = ['permanent', 'transient', 'temporary'] as const;

export type Strategy = (typeof STRATEGIES)[number];
export type RestartType = (typeof RESTART_TYPES)[number];

/** Where the file came from; paths inside it are resolved against `dir`. */
export interface ConfigContext {
  file: string;
  dir: string;
}

const nameRules = 'a letter, then up to 62 letters, digits, "_" or "-"';
const groupName = z.string().regex(NAME_PATTERN, { error: (iss) => `invalid group name ${JSON.stringify(iss.input)}: expected ${nameRules}` });
const agentName = z
  .string()
  .regex(NAME_PATTERN, { error: (iss) => `invalid agent name ${JSON.stringify(iss.input)}: expected ${nameRules}` })
  .refine((n) => !RESERVED_AGENT_NAMES.has(n), {
    error: (iss) => `agent name ${JSON.stringify(iss.input)} is reserved (operator, supervisor and scheduler are names the router uses itself)`,
  });

/** A host's name in the cluster: a NATS subject token, so no dots or wildcards. */
export const HOST_PATTERN = /^[a-z0-9_-]{1,32}$/;
const hostName = z.string().regex(HOST_PATTERN, { error: (iss) => `invalid host name ${JSON.stringify(iss.input)}: expected 1 to 32 of a-z, 0-9, "_" or "-"` });
const natsUrl = z.string().regex(/^(nats|tls|ws|wss):\/\/\S+$/, { error: (iss) => `expected a NATS URL such as nats://127.0.0.1:4222, got ${JSON.stringify(iss.input)}` });

// Several hosts (cluster/): absent, nothing of NATS is loaded. Credentials only from a
// file (creds or nkey seed), so they never sit in a config that is shown or copied.
const clusterSchema = strict({
  nats: z.union([natsUrl, z.array(natsUrl).min(1)]),
  host: hostName,
  agents: z.record(agentName, hostName).default(() => ({})),
  creds: nonEmpty('a file').optional(),
  stream: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a stream name of letters, digits, "_" or "-"').default('OUTHEIS'),
  // The most messages owed to one remote agent (in its mailbox, unpublished or unreceipted) before senders wait.
  owed_max: z.int().min(1).max(10_000_000).default(100_000),
}).optional();

const backoffSchema = strict({
  initial: durationSchema.prefault('100ms'),
  max: durationSchema.prefault('15s'),
  // Default is the group's period, filled in by the group transform below.
  reset: durationSchema.optional(),
});

// A group without backoff keys of its own takes the root's (supervisor.backoff); reset
// defaults to the group's own period, the window its intensity is judged in.
const nestedBackoffSchema = strict({ initial: durationSchema.optional(), max: durationSchema.optional(), reset: durationSchema.optional() });

// systemd's StartLimitBurst/IntervalSec per child (agent or group). Unset keys come from
// its supervisor: burst its intensity, interval its period; interval 0 turns the limit off.
const startLimitSchema = strict({ burst: z.int().min(0).optional(), interval: durationSchema.optional() });
type StartLimitIn = z.output<typeof startLimitSchema> | undefined;

const groupShape = {
  strategy: z.enum(STRATEGIES).default('one_for_one'),
  intensity: z.int().min(0).default(5),
  period: mustBePositive(durationSchema.prefault('30s'), 'a period'),
};

type Backoff = { initial: number; max: number; reset: number };
type GroupIn = { strategy: Strategy; intensity: number; period: number; backoff: { initial: number; max: number; reset?: number | undefined } };

function checkBackoff(g: GroupIn, ctx: z.RefinementCtx, path: (string | number)[] = [], from = '') {
  if (g.backoff.max < g.backoff.initial) {
    ctx.addIssue({ code: 'custom', path: [...path, 'backoff', 'max'], message: `expected backoff.max (${g.backoff.max}ms${from}) to be at least backoff.initial (${g.backoff.initial}ms)` });
  }
}

function resolveGroup<G extends GroupIn>(g: G) {
  return { ...g, backoff: { initial: g.backoff.initial, max: g.backoff.max, reset: g.backoff.reset ?? g.period } };
}

function inheritBackoff<G extends { period: number; backoff?: { initial?: number | undefined; max?: number | undefined; reset?: number | undefined } | undefined }>(g: G, root: Backoff) {
  const own = g.backoff ?? {};
  return { ...g, backoff: { initial: own.initial ?? root.initial, max: own.max ?? root.max, reset: own.reset ?? g.period } };
}

function resolveStartLimit(own: StartLimitIn, parent: { intensity: number; period: number }) {
  return { burst: own?.burst ?? parent.intensity, interval: own?.interval ?? parent.period };
}

// Root: systemd's rule by default (the rest run on); groups: OTP's (a group gives up, and fails in its parent).
const rootGroupSchema = strict({ ...groupShape, escalate: z.boolean().default(false), backoff: backoffSchema.prefault({}) }).superRefine((g, ctx) => checkBackoff(g, ctx)).transform(resolveGroup);
const nestedGroupSchema = strict({ ...groupShape, escalate: z.boolean().default(true), backoff: nestedBackoffSchema.optional(), start_limit: startLimitSchema.optional(), group: z.string().optional() });

// The manifest's keys keep their places among the supervision keys: an unknown
// key's message lists them all in this order.
const m = manifestShape;
const agentObject = strict({
  run: m.run,
  args: m.args,
  group: z.string().optional(),
  after: z.array(z.string()).default(() => []),
  restart: z.enum(RESTART_TYPES).default('permanent'),
  qos: m.qos,
  owns: m.owns,
  unveil: m.unveil,
  pledge: m.pledge,
  env: m.env,
  env_file: m.env_file,
  limits: m.limits,
  start_limit: startLimitSchema.optional(),
  heartbeat: durationSchema.prefault('5s'),
  shutdown: durationSchema.prefault('5s'),
  start_timeout: mustBePositive(durationSchema.prefault('10s'), 'a start timeout'),
  user: m.user,
});

function agentSchema(ctx: ConfigContext) {
  return agentObject.transform((a) => resolvePaths(a, ctx.dir));
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
    schedules: schedulesSchema,
    cluster: clusterSchema,
  }).superRefine((c, rc) => {
    for (const [name, g] of Object.entries(c.groups)) {
      const from = g.backoff?.max === undefined ? ', from supervisor.backoff' : '';
      checkBackoff(inheritBackoff(g, c.supervisor.backoff), rc, ['groups', name], from);
    }
  }).transform((c) => ({
    file: ctx.file,
    dir: ctx.dir,
    state_dir: path.resolve(ctx.dir, c.state_dir),
    journal: c.journal,
    logs: c.logs,
    metrics: c.metrics,
    schedules: c.schedules,
    cluster: c.cluster && { ...c.cluster, creds: c.cluster.creds === undefined ? undefined : path.resolve(ctx.dir, c.cluster.creds) },
    supervisor: c.supervisor,
    groups: Object.fromEntries(Object.entries(c.groups).map(([name, g]) => [name, {
      ...inheritBackoff(g, c.supervisor.backoff),
      start_limit: resolveStartLimit(g.start_limit, c.groups[g.group ?? ''] ?? c.supervisor),
    }])),
    // The record key is the name; agents carry it so they can be passed around alone.
    agents: Object.fromEntries(Object.entries(c.agents).map(([name, a]) => [name, {
      name, ...a, start_limit: resolveStartLimit(a.start_limit, c.groups[a.group ?? ''] ?? c.supervisor),
    }])),
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
      ...codeNames(c),
      // Duplicates are harmless, but only dropped now so that cross-check
      // paths (agents.x.pledge.2) still index the lists as written.
      agents: Object.fromEntries(
        Object.entries(c.agents).map(([name, { start_timeout, start_limit, ...a }]) => [
          name,
          { ...a, startTimeout: start_timeout, startLimit: start_limit, after: dedupe(a.after), owns: dedupe(a.owns), pledge: dedupe(a.pledge), env: dedupe(a.env) },
        ]),
      ),
      order: startOrder(c.agents),
    }));
}

/**
 * The one place where the file's snake_case keys become the code's names. Everything
 * before it (validation, cross-checks) speaks the file's keys, so that an error quotes
 * the key the operator wrote; everything after it reads a Config.
 */
function codeNames({ state_dir, journal, logs, groups, cluster, ...rest }: ResolvedConfig) {
  const { max_attempts, max_size, segment_size, ...j } = journal;
  const { max_size: logMax, max_line, ...l } = logs;
  const clusterOf = ({ owed_max, ...c }: NonNullable<typeof cluster>) => ({ ...c, owedMax: owed_max });
  return {
    ...rest,
    cluster: cluster && clusterOf(cluster),
    groups: Object.fromEntries(Object.entries(groups).map(([name, { start_limit, ...g }]) => [name, { ...g, startLimit: start_limit }])),
    stateDir: state_dir,
    journal: { ...j, maxAttempts: max_attempts, maxSize: max_size, segmentSize: segment_size },
    logs: { ...l, maxSize: logMax, maxLine: max_line },
  };
}

export type Config = z.output<ReturnType<typeof configSchema>>;
export type AgentConfig = Config['agents'][string];
export type GroupConfig = Config['supervisor'];
export type NestedGroupConfig = Config['groups'][string];
export type Limits = AgentConfig['limits'];
export type ClusterConfig = NonNullable<Config['cluster']>;
export type UnveilEntry = AgentConfig['unveilResolved'][number];
