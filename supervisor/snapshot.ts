// The live state in replay's shape (logs/journal/replay.ts): what `outheis replay`
// computes from the journal, taken from the running supervisor instead.
import type { Journal } from '../logs/journal/journal.js';
import { decodeState, scheduleViews, type StateView } from '../logs/journal/replay.js';
import type { FiredSlot } from '../logs/journal/state.js';
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
  /** Each schedule's last fired slot, as the journal says it (schedules/marks.ts); absent: none. */
  readonly schedules?: ReadonlyMap<string, FiredSlot> | undefined;
}

/**
 * Taken when everything noted so far is committed, with the seq it is true at:
 * `outheis replay --until <seq>` of the same journal must say the same.
 */
export async function snapshot({ journal, router, slots, halting, deadLetters, schedules }: SnapshotSource): Promise<StateView> {
  for (;;) {
    await journal.idle();
    // Nothing may have been noted between the commit and this turn of the microtask queue.
    if (journal.writer.quiet && router.settled) break;
  }
  const agents: StateView['agents'] = {};
  const owed = new Set<number>();
  for (const name of [...slots].map((s) => s.name).sort()) {
    const slot = slots.get(name);
    const pending = [...slot.route.mailbox.all()].map((e) => e.id).sort((a, b) => a - b);
    for (const id of pending) owed.add(id);
    const exit = slot.lastExit;
    agents[name] = {
      up: slot.proc !== undefined, pid: slot.pid ?? null, restarts: slot.restarts, pending,
      checkpoint: decodeState(slot.checkpoint?.state), deadLetters: slot.deadLetters,
      lastExit: exit ? { code: exit.code, signal: exit.signal, reason: exit.reason, clean: exit.clean } : null,
    };
  }
  const runs = journal.recovered.supervisor.runs + 1;
  const view: StateView = { seq: journal.writer.lastSeq, at: Date.now(), supervisor: { running: !halting(), pid: process.pid, runs }, agents, deadLetters: journal.recovered.deadLetters + deadLetters() };
  const fired = schedules && scheduleViews(schedules, (id) => owed.has(id));
  if (fired) view.schedules = fired;
  return view;
}
