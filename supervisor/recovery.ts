// Recovery: the journal, folded when it was opened, put back into the router and
// the agents' slots before any agent starts.
import type { Journal } from '../logs/journal/journal.js';
import { idFloor } from '../logs/journal/state.js';
import type { Logger } from '../logs/logger.js';
import type { AgentSlots } from './agent-slot.js';
import type { Router } from './router/index.js';
import type { Scheduler } from './schedules/scheduler.js';

export interface Recovered {
  /** Messages accepted and neither acked nor dead-lettered, put back into mailboxes. */
  owed: number;
  /** Agents' latest checkpoints the journal held. */
  checkpoints: number;
  /** The previous run did not stop cleanly. */
  crashed: boolean;
}

export interface RecoveryTarget {
  readonly router: Pick<Router, 'seedIds' | 'restore'>;
  readonly slots: AgentSlots;
  readonly log: Logger;
  /** Told each schedule's last fired slot before the owed messages go back (one of them may be its firing). */
  readonly scheduler?: Pick<Scheduler, 'recover'> | undefined;
}

/**
 * Put back what the journal says is still owed, before any agent starts: every
 * message accepted and not acked or dead-lettered goes back into its mailbox, in
 * id order, and each agent's latest checkpoint is handed to its first process.
 * After a crash a message may have been handled without its ack reaching the
 * journal, so everything owed is flagged redelivered; after a clean stop only
 * what was delivered before is.
 */
export function recover(journal: Journal, { router, slots, log, scheduler }: RecoveryTarget): Recovered {
  const state = journal.recovered;
  const crashed = state.supervisor.running;
  scheduler?.recover(state.scheduleSlots());
  // Past every id the journal holds, and past every id an earlier run can have used even if its journal is gone.
  router.seedIds(Math.max(state.maxId, idFloor(Date.now())));
  const owed = state.owed.size;
  for (const m of [...state.owed.values()].sort((a, b) => a.id - b.id)) {
    router.restore({
      id: m.id, from: m.from, to: m.to, kind: m.kind, qos: m.qos, req: m.req,
      // No requester incarnation matches: a reply to a request from the last run goes nowhere. A
      // requester on another host still waits, and is answered by its id there (remote senders' epoch is 0).
      seq: m.origin ? m.origin.id : 0, fromEpoch: m.origin ? 0 : -1,
      // A copy: the record's bytes are a view into its whole segment, which would stay in memory with it.
      body: Buffer.from(m.body),
      redelivered: crashed || m.attempts > 0, attempts: m.attempts, segment: m.segment, done: false,
      ...(m.origin ? { origin: m.origin } : {}),
    });
  }
  // Counted before the hand-over below empties the map.
  const checkpoints = state.checkpoints.size;
  for (const [agent, c] of state.checkpoints) {
    const slot = slots.find(agent);
    if (slot) slot.checkpoint = { state: Buffer.from(c.state), segment: c.segment };
    else journal.release(c.segment);
  }
  // Handed over: the router and the slots own them now.
  state.owed.clear();
  state.checkpoints.clear();
  const rec = journal.recovery;
  log[crashed ? 'warn' : 'info']({
    records: rec.records, lastSeq: rec.lastSeq, owed, checkpoints, truncatedBytes: rec.truncatedBytes,
    previousRun: crashed ? 'did not stop cleanly' : state.supervisor.runs ? 'stopped cleanly' : 'none',
  }, 'journal recovered');
  for (const m of rec.movedAside) {
    log.error({ segment: m.file, offset: m.offset, movedTo: m.to, bytes: m.bytes, reason: m.reason, recordsInside: m.recordsInside },
      'journal damage moved aside: the records in it are not replayed; inspect the file, nothing was deleted');
  }
  return { owed, checkpoints, crashed };
}
