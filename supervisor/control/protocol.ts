// The control socket's protocol: one JSON object per line each way. zod is the
// single source of the request and reply types; the CLI imports the types, the
// server validates every request with the schemas.
import { z } from 'zod';
import { NAME_MAX, KIND_MAX, QOS } from '../../protocol/constants.js';

/** A request line longer than this is refused (and the connection closed): a send body is capped by the frame limit anyway. */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

const agentName = z.string().min(1).max(NAME_MAX);
/** The client's own number for the request, echoed in the reply (requests on one connection may be answered out of order). */
const id = z.number().int().nonnegative().optional();

export const requestSchema = z.discriminatedUnion('op', [
  z.object({ id, op: z.literal('ping') }).strict(),
  z.object({ id, op: z.literal('status') }).strict(),
  /** Without `agent`: stop everything (the supervisor exits). With it: stop that agent and keep it stopped. */
  z.object({ id, op: z.literal('stop'), agent: agentName.optional() }).strict(),
  z.object({ id, op: z.literal('restart'), agent: agentName }).strict(),
  /** The live state in replay's shape, at a seq the journal has committed through (compare with `outheis replay --until seq`). */
  z.object({ id, op: z.literal('snapshot') }).strict(),
  z.object({
    id,
    op: z.literal('send'),
    to: agentName,
    kind: z.string().min(1).max(KIND_MAX),
    body: z.unknown().optional(),
    qos: z.enum(QOS).optional(),
    wait: z.boolean().optional(),
    /** ms; only with wait */
    timeout: z.number().int().positive().max(2 ** 31 - 1).optional(),
  }).strict(),
]);
export type Request = z.infer<typeof requestSchema>;
export type Op = Request['op'];

/** Error codes on the control socket: the wire's, plus the socket's own. */
export const CONTROL_ERRORS = ['EBADREQ', 'ETOOBIG', 'ENOAGENT', 'EDENIED', 'ETIMEDOUT', 'EHANDLER', 'ESHUTDOWN', 'EJOURNAL', 'EINTERNAL'] as const;
export type ControlErrorCode = (typeof CONTROL_ERRORS)[number];

export interface ErrorReply { id?: number; ok: false; error: { code: ControlErrorCode | string; message: string } }
export interface OkReply<T = unknown> { id?: number; ok: true; result: T }
export type Reply<T = unknown> = OkReply<T> | ErrorReply;

// ---- status ----------------------------------------------------------------

export type { AgentState } from '../agent-slot.js';
import type { AgentState } from '../agent-slot.js';

export interface LastExitJson {
  code: number | null;
  signal: string | null;
  /** ms since the epoch */
  at: number;
  /** why: "exited with code 3", "killed by SIGKILL", "memory limit: rss 301 MiB over 64 MiB", "stopped", … */
  reason: string;
  /** exit code 0, or stopped on purpose: not a failure */
  clean: boolean;
}

export interface IsolationJson {
  /** The layers in force for this agent, e.g. ["env", "fds"]; the sandbox adds "uid", "bwrap", "permission", "rlimits". */
  layers: string[];
  /** True when the agent runs with less isolation than its manifest asks for (--allow-weaker-isolation). */
  weaker: boolean;
}

export interface AgentStatusJson {
  name: string;
  group: string | null;
  pid: number | null;
  state: AgentState;
  /** since it became ready; 0 when not running */
  uptimeMs: number;
  restarts: number;
  lastExit: LastExitJson | null;
  /** percent of one core over the last sampling interval; null before the first sample or when not running */
  cpu: number | null;
  /** resident set size in bytes; null as for cpu */
  rss: number | null;
  /** limits.memory in bytes, when set */
  memoryLimit: number | null;
  /** messages queued, not yet delivered */
  mailbox: number;
  /** delivered, not yet acked */
  inflight: number;
  qos: (typeof QOS)[number];
  isolation: IsolationJson;
  /** messages to it given up on since start (too many failed deliveries) */
  deadLetters: number;
}

export interface JournalStatusJson {
  dir: string;
  /** bytes of segment files on disk */
  bytes: number;
  segments: number;
  /** the last seq written */
  lastSeq: number;
  fsync: string;
  /** writes that failed since start (a full disk): sends were refused with EJOURNAL */
  failures: number;
  lastError: string | null;
  maxAttempts: number;
  /** where recovery at this start moved damaged records aside (journal/damaged/…): the operator should look */
  damaged: { file: string; movedTo: string; bytes: number; reason: string }[];
  /** journal.max_size and journal.retain, as configured */
  maxBytes: number;
  retainMs: number;
}

export interface SupervisorStatusJson {
  pid: number;
  version: string;
  /** ms since the epoch */
  startedAt: number;
  uptimeMs: number;
  cpu: number | null;
  rss: number | null;
  config: string;
  stateDir: string;
  /** true once a stop of everything has begun */
  stopping: boolean;
  /** null when the supervisor runs without a journal (embedded, in tests) */
  journal: JournalStatusJson | null;
}

export interface StatusResult {
  supervisor: SupervisorStatusJson;
  agents: AgentStatusJson[];
}
