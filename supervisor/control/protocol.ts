// The control socket's protocol: one JSON object per line each way. zod is the
// single source of the request and reply types: the server validates every request
// with the schemas and is type-checked against the result types; the CLI validates
// every reply, so that a supervisor of another version, or garbage, is an error that
// names the field rather than a crash somewhere in rendering.
import { scheduleStatusSchema } from '../schedules/spec.js';
import * as z from 'zod';
import { stateViewSchema } from '../../logs/journal/replay.js';
import { NAME_MAX, KIND_MAX, QOS } from '../../protocol/constants.js';
import { AGENT_STATES } from '../agent-slot.js';
import { reloadShape } from '../../logs/journal/schema.js';

/** A request line longer than this is refused (and the connection closed): a send body is capped by the frame limit anyway. */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

const agentName = z.string().min(1).max(NAME_MAX);
/** The client's own number for the request, echoed in the reply (requests on one connection may be answered out of order). */
const id = z.number().int().nonnegative().optional();
/**
 * ms since the epoch: the client gives up on an answer then, so a request still
 * unread by that time (a supervisor that was stopped with SIGSTOP, or overloaded)
 * is refused with ETIMEDOUT rather than carried out after the operator was told it
 * failed. The client and the supervisor share a clock: the socket is local.
 */
const deadline = z.number().optional();

export const requestSchema = z.discriminatedUnion('op', [
  z.object({ id, deadline, op: z.literal('ping') }).strict(),
  z.object({ id, deadline, op: z.literal('status') }).strict(),
  /** Without `agent`: stop everything (the supervisor exits). With it: stop that agent and keep it stopped. */
  z.object({ id, deadline, op: z.literal('stop'), agent: agentName.optional() }).strict(),
  z.object({ id, deadline, op: z.literal('restart'), agent: agentName }).strict(),
  /** The live state in replay's shape, at a seq the journal has committed through (compare with `outheis replay --until seq`). */
  z.object({ id, deadline, op: z.literal('snapshot') }).strict(),
  z.object({
    id,
    deadline,
    op: z.literal('send'),
    to: agentName,
    kind: z.string().min(1).max(KIND_MAX),
    body: z.unknown().optional(),
    qos: z.enum(QOS).optional(),
    wait: z.boolean().optional(),
    /** ms; only with wait */
    timeout: z.number().int().positive().max(2 ** 31 - 1).optional(),
  }).strict(),
  /** Re-read the config file and apply only the difference (supervisor/reload/). */
  z.object({ id, deadline, op: z.literal('reload') }).strict(),
  // ---- detail (status <agent>) ----
  /** One agent in depth: its manifest, isolation, last exits with their stderr, restarts in the window, the next backoff. */
  z.object({ id, deadline, op: z.literal('detail'), agent: agentName }).strict(),
  // ---- redrive: dead letters sent again (supervisor/redrive.ts) ----
  /** Exactly one of: these dead letters' ids, every pending one for `agent`, or `all` pending ones. */
  z.object({
    id,
    deadline,
    op: z.literal('redrive'),
    ids: z.array(z.number().int().nonnegative()).min(1).max(100_000).optional(),
    agent: agentName.optional(),
    all: z.literal(true).optional(),
  }).strict(),
]);
export type Request = z.infer<typeof requestSchema>;
export type Op = Request['op'];

/** A failed parse as its first issue, `path: message` (`result.agents.0.state: Invalid option: …`), for a request or a reply alike. */
export function firstIssue(error: z.ZodError, prefix?: string): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = [...(prefix ? [prefix] : []), ...issue.path.map(String)].join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Error codes on the control socket: the wire's, plus the socket's own. */
export const CONTROL_ERRORS = ['EBADREQ', 'ETOOBIG', 'ENOAGENT', 'EDENIED', 'ETIMEDOUT', 'EHANDLER', 'ESHUTDOWN', 'EJOURNAL', 'EINTERNAL', 'ENOTDEAD', 'EBUSY'] as const;
export type ControlErrorCode = (typeof CONTROL_ERRORS)[number];

export const errorReplySchema = z.object({ id, ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) });
export const okReplySchema = z.object({ id, ok: z.literal(true), result: z.unknown() });
export const replySchema = z.discriminatedUnion('ok', [okReplySchema, errorReplySchema]);
export type ErrorReply = z.infer<typeof errorReplySchema>;
export type OkReply = z.infer<typeof okReplySchema>;
export type Reply = z.infer<typeof replySchema>;

// ---- status ----------------------------------------------------------------

export type { AgentState } from '../agent-slot.js';

// Types, not ranges: the schemas catch a reply of another shape, and a clock that
// stepped back must not make an uptime a protocol error.
const count = z.number().int().nonnegative();
const pid = z.number().int().positive();
/** ms since the epoch */
const time = z.number();

export const lastExitSchema = z.object({
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
  at: time,
  /** why: "exited with code 3", "killed by SIGKILL", "memory limit: rss 301 MiB over 64 MiB", "stopped", … */
  reason: z.string(),
  /** exit code 0, or stopped on purpose: not a failure */
  clean: z.boolean(),
});
export type LastExitJson = z.infer<typeof lastExitSchema>;

export const isolationSchema = z.object({
  /** The layers in force for this agent, e.g. ["env", "fds"]; the sandbox adds "uid", "bwrap", "permission", "rlimits". */
  layers: z.array(z.string()),
  /** True when the agent runs with less isolation than its manifest asks for (--allow-weaker-isolation). */
  weaker: z.boolean(),
  /** The cgroup hierarchy its limits are enforced in; absent: no cgroup (the fallback, shown WEAKER). */
  cgroup: z.enum(['v1', 'v2']).optional(),
  /** Without a cgroup: the limits only sampled every few seconds (limits.cpu, limits.memory). */
  sampled: z.array(z.string()).optional(),
});
export type IsolationJson = z.infer<typeof isolationSchema>;

export const agentStatusSchema = z.object({
  name: z.string(),
  group: z.string().nullable(),
  pid: pid.nullable(),
  state: z.enum(AGENT_STATES),
  /** since it became ready; 0 when not running */
  uptimeMs: z.number(),
  restarts: count,
  lastExit: lastExitSchema.nullable(),
  /** percent of one core over the last sampling interval; null before the first sample or when not running */
  cpu: z.number().nullable(),
  /** resident set size in bytes; null as for cpu */
  rss: z.number().nullable(),
  /** limits.memory in bytes, when set */
  memoryLimit: z.number().nullable(),
  /** messages queued, not yet delivered */
  mailbox: count,
  /** delivered, not yet acked */
  inflight: count,
  qos: z.enum(QOS),
  isolation: isolationSchema,
  /** messages to it given up on since start (too many failed deliveries) */
  deadLetters: count,
});
export type AgentStatusJson = z.infer<typeof agentStatusSchema>;

export const journalStatusSchema = z.object({
  dir: z.string(),
  /** bytes of segment files on disk */
  bytes: count,
  segments: count,
  /** the last seq written */
  lastSeq: count,
  fsync: z.string(),
  /** writes that failed since the last one that succeeded (a full disk, journal.max_size reached): not 0 while sends are refused with EJOURNAL */
  failures: count,
  /** writes that failed since start */
  failuresTotal: count.optional(),
  lastError: z.string().nullable(),
  /** each time the journal directory or its tail segment was removed under this run, and recreated (logged at fatal level) */
  losses: z.array(z.object({ at: time, reason: z.string(), carried: count, checkpoints: count, error: z.string().optional() })).optional(),
  maxAttempts: count,
  /** where recovery at this start moved damaged records aside (journal/damaged/…): the operator should look */
  damaged: z.array(z.object({ file: z.string(), movedTo: z.string(), bytes: count, reason: z.string() })),
  /** journal.max_size and journal.retain, as configured */
  maxBytes: count,
  retainMs: count,
});
export type JournalStatusJson = z.infer<typeof journalStatusSchema>;

export const supervisorStatusSchema = z.object({
  pid,
  version: z.string(),
  startedAt: time,
  uptimeMs: z.number(),
  cpu: z.number().nullable(),
  rss: z.number().nullable(),
  config: z.string(),
  stateDir: z.string(),
  /** true once a stop of everything has begun */
  stopping: z.boolean(),
  /** null when the supervisor runs without a journal (embedded, in tests) */
  journal: journalStatusSchema.nullable(),
});
export type SupervisorStatusJson = z.infer<typeof supervisorStatusSchema>;

/** Several hosts (`cluster:` in the config): the link to NATS, and what is owed to each remote agent. */
export const clusterStatusSchema = z.object({
  host: z.string(),
  connected: z.boolean(),
  server: z.string().nullable(),
  /** ms since the epoch: connected, or disconnected, since then. */
  since: z.number(),
  lastError: z.string().nullable(),
  /** Other hosts that published their pledges. */
  peers: z.array(z.string()),
  /** Per remote agent: queued here, or published and not yet receipted (a request: not yet replied). */
  owed: z.array(z.object({ agent: z.string(), host: z.string(), owed: z.number().int() })),
  /** This host's consumer: messages in the stream not yet taken (stream lag), and taken but not acked; null: not known yet. */
  pending: z.number().int().nullable(),
  ackPending: z.number().int().nullable(),
  /** Messages of other hosts this host remembers by origin, to take a copy sent again as a duplicate (bounded by each origin's low-water mark). */
  dedup: z.number().int().optional(),
});
export type ClusterStatusJson = z.infer<typeof clusterStatusSchema>;

export const statusResultSchema = z.object({
  supervisor: supervisorStatusSchema, agents: z.array(agentStatusSchema),
  /** The config's schedules (supervisor/schedules/); absent from supervisors before them. */
  schedules: z.array(scheduleStatusSchema).optional(),
  /** Only with `cluster:` in the config. */
  cluster: clusterStatusSchema.optional(),
});
export type StatusResult = z.infer<typeof statusResultSchema>;

// ---- the other operations ----------------------------------------------------

export const pingResultSchema = z.object({ pid, version: z.string() });

/** Everything stopped (the supervisor exits), in this order; or one agent, now in this state. */
export const stopResultSchema = z.union([
  z.object({ stopped: z.array(z.string()) }),
  z.object({ agent: z.string(), state: z.enum(AGENT_STATES) }),
]);

/** ready: the new process came up within the agent's start timeout. */
export const restartResultSchema = z.object({ agent: z.string(), ready: z.boolean(), previousPid: pid.nullable(), pid: pid.nullable(), state: z.enum(AGENT_STATES) });

/** Accepted (journaled); or, with `wait`, the reply's body. */
export const sendResultSchema = z.union([z.object({ accepted: z.literal(true) }), z.object({ reply: z.unknown() })]);

/** The state the journal describes, in replay's own schema (logs/journal/replay.ts): `replay --live` sets the two side by side. */
export const snapshotResultSchema = stateViewSchema;

// ---- detail: one agent, for `status <agent>` (why did it fail?) ----------------

export const exitRecordSchema = lastExitSchema.extend({
  /** The last lines its process wrote to stderr before this exit, oldest first (bounded: supervisor/exit-history.ts). */
  stderr: z.array(z.string()),
});
export type ExitRecordJson = z.infer<typeof exitRecordSchema>;

/** The agent's manifest and supervision settings as configured; durations in ms, sizes in bytes. */
export const manifestJsonSchema = z.object({
  run: z.string(),
  args: z.array(z.string()),
  group: z.string().nullable(),
  after: z.array(z.string()),
  restart: z.string(),
  qos: z.enum(QOS),
  owns: z.array(z.string()),
  /** keys as written in the config */
  unveil: z.record(z.string(), z.string()),
  pledge: z.array(z.string()),
  /** Names only: values are secrets (API keys) and never leave the supervisor. */
  env: z.array(z.string()),
  limits: z.object({
    memory: z.number().nullable(), cpu: z.number().nullable(), nofile: z.number().nullable(), nproc: z.number().nullable(),
    frame: z.number(), mailbox: z.number(),
  }),
  heartbeatMs: z.number(),
  shutdownMs: z.number(),
  startTimeoutMs: z.number(),
  user: z.string().nullable(),
});
export type ManifestJson = z.infer<typeof manifestJsonSchema>;

export const detailResultSchema = z.object({
  /** The same row as in `status`. */
  agent: agentStatusSchema,
  manifest: manifestJsonSchema,
  /** Newest first, at most supervisor/exit-history.ts EXITS_KEPT; exits before this supervisor started are not known here (see `outheis journal`). */
  exits: z.array(exitRecordSchema),
  /** Restarts the tree ordered for this agent within its group's intensity window (`period`), and what the group allows. */
  restarts: z.object({ inWindow: count, windowMs: count, intensity: count, group: z.string() }),
  /** Set while the agent waits out a backoff: when it starts again, and the delay that was chosen. */
  backoff: z.object({ nextStartAt: time, delayMs: count }).nullable(),
});
export type DetailResult = z.infer<typeof detailResultSchema>;

/** Each dead letter redriven: its id, and the id of the new message that carries it again. */
export const redriveResultSchema = z.object({ redriven: z.array(z.object({ id: count, as: count, to: z.string(), kind: z.string() })) });

/**
 * What a reload did (the journal's record, logs/journal/schema.ts), with the file it read.
 * ok false: refused, `issues` say why, nothing changed.
 */
export const reloadResultSchema = z.object({ ...reloadShape, file: z.string() });
export type ReloadResult = z.infer<typeof reloadResultSchema>;

/** Each operation's result, by op: what the server must produce and the client checks. */
export const resultSchemas = {
  ping: pingResultSchema,
  status: statusResultSchema,
  stop: stopResultSchema,
  restart: restartResultSchema,
  snapshot: snapshotResultSchema,
  send: sendResultSchema,
  detail: detailResultSchema,
  redrive: redriveResultSchema,
  reload: reloadResultSchema,
} satisfies Record<Op, z.ZodTypeAny>;
export type RequestOf<O extends Op> = Extract<Request, { op: O }>;
export type ResultOf<O extends Op> = z.infer<(typeof resultSchemas)[O]>;
