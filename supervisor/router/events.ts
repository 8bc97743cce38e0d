import type { Envelope } from '../mailbox.js';

export interface RouterEvents {
  /** An agent broke the protocol (flood); the caller stops it. */
  fault(agent: string, reason: string): void;
  denied?(from: string, to: string, kind: string): void;
  /** A checkpoint is durable (segment -1 with the memory journal). */
  checkpointed?(agent: string, state: Buffer, segment: number): void;
  /** A message was given up on and written to the dead letters. */
  deadLettered?(env: Envelope, reason: string): void;
  /** A group could not be journaled: its sends were refused. */
  journalFailed?(err: Error, refused: number): void;
}
