// Where the supervisor tells what happened, the same three ways from every module:
// its log (for people), the journal (for recovery and replay), and its events (for
// embedders, `outheis start`'s log files, and tests).
import type { AnyNewRecord } from '../logs/journal/schema.js';
import type { Logger } from '../logs/logger.js';
import type { LastExit } from './agent-slot.js';

/** The events a Supervisor emits, with their arguments. */
export interface SupervisorEvents {
  /** One line of an agent's stdout or stderr (cut at logs.max_line: truncated). */
  output: [agent: string, stream: 'stdout' | 'stderr', line: string, truncated: boolean];
  spawn: [agent: string, pid: number];
  ready: [agent: string, pid: number | undefined];
  fault: [agent: string, reason: string];
  limit: [agent: string, limit: 'memory' | 'cpu', reason: string];
  exit: [agent: string, lastExit: LastExit];
  restart: [agent: string, delayMs: number, reason: string];
  /** The tree will not restart it (its restart type, or its group gave up). */
  removed: [agent: string, reason: string];
  escalate: [group: string, reason: string];
  deadletter: [agent: string, id: number, reason: string];
  /** A stop of everything has begun (a signal, `outheis stop`, a root escalation); `code` is the exit code it ends with. */
  halting: [code: number];
  /** A reload has begun: the new config validated, its difference is being applied. */
  reloading: [];
  /** A reload ended: applied (ok), or refused with the running config kept. */
  reloaded: [ok: boolean];
}

export interface Reports {
  readonly log: Logger;
  /** Journal a record, if there is a journal; nobody waits for it. */
  note(rec: AnyNewRecord): void;
  emit<E extends keyof SupervisorEvents>(event: E, ...args: SupervisorEvents[E]): void;
}
