// `outheis replay`: the state the journal describes as of a seq or a time, in the
// same shape as the running supervisor's `snapshot` (so the two can be compared).
// It reads segment files only, and works on a stopped system's journal.
import * as z from 'zod';
import { unpackValue } from '../../protocol/frame.js';
import { readRecords } from './recover.js';
import { journalRecordSchema, type AnyRecord } from './schema.js';
import { JournalState, type FiredSlot } from './state.js';

// zod is the single source of this shape: the control socket's `snapshot` reply is
// this schema (supervisor/control/protocol.ts), so `replay --live` compares like with like.
// Numbers are checked for type, not range: a clock stepped back must not make a reply invalid.
export const agentViewSchema = z.object({
  /** A process of it was running. */
  up: z.boolean(),
  pid: z.number().nullable(),
  /** Restarts in the supervisor run at that point. */
  restarts: z.number(),
  /** Ids of the messages owed to it (accepted, neither acked nor dead-lettered), ascending. */
  pending: z.array(z.number()),
  /** Its latest checkpoint, decoded; null if none. */
  checkpoint: z.unknown(),
  /** Messages to it dead-lettered in that run. */
  deadLetters: z.number(),
  lastExit: z.object({ code: z.number().nullable(), signal: z.string().nullable(), reason: z.string(), clean: z.boolean() }).nullable(),
});
export type AgentView = z.infer<typeof agentViewSchema>;

export const stateViewSchema = z.object({
  /** The last record folded in. */
  seq: z.number(),
  at: z.number(),
  supervisor: z.object({ running: z.boolean(), pid: z.number().nullable(), runs: z.number() }),
  agents: z.record(z.string(), agentViewSchema),
  /** Dead letters in the whole journal. */
  deadLetters: z.number(),
  /** The latest reload by then (absent before any): applied or refused, and the config's agents after it. */
  lastReload: z.object({ seq: z.number(), at: z.number(), ok: z.boolean(), agents: z.array(z.string()) }).optional(),
  /** Each schedule's last fired slot by then (absent before any fired): when, as which message to whom, and whether that was still owed. */
  schedules: z.record(z.string(), z.object({ slot: z.number(), at: z.number(), id: z.number(), to: z.string(), owed: z.boolean() })).optional(),
});
export type StateView = z.infer<typeof stateViewSchema>;

/** Schedules' last fired slots as a view shows them, by name (absent when none fired): the fold's and the live supervisor's (snapshot.ts) alike. */
export function scheduleViews(slots: ReadonlyMap<string, FiredSlot>, owed: (id: number) => boolean): StateView['schedules'] {
  if (!slots.size) return undefined;
  return Object.fromEntries([...slots].sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, { slot, at, id, to }]) => [name, { slot, at, id, to, owed: owed(id) }]));
}

/** A checkpoint's bytes as a value; bytes that do not decode are shown as such rather than thrown on. */
export function decodeState(bytes: Uint8Array | undefined): unknown {
  if (!bytes || bytes.length === 0) return null;
  try {
    return unpackValue(bytes);
  } catch {
    return { undecodable: Buffer.from(bytes).toString('base64') };
  }
}

export function viewOf(state: JournalState): StateView {
  const owed = state.owedBy();
  const names = new Set([...state.agents.keys(), ...owed.keys(), ...state.checkpoints.keys()]);
  const agents: Record<string, AgentView> = {};
  for (const name of [...names].sort()) {
    const a = state.agent(name);
    agents[name] = {
      up: a.up, pid: a.pid, restarts: a.restarts,
      pending: (owed.get(name) ?? []).map((m) => m.id),
      checkpoint: decodeState(state.checkpoints.get(name)?.state),
      deadLetters: a.deadLetters,
      lastExit: a.lastExit && { code: a.lastExit.code, signal: a.lastExit.signal, reason: a.lastExit.reason, clean: a.lastExit.clean },
    };
  }
  const s = state.supervisor;
  const view: StateView = { seq: state.lastSeq, at: state.lastAt, supervisor: { running: s.running, pid: s.pid, runs: s.runs }, agents, deadLetters: state.deadLetters };
  if (state.lastReload) view.lastReload = state.lastReload;
  const schedules = scheduleViews(state.schedules, (id) => state.owed.has(id));
  if (schedules) view.schedules = schedules;
  return view;
}

/** Where replay stops: after the record with this seq, or the last record at or before this time. */
export type Until = { seq: number } | { time: number };

/**
 * The fold up to `until`. Unlike recovery (which trusts what its own writer wrote,
 * CRC-checked), replay may be pointed at any journal, so every record is checked
 * against its schema; one that fails is counted in `unreadable` and skipped.
 */
export async function replay(dir: string, until: Until): Promise<StateView & { unreadable: number }> {
  const state = new JournalState();
  let unreadable = 0;
  for await (const r of readRecords(dir)) {
    if ('seq' in until ? r.seq > until.seq : r.at > until.time) break;
    const parsed = journalRecordSchema.safeParse(r);
    if (parsed.success) state.apply(parsed.data as AnyRecord);
    else unreadable++;
  }
  return { ...viewOf(state), unreadable };
}
