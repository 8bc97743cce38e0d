// The scheduler: one timer per schedule, armed for its next slot; at the slot, a
// message from `scheduler` goes through the router like any send (admitted,
// journaled, delivered, redelivered after a crash). Its rules:
//   - no pile-up: while the previous firing is unhandled (not acked or
//     dead-lettered, also one recovered from the journal), a slot is skipped and
//     counted, not queued;
//   - no slot twice: a slot at or before the last one fired (this run, or as the
//     journal recorded) never fires;
//   - catch_up: after downtime that skipped slots, the latest missed one fires
//     once; without it, missed slots are skipped.
import type { Logger } from '../../logs/logger.js';
import type { FiredSlot, ScheduleSlot } from '../../logs/journal/state.js';
import type { SupervisorHeader } from '../../protocol/header.js';
import { MAX_DURATION_MS } from '../../protocol/units.js';
import { canonical } from '../reload/diff.js';
import type { Outlet, Route, Router } from '../router/index.js';
import { clockOf, type Clock } from './clock.js';
import { describeSpec, SCHEDULER, slotSpecOf, type Schedule, type ScheduleStatus } from './spec.js';
import type { Firing, ScheduleTap } from './tap.js';

interface Running {
  name: string;
  spec: Schedule;
  clock: Clock;
  /** The last slot fired; never fired again, nor any before it. */
  lastSlot: number | null;
  /** The message the last firing became: 'sending' until its accept record is staged. */
  owed: number | 'sending' | undefined;
  lastId: number | null;
  next: number | null;
  skipped: number;
  timer: NodeJS.Timeout | undefined;
}

const EMPTY = Buffer.alloc(0);

export class Scheduler implements Outlet {
  private readonly running = new Map<string, Running>();
  /** Owed firings by message id: acks and dead letters name ids only. */
  private readonly owedIds = new Map<number, string>();
  private readonly route: Route;
  private seq = 0;
  /** Firings not yet accepted, by send seq: a refusal after staging (EJOURNAL) names only the seq. */
  private readonly unaccepted = new Map<number, string>();
  private started = false;
  private recovered = new Map<string, ScheduleSlot>();

  constructor(private readonly router: Router, private readonly tap: ScheduleTap, private readonly log: Logger, schedules: Record<string, Schedule>) {
    // A sender only: `removed` makes the router refuse sends to it, so no agent can fill a mailbox nobody reads.
    this.route = router.add({ name: SCHEDULER, qos: 'utility', pledge: ['send:*'], mailbox: 1, maxFrame: Number.MAX_SAFE_INTEGER });
    router.attach(this.route, this);
    this.route.removed = true;
    tap.events = {
      staged: (f, id) => this.staged(f, id),
      settled: (id) => this.settled(id),
      owing: () => this.owedIds.size > 0,
    };
    this.configure(schedules);
  }

  /** Each schedule's last fired slot, as the journal recorded it; before start. */
  recover(slots: ReadonlyMap<string, ScheduleSlot>): void {
    this.recovered = new Map(slots);
    this.tap.marks.seed(slots);
    for (const s of this.running.values()) this.adoptRecovered(s);
  }

  private adoptRecovered(s: Running): void {
    const r = this.recovered.get(s.name);
    if (!r) return;
    s.lastSlot = Math.max(s.lastSlot ?? -Infinity, r.slot);
    s.lastId = r.id;
    if (r.owed) {
      s.owed = r.id;
      this.owedIds.set(r.id, s.name);
    }
  }

  /** Each schedule's last fired slot as the journal holds it, also of schedules no longer configured (the live replay view). */
  get marks(): ReadonlyMap<string, FiredSlot> {
    return this.tap.marks.all;
  }

  start(): void {
    this.started = true;
    for (const s of this.running.values()) this.arm(s, true);
  }

  stop(): void {
    this.started = false;
    for (const s of this.running.values()) clearTimeout(s.timer);
  }

  /** The config's schedules (at start, and after each reload): added ones arm, removed ones stop, changed ones re-arm and keep their history. */
  configure(schedules: Record<string, Schedule>): void {
    for (const [name, s] of this.running) {
      if (schedules[name]) continue;
      clearTimeout(s.timer);
      this.running.delete(name);
    }
    for (const [name, spec] of Object.entries(schedules)) {
      const was = this.running.get(name);
      if (was && canonical(was.spec) === canonical(spec)) continue;
      if (was) clearTimeout(was.timer);
      const s: Running = was
        ? { ...was, spec, clock: clockOf(slotSpecOf(spec)), timer: undefined }
        : { name, spec, clock: clockOf(slotSpecOf(spec)), lastSlot: null, owed: undefined, lastId: null, next: null, skipped: 0, timer: undefined };
      if (!was) this.adoptRecovered(s);
      this.running.set(name, s);
      if (this.started) this.arm(s, false);
    }
  }

  /** Set the timer for the next slot; at start, a slot missed while down fires now if catch_up says so. */
  private arm(s: Running, starting: boolean): void {
    const now = Date.now();
    if (starting && s.spec.catchUp && s.lastSlot !== null) {
      const missed = s.clock.latest(s.lastSlot, now);
      if (missed !== null) {
        this.log.info({ schedule: s.name, slot: new Date(missed).toISOString() }, 'schedule: catching up once on slots missed while down');
        this.fire(s, missed);
        return;
      }
    }
    const next = s.clock.next(Math.max(now, s.lastSlot ?? -Infinity));
    s.next = next;
    if (next === null) return;
    // A slot further away than a timer can wait: wake at the limit and look again.
    const delay = Math.min(Math.max(0, next - Date.now()), MAX_DURATION_MS);
    s.timer = setTimeout(() => (Date.now() >= next ? this.fire(s, next) : this.arm(s, false)), delay);
  }

  private fire(s: Running, slot: number): void {
    if (this.running.get(s.name) !== s) return; // removed or replaced by a reload meanwhile
    if (s.lastSlot !== null && slot <= s.lastSlot) return this.arm(s, false);
    if (s.owed !== undefined) {
      s.skipped++;
      this.log.warn({ schedule: s.name, to: s.spec.to, slot: new Date(slot).toISOString(), owed: s.owed, skipped: s.skipped },
        'schedule: slot skipped, the previous firing is not handled yet (no pile-up)');
      return this.arm(s, false);
    }
    const seq = ++this.seq;
    s.lastSlot = slot;
    s.owed = 'sending';
    this.unaccepted.set(seq, s.name);
    this.tap.expect(s.spec.to, { schedule: s.name, slot, seq, qos: s.spec.qos });
    this.router.send(this.route, seq, s.spec.to, s.spec.kind, s.spec.qos, false, s.spec.body ?? EMPTY);
    this.router.flushAccepts();
    this.arm(s, false);
  }

  private staged(f: Firing, id: number): void {
    const s = this.running.get(f.schedule);
    this.owedIds.set(id, f.schedule);
    if (!s) return;
    s.owed = id;
    s.lastId = id;
  }

  private settled(id: number): void {
    const name = this.owedIds.get(id);
    if (name === undefined) return;
    this.owedIds.delete(id);
    const s = this.running.get(name);
    if (s && s.owed === id) s.owed = undefined;
  }

  /** What the router tells its sender: acc (cumulative, nothing to do), rej (this firing did not happen). */
  write(h: SupervisorHeader): void {
    if (h.t === 'acc') {
      for (const seq of this.unaccepted.keys()) if (seq <= h.seq) this.unaccepted.delete(seq);
      return;
    }
    if (h.t !== 'rej') return;
    this.tap.refused(h.seq);
    const name = this.unaccepted.get(h.seq);
    this.unaccepted.delete(h.seq);
    this.log.error({ schedule: name, code: h.code, reason: h.message }, 'schedule: firing refused');
    const s = name === undefined ? undefined : this.running.get(name);
    if (!s || s.owed === undefined) return;
    // Refused after its record was staged (the journal failed): no message is owed, and the next slot may fire.
    if (s.owed !== 'sending') this.owedIds.delete(s.owed);
    s.owed = undefined;
  }

  status(): ScheduleStatus[] {
    return [...this.running.values()].map((s) => ({
      name: s.name, to: s.spec.to, kind: s.spec.kind, spec: describeSpec(s.spec), qos: s.spec.qos, catchUp: s.spec.catchUp,
      last: s.lastSlot === null ? null : { slot: s.lastSlot, id: s.lastId, pending: s.owed !== undefined },
      next: s.next, skipped: s.skipped,
    }));
  }
}
