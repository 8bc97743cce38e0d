// Hang detection: an agent that has sent nothing (no frame, no heartbeat) for its
// `heartbeat` period is hung, e.g. a busy loop or a blocked event loop. One timer
// for all agents; its period follows the tightest heartbeat.
import type { AgentSlot } from './agent-slot.js';

export function watchdogPeriod(slots: Iterable<AgentSlot>): number {
  const beats = [...slots].map((s) => s.cfg.heartbeat).filter((h) => h > 0);
  return Math.min(1000, Math.max(50, Math.floor(Math.min(...beats, 4000) / 4)));
}

/** The slots that missed their heartbeat, with how long they have been silent. */
export function* hung(slots: Iterable<AgentSlot>, now: number): Generator<[AgentSlot, number]> {
  for (const slot of slots) {
    const hb = slot.cfg.heartbeat;
    if (hb > 0 && slot.readyAt && slot.link && !slot.stopping && now - slot.link.lastSeen > hb) yield [slot, now - slot.link.lastSeen];
  }
}
