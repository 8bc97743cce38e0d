// Hang detection: an agent that has sent nothing (no frame, no heartbeat) for its
// `heartbeat` period is hung, e.g. a busy loop or a blocked event loop. One timer
// for all agents; its period follows the tightest heartbeat.
//
// Silence only counts while the supervisor was listening. When the supervisor itself
// stalls (SIGSTOP, Ctrl-Z, a starved or blocked event loop), its timers fire late and
// before the frames that piled up meanwhile are read (timers run before I/O in a loop
// turn), so every agent would look silent; a wall-clock jump would do the same to
// `lastSeen`. So the watchdog measures its own lateness on the monotonic clock, and
// the wall clock against it, and after either every agent gets a fresh window. The
// deadlines agents must meet (start_timeout, the shutdown budget) are timers that
// notice their own lateness the same way and re-arm for a fresh window.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../logs/logger.js';
import type { AgentSlot } from './agent-slot.js';

/**
 * A quarter of the tightest heartbeat, within 50 ms … 1 s. It is also the lateness that
 * counts as a stall of the supervisor: beats come every half heartbeat, so a lag under
 * half the tightest heartbeat cannot make an agent look hung, and a quarter leaves a
 * margin; under 50 ms is jitter, not a stall.
 */
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

/** A pending deadline (see Watchdog.deadline). */
export interface Deadline {
  cancel(): void;
}

/** Schedules a deadline that a stall of the supervisor does not shorten. */
export type Deadlines = (ms: number, expired: () => void) => Deadline;

export interface WatchdogContext {
  readonly log: Logger;
  /** Kill a hung agent (exits.ts). */
  fault(slot: AgentSlot, reason: string): void;
}

export class Watchdog {
  readonly period: number;
  readonly stallMs: number;
  private timer: NodeJS.Timeout | undefined;
  private lastMono = performance.now();
  private lastWall = Date.now();
  /** Monotonic time up to which stalls have been reported: one stall, one line, whichever timer saw it first. */
  private reportedUntil = -Infinity;

  constructor(private readonly slots: Iterable<AgentSlot>, private readonly ctx: WatchdogContext) {
    this.period = watchdogPeriod(slots);
    this.stallMs = this.period;
  }

  start(): void {
    this.lastMono = performance.now();
    this.lastWall = Date.now();
    this.timer = setInterval(() => this.tick(), this.period);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** `expired` runs `ms` after now, unless the timer fires late (the supervisor stalled): then a fresh `ms` starts. */
  readonly deadline: Deadlines = (ms, expired) => {
    let timer: NodeJS.Timeout;
    const arm = () => {
      const due = performance.now() + ms;
      timer = setTimeout(() => {
        const late = performance.now() - due;
        if (late <= this.stallMs) return expired();
        this.stalled(late);
        arm();
      }, ms);
    };
    arm();
    return { cancel: () => clearTimeout(timer) };
  };

  private tick(): void {
    const mono = performance.now();
    const wall = Date.now();
    const late = mono - this.lastMono - this.period;
    const jump = wall - this.lastWall - (mono - this.lastMono);
    this.lastMono = mono;
    this.lastWall = wall;
    if (late > this.stallMs) return this.stalled(late);
    if (Math.abs(jump) > this.stallMs) {
      this.ctx.log.warn({ jumpMs: Math.round(jump) }, `wall clock jumped ${jump > 0 ? 'forward' : 'back'} ${(Math.abs(jump) / 1000).toFixed(1)} s: heartbeat windows restarted`);
      return this.restartWindows();
    }
    for (const [slot, silentMs] of hung(this.slots, wall)) {
      this.ctx.fault(slot, `hung: no heartbeat for ${silentMs} ms (limit ${slot.cfg.heartbeat} ms)`);
    }
  }

  /** A timer fired `lateMs` after it was due: nothing of ours ran meanwhile, so no agent is to blame for its silence. */
  private stalled(lateMs: number): void {
    const now = performance.now();
    // The watchdog's own lateness, when it runs, measures the whole stall best.
    const stall = this.timer ? Math.max(lateMs, now - this.lastMono - this.period) : lateMs;
    if (now - stall >= this.reportedUntil) {
      this.ctx.log.warn({ stallMs: Math.round(stall) }, `supervisor stalled ${(stall / 1000).toFixed(1)} s (stopped or starved): heartbeat windows restarted`);
    }
    this.reportedUntil = now;
    this.restartWindows();
  }

  /** Every agent's silence counts from now. */
  private restartWindows(): void {
    const now = Date.now();
    for (const slot of this.slots) if (slot.link) slot.link.lastSeen = now;
  }
}
