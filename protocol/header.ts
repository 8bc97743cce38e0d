// Frame headers: the only part of a frame the supervisor decodes. zod is the single
// source of these types; the agent SDK imports them as types only, so agents never
// load zod.
import * as z from 'zod';
import { ERROR_CODES, KIND_MAX, NAME_MAX, QOS, type Qos } from './constants.js';

export { QOS, type Qos } from './constants.js';
export const qosSchema = z.enum(QOS);

import type { ErrorCode } from './constants.js';
export { ERROR_CODES, type ErrorCode } from './constants.js';
export const errorCodeSchema = z.enum(ERROR_CODES);

const name = z.string().min(1).max(NAME_MAX);
const kind = z.string().min(1).max(KIND_MAX);
const seq = z.number().int().nonnegative();
const wireError = z.object({ code: errorCodeSchema, message: z.string().max(4096) }).strict();
export type WireError = z.infer<typeof wireError>;

// ---- agent → supervisor ---------------------------------------------------
export const agentHeaderSchema = z.discriminatedUnion('t', [
  /** The agent is up: deliver from now on. */
  z.object({ t: z.literal('ready') }).strict(),
  /** Liveness; any frame also counts, this one is for quiet agents. */
  z.object({ t: z.literal('hb') }).strict(),
  /**
   * A one-way send (req absent) or a request (req: true). seq is the sender's own counter.
   * A request's `timeout` (ms) lets the supervisor answer ETIMEDOUT for a reply owed by another host.
   */
  z.object({ t: z.literal('send'), seq, to: name, kind, qos: qosSchema.optional(), req: z.literal(true).optional(), timeout: z.number().int().positive().max(2 ** 31 - 1).optional() }).strict(),
  /** The reply to delivered request `corr` (the supervisor's message id); also acks it. */
  z.object({ t: z.literal('reply'), corr: seq, err: wireError.optional() }).strict(),
  /** Handlers for these delivered message ids have finished. */
  z.object({ t: z.literal('ack'), ids: z.array(seq).min(1).max(65536) }).strict(),
  /** Save the body as this agent's state; accepted (acc) in order with its sends, once journaled. */
  z.object({ t: z.literal('ckpt'), seq }).strict(),
]);
export type AgentHeader = z.infer<typeof agentHeaderSchema>;

// ---- supervisor → agent ---------------------------------------------------
/** A delivered message. */
export interface MsgHeader { t: 'msg'; id: number; from: string; kind: string; qos: Qos; req?: true; redelivered?: true }
/** Sends up to and including `seq` are accepted. */
export interface AccHeader { t: 'acc'; seq: number }
/** Send `seq` was refused; it is not accepted. */
export interface RejHeader { t: 'rej'; seq: number; code: ErrorCode; message: string }
/** The reply to this agent's request `corr` (its seq). */
export interface ResHeader { t: 'res'; corr: number; err?: WireError }
/** Shut down gracefully. */
export interface StopHeader { t: 'stop' }
/**
 * Always the first frame on a new channel; its body is the agent's last checkpoint,
 * if it has one. The SDK reads it synchronously at start, so that `agent.restored`
 * is there before any of the agent's own code runs.
 */
export interface InitHeader { t: 'init'; restored: boolean }
export type SupervisorHeader = MsgHeader | AccHeader | RejHeader | ResHeader | StopHeader | InitHeader;
