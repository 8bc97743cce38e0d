// The live state in replay's shape (logs/journal/replay.ts): what `outheis replay`
// computes from the journal, taken from the running supervisor instead.
import type { Journal } from '../logs/journal/journal.js';
import { decodeState, type StateView } from '../logs/journal/replay.js';
import type { AgentSlots } from './agent-slot.js';
import type { Router } from './router/index.js';

export interface SnapshotSource {
  readonly journal: Journal;
  readonly router: Pick<Router, 'settled'>;
  readonly slots: AgentSlots;
  /** Read once everything is committed, as the counts below. */
  halting(): boolean;
  /** Messages dead-lettered in this run. */
  deadLetters(): number;
}

/**
 * Taken when everything noted so far is committed, with the seq it is true at:
 * `outheis replay --until <seq>` of the same journal must say the same.
 */
export async function snapshot({ journal, router, slots, halting, deadLetters }: SnapshotSource): Promise<StateView> {
  for (;;) {
    await journal.idle();
    // Nothing may have been noted between the commit and this turn of the microtask queue.
    if (journal.writer.quiet && router.settled) break;
  }
  const agents: StateView['agents'] = {};
  for (const name of [...slots].map((s) => s.name).sort()) {
    const slot = slots.get(name);
    const pending = [...slot.route.mailbox.all()].map((e) => e.id).sort((a, b) => a - b);
    const exit = slot.lastExit;
    agents[name] = {
      up: slot.proc !== undefined, pid: slot.pid ?? null, restarts: slot.restarts, pending,
      checkpoint: decodeState(slot.checkpoint?.state), deadLetters: slot.deadLetters,
      lastExit: exit ? { code: exit.code, signal: exit.signal, reason: exit.reason, clean: exit.clean } : null,
    };
  }
  const runs = journal.recovered.supervisor.runs + 1;
  return { seq: journal.writer.lastSeq, at: Date.now(), supervisor: { running: !halting(), pid: process.pid, runs }, agents, deadLetters: journal.recovered.deadLetters + deadLetters() };
}
