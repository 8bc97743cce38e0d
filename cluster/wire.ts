// What supervisors say to each other through JetStream: subjects and headers. The
// body of a message is the agent's, untouched (the dispatcher never decodes it); our
// fields travel in NATS headers, validated here on the way in, because anything on
// the stream may have been published by any holder of the account's credentials.
import * as z from 'zod';
import { ERROR_CODES, KIND_MAX, NAME_MAX, QOS } from '../protocol/constants.js';

/** Every supervisor's messages, receipts and replies: one stream over `outheis.>`. */
export const SUBJECT_ROOT = 'outheis';
/** A host's own consumer takes `outheis.<host>.>`: its agents' messages, and these two. */
export const RECEIPT = '_receipt';
export const REPLY = '_reply';

export const agentSubject = (host: string, agent: string): string => `${SUBJECT_ROOT}.${host}.${agent}`;
export const hostFilter = (host: string): string => `${SUBJECT_ROOT}.${host}.>`;

/** Header names; NATS headers are case-insensitive, and these are written as given. */
export const H = {
  from: 'Outheis-From',
  host: 'Outheis-Host',
  id: 'Outheis-Id',
  kind: 'Outheis-Kind',
  qos: 'Outheis-Qos',
  req: 'Outheis-Req',
  redelivered: 'Outheis-Redelivered',
  corr: 'Outheis-Corr',
  err: 'Outheis-Err',
  /** On a message: the origin owes this host nothing below this id (the receiver forgets those origins). */
  low: 'Outheis-Low',
} as const;

const hostName = z.string().regex(/^[a-z0-9_-]{1,32}$/);
const agentName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,62}$/).max(NAME_MAX);
const id = z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const flag = z.enum(['1']).optional();

/** A message for one of this host's agents, as its headers say. */
export const inboundMsgSchema = z.object({
  from: agentName,
  host: hostName,
  id,
  kind: z.string().min(1).max(KIND_MAX),
  qos: z.enum(QOS),
  req: flag,
  redelivered: flag,
  low: id.optional(),
});
export type InboundMsg = z.infer<typeof inboundMsgSchema>;

/** Receipts: these ids (ours) are journaled on `host`; the body is a JSON array of them. */
export const receiptSchema = z.object({ host: hostName, ids: z.array(id).min(1).max(65536) });
export type Receipt = z.infer<typeof receiptSchema>;

/** A reply to our request `corr`; with `err` set, the body is the error as JSON. */
export const replyHeadersSchema = z.object({ host: hostName, corr: id, err: flag });
export const wireErrorSchema = z.object({ code: z.enum(ERROR_CODES), message: z.string().max(4096) });
export type WireErr = z.infer<typeof wireErrorSchema>;

/** Header values by our field names, for a zod parse; absent headers are undefined. */
export function fields(get: (name: string) => string, keys: readonly (keyof typeof H)[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const k of keys) {
    const v = get(H[k]);
    out[k] = v === '' ? undefined : v;
  }
  return out;
}

/** The dedup id of a message in the stream: the origin host and its journal id there. */
export const msgIdOf = (host: string, id: number): string => `${host}.${id}`;
