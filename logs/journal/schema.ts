// What the journal holds: one zod schema per record type, the single source of
// their types. The writer and recovery never validate (a million records a second
// leave no room for it, and the CRC already vouches for the bytes); readers that
// show records to people (`outheis journal`, `replay`) do, so a record from a
// newer or damaged journal is reported, not misread.
import * as z from 'zod';
import { QOS } from '../../protocol/constants.js';

const id = z.number().int().nonnegative();
const name = z.string().min(1);
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected bytes');
const base = { seq: id, at: z.number() };

/** What a reload did: the journal's record and the control socket's answer share it. */
export const reloadShape = {
  ok: z.boolean(),
  agents: z.array(name),
  added: z.array(name),
  removed: z.array(name),
  /** Kept agents restarted: their manifest changed (changed says which keys), or their group was rebuilt. */
  restarted: z.array(name),
  changed: z.array(z.object({ agent: name, keys: z.array(z.string()) })),
  /** Groups whose strategy changed: rebuilt, their agents restarted in order. */
  rebuilt: z.array(name),
  /** Settings now in force without a restart (`groups.g.intensity`, `supervisor.strategy`). */
  inPlace: z.array(z.string()),
  /** Settings the running supervisor keeps until it is restarted (`journal.fsync`), with both values. */
  notApplied: z.array(z.object({ key: z.string(), running: z.unknown(), file: z.unknown() })),
  /** Messages owed to removed agents, given up on as dead letters (`outheis redrive` sends them again). */
  deadLettered: z.number().int(),
  /** Agents it started that did not become ready within their start timeout. */
  notReady: z.array(name),
  /** Why it was refused: the config's key paths, or why this machine cannot confine a new manifest. */
  issues: z.array(z.object({ path: z.string(), message: z.string(), line: z.number().optional() })),
};

export const recordSchemas = {
  /** A message the router accepted: durable before its sender hears so and before delivery. */
  accept: z.object({
    ...base, type: z.literal('accept'), id, from: name, to: name, kind: z.string(), qos: z.enum(QOS),
    req: z.literal(true).optional(), body: bytes,
    /** Set on a copy carried forward out of a segment retention removed: that segment's first seq. */
    carried: id.optional(),
    /** On a carried copy: deliveries so far (the deliver records went with the old segment). */
    attempts: z.number().int().optional(),
    /** Set on a message the operator sent again (`outheis redrive`): the id of the dead letter it redrives. */
    redrive: id.optional(),
    /** Set on a firing (from `scheduler`): the schedule's name, and the slot (ms since the epoch) it fired for. */
    schedule: name.optional(),
    slot: z.number().optional(),
    /** Set on a message from another host (cluster/): that host and the message's id there, by which a re-sent copy is known. */
    origin: z.object({ host: name, id }).optional(),
  }),
  /** Messages handed to an agent, one record per delivered batch: attempts are counted from these. */
  deliver: z.object({ ...base, type: z.literal('deliver'), agent: name, ids: z.array(id) }),
  /** Handlers finished (or replied): these messages are done. */
  ack: z.object({ ...base, type: z.literal('ack'), agent: name, ids: z.array(id) }),
  /** Given up on: too many failed attempts, or its agent is gone for good. */
  deadletter: z.object({
    ...base, type: z.literal('deadletter'), agent: name, id, from: name, kind: z.string(), attempts: z.number().int(), reason: z.string(),
    /** The message itself, so that `outheis redrive` can send it again after its accept record is gone (absent in older journals). */
    qos: z.enum(QOS).optional(), body: bytes.optional(),
  }),
  /** A send refused because the sender had not pledged it (DESIGN: EDENIED to the sender, journaled). */
  denied: z.object({ ...base, type: z.literal('denied'), agent: name, to: z.string(), kind: z.string() }),
  /** An agent's saved state; the latest one is handed back to its next incarnation. */
  checkpoint: z.object({ ...base, type: z.literal('checkpoint'), agent: name, state: bytes, carried: id.optional() }),
  /** The supervisor started (pid, config) or stopped cleanly (code). */
  start: z.object({ ...base, type: z.literal('start'), pid: z.number().int(), config: z.string(), version: z.string() }),
  stop: z.object({ ...base, type: z.literal('stop'), code: z.number().int() }),
  spawn: z.object({ ...base, type: z.literal('spawn'), agent: name, pid: z.number().int() }),
  /** The agent said ready; pid is its node process (inside a sandbox, not bubblewrap's). */
  ready: z.object({ ...base, type: z.literal('ready'), agent: name, pid: z.number().int().nullable() }),
  exit: z.object({ ...base, type: z.literal('exit'), agent: name, code: z.number().int().nullable(), signal: z.string().nullable(), reason: z.string(), clean: z.boolean() }),
  restart: z.object({ ...base, type: z.literal('restart'), agent: name, delayMs: z.number(), reason: z.string() }),
  escalate: z.object({ ...base, type: z.literal('escalate'), group: name, reason: z.string() }),
  limit: z.object({ ...base, type: z.literal('limit'), agent: name, limit: z.string(), reason: z.string() }),
  /**
   * The journal's directory or tail segment was removed under the running supervisor, which
   * recreated it: the first record of the new tail. What was still owed, and the latest
   * checkpoints, follow it as carried copies (counted here); the history before it is gone.
   */
  lost: z.object({ ...base, type: z.literal('lost'), reason: z.string(), carried: z.number().int(), checkpoints: z.number().int() }),
  /**
   * A reload (SIGHUP, `outheis reload`): applied (ok) with what it changed, or refused
   * with the config's issues and nothing changed. `agents`: the config's agents after
   * it, in start order (the running ones, when refused).
   */
  reload: z.object({ ...base, type: z.literal('reload'), ...reloadShape }),
  /**
   * A schedule's last fired slot, carried forward out of a segment retention removed
   * (supervisor/schedules/marks.ts): once its firing's accept record is gone, this is the
   * proof the slot fired. `firedAt` and `id`: when, and as which message, the accept said.
   */
  fired: z.object({ ...base, type: z.literal('fired'), schedule: name, slot: z.number(), id, to: name, firedAt: z.number(), carried: id.optional() }),
};

export const journalRecordSchema = z.discriminatedUnion('type', Object.values(recordSchemas) as unknown as [
  (typeof recordSchemas)['accept'], ...(typeof recordSchemas)[keyof typeof recordSchemas][],
]);

export type RecordOf<T extends keyof typeof recordSchemas> = z.infer<(typeof recordSchemas)[T]>;
export type RecordType = keyof typeof recordSchemas;
export const RECORD_TYPE_NAMES = Object.keys(recordSchemas) as RecordType[];
/** A record as the writer takes it: seq is assigned there, at defaults to the commit's time. */
export type NewRecordOf<T extends RecordType> = Omit<RecordOf<T>, 'seq' | 'at'> & { at?: number };
export type AnyNewRecord = { [T in RecordType]: NewRecordOf<T> }[RecordType];
export type AnyRecord = { [T in RecordType]: RecordOf<T> }[RecordType];
