// The journal folded into state: which messages are still owed to whom, each
// agent's latest checkpoint, and what the agents were doing. One fold serves the
// supervisor's recovery at start (what to redeliver) and `outheis replay` (the
// state as of a seq or a time), so the two cannot disagree about what a record means.
import type { Qos } from '../../protocol/constants.js';
import type { AnyRecord } from './schema.js';

export interface OwedMessage {
  id: number;
  /** The seq of its accept record (the first one, if it was carried forward). */
  seq: number;
  at: number;
  from: string;
  to: string;
  kind: string;
  qos: Qos;
  req: boolean;
  body: Uint8Array;
  /** Deliveries recorded so far. */
  attempts: number;
  /** The segment its (latest) accept record is in; -1 when folded without segments. */
  segment: number;
  /** From another host: that host and its id there. */
  origin?: { host: string; id: number };
}

/** How a message from another host is known again: its host and its id there. */
export const originKey = (o: { host: string; id: number }): string => `${o.host}.${o.id}`;

export interface Checkpoint {
  seq: number;
  at: number;
  state: Uint8Array;
  segment: number;
}

/** A schedule's last fired slot, from the accept record of its firing. */
export interface FiredSlot {
  slot: number;
  at: number;
  /** The message it became. */
  id: number;
  to: string;
  /** The segment of the record that proves it (the accept, or a carried `fired` mark); -1 when folded without segments. */
  segment: number;
}

/** As recovery hands it to the scheduler: with whether that message is still owed (no pile-up across restarts). */
export interface ScheduleSlot extends FiredSlot {
  owed: boolean;
}

export interface AgentHistory {
  /** A process of it was running (spawned, not exited). */
  up: boolean;
  pid: number | null;
  /** Restarts since the supervisor run began, as `status` counts them. */
  restarts: number;
  lastExit: { at: number; code: number | null; signal: string | null; reason: string; clean: boolean } | null;
  /** Dead letters since the supervisor run began. */
  deadLetters: number;
}

export interface SupervisorHistory {
  pid: number | null;
  startedAt: number | null;
  /** Started and not (yet) stopped cleanly: at the end of the journal, a crash or still running. */
  running: boolean;
  runs: number;
}

/**
 * The lowest id a supervisor starting at `now` hands out: the start time in ms × 1000.
 * Ids also continue past the highest the journal holds, but a journal can be lost
 * (removed while stopped, or with the whole state directory); then the clock still
 * puts the new ids past every id of an earlier run, as long as that run accepted
 * fewer than 1000 messages per millisecond on average and the clock did not step
 * back. Safe integers until the year 2255.
 */
export function idFloor(now: number): number {
  return Math.floor(now) * 1000;
}

const newAgent = (): AgentHistory => ({ up: false, pid: null, restarts: 0, lastExit: null, deadLetters: 0 });

export class JournalState {
  lastSeq = 0;
  lastAt = 0;
  /** The highest message id seen: the next run's ids start past it. */
  maxId = 0;
  deadLetters = 0;
  readonly owed = new Map<number, OwedMessage>();
  /** Every message from another host that an accept record holds (originKey): a copy sent again is not accepted twice. */
  readonly origins = new Set<string>();
  readonly checkpoints = new Map<string, Checkpoint>();
  readonly agents = new Map<string, AgentHistory>();
  /** Each schedule's latest fired slot (accept records from `scheduler` that name one). */
  readonly schedules = new Map<string, FiredSlot>();
  readonly supervisor: SupervisorHistory = { pid: null, startedAt: null, running: false, runs: 0 };
  /** The latest reload of the journal's runs: its seq, whether it was applied, and the config's agents after it. */
  lastReload: { seq: number; at: number; ok: boolean; agents: string[] } | undefined;

  agent(name: string): AgentHistory {
    let a = this.agents.get(name);
    if (!a) this.agents.set(name, (a = newAgent()));
    return a;
  }

  apply(r: AnyRecord, segment = -1): void {
    // A journal that does not begin with a start lost it to retention: a run was going on, and only a stop ends it.
    if (this.lastSeq === 0 && r.type !== 'start') this.supervisor.running = true;
    this.lastSeq = r.seq;
    this.lastAt = r.at;
    switch (r.type) {
      case 'accept': {
        if (r.id > this.maxId) this.maxId = r.id;
        if (r.origin) this.origins.add(originKey(r.origin));
        if (r.schedule !== undefined && r.slot !== undefined) this.fired(r.schedule, { slot: r.slot, at: r.at, id: r.id, to: r.to, segment }, false);
        const known = this.owed.get(r.id);
        // A carried copy of a message still owed moves it; of one that is not (settled, or history removed), it is the message.
        if (known) {
          known.segment = segment;
          return;
        }
        this.owed.set(r.id, {
          id: r.id, seq: r.seq, at: r.at, from: r.from, to: r.to, kind: r.kind, qos: r.qos, req: r.req === true,
          body: r.body, attempts: r.attempts ?? 0, segment, ...(r.origin ? { origin: r.origin } : {}),
        });
        return;
      }
      case 'deliver':
        for (const id of r.ids) {
          const m = this.owed.get(id);
          if (m) m.attempts++;
        }
        return;
      case 'ack':
        for (const id of r.ids) this.owed.delete(id);
        return;
      case 'deadletter':
        this.owed.delete(r.id);
        this.deadLetters++;
        this.agent(r.agent).deadLetters++;
        return;
      case 'checkpoint':
        this.checkpoints.set(r.agent, { seq: r.seq, at: r.at, state: r.state, segment });
        return;
      case 'start':
        // A new run: whatever the last one left running died with it (agents never outlive their supervisor).
        Object.assign(this.supervisor, { pid: r.pid, startedAt: r.at, running: true, runs: this.supervisor.runs + 1 });
        for (const a of this.agents.values()) Object.assign(a, { up: false, pid: null, restarts: 0, deadLetters: 0 });
        return;
      case 'stop':
        this.supervisor.running = false;
        for (const a of this.agents.values()) Object.assign(a, { up: false, pid: null });
        return;
      case 'spawn':
        Object.assign(this.agent(r.agent), { up: true, pid: r.pid });
        return;
      case 'ready':
        this.agent(r.agent).pid = r.pid;
        return;
      case 'exit':
        Object.assign(this.agent(r.agent), {
          up: false, pid: null,
          lastExit: { at: r.at, code: r.code, signal: r.signal, reason: r.reason, clean: r.clean },
        });
        return;
      case 'restart': {
        this.agent(r.agent).restarts++;
        return;
      }
      case 'lost':
        // Only a running supervisor recreates its journal, and the start record went with the old one.
        this.supervisor.running = true;
        return;
      case 'reload':
        this.lastReload = { seq: r.seq, at: r.at, ok: r.ok, agents: r.agents };
        // An agent the reload took out of the config is no longer one of the run's (what was owed to it was dead-lettered).
        if (r.ok) for (const name of [...this.agents.keys()]) if (!r.agents.includes(name)) this.agents.delete(name);
        return;
      case 'fired':
        this.fired(r.schedule, { slot: r.slot, at: r.firedAt, id: r.id, to: r.to, segment }, true);
        return;
      case 'escalate': case 'limit': case 'denied':
        return;
    }
  }

  /**
   * A schedule's slot, from a firing's accept record or a carried mark: a later slot
   * replaces the last one (never an earlier one). The same slot again is that proof
   * carried forward: it moves to the new segment, and a mark (which keeps the
   * firing's own time) replaces a carried accept copy (stamped when it was copied).
   */
  private fired(schedule: string, f: FiredSlot, mark: boolean): void {
    const last = this.schedules.get(schedule);
    if (!last || f.slot > last.slot || (mark && f.slot === last.slot)) this.schedules.set(schedule, f);
    else if (f.slot === last.slot && f.id === last.id) last.segment = f.segment;
  }

  /** Each schedule's last fired slot, and whether its message is still owed. */
  scheduleSlots(): Map<string, ScheduleSlot> {
    return new Map([...this.schedules].map(([name, f]) => [name, { ...f, owed: this.owed.has(f.id) }]));
  }

  /** Owed messages per target agent, oldest first. */
  owedBy(): Map<string, OwedMessage[]> {
    const out = new Map<string, OwedMessage[]>();
    for (const m of [...this.owed.values()].sort((a, b) => a.id - b.id)) {
      const list = out.get(m.to);
      if (list) list.push(m);
      else out.set(m.to, [m]);
    }
    return out;
  }
}
