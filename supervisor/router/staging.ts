// Staging: a send that passed admission waits here for the journal. The sends of one
// read are journaled as one group, and only once that group is durable does each
// message enter its mailbox and its sender hear `acc` (cumulative: one frame per
// sender per read, not one per send). A failed group is refused (`rej`) instead.
import type { AnyNewRecord, NewRecordOf } from '../../logs/journal/schema.js';
import type { RouterJournal } from '../../logs/journal/port.js';
import { RANK, rankOf, type Envelope } from '../mailbox.js';
import type { ErrorCode } from '../../protocol/header.js';
import type { RouterEvents } from './events.js';
import type { Route } from './route.js';
import type { Delivery } from './delivery.js';

/** The journal record of an accepted message; `attempts` on a copy carried forward by retention. */
export function acceptRecord(e: Envelope, attempts?: number): NewRecordOf<'accept'> {
  const rec: NewRecordOf<'accept'> = { type: 'accept', id: e.id, from: e.from, to: e.to, kind: e.kind, qos: e.qos, body: e.body };
  if (e.req) rec.req = true;
  if (attempts !== undefined) rec.attempts = attempts;
  if (e.origin) rec.origin = e.origin;
  return rec;
}

export function refuse(from: Route, seq: number, code: ErrorCode, message: string): void {
  from.outlet?.write({ t: 'rej', seq, code, message });
}

/** A send or checkpoint on its way into the journal. */
type Staged =
  | { t: 'msg'; env: Envelope; sender: Route; target: Route }
  | { t: 'ckpt'; sender: Route; seq: number; epoch: number; state: Buffer };

const NO_RECORDS: AnyNewRecord[] = [];

const toRecord = (s: Staged): AnyNewRecord => (s.t === 'ckpt' ? { type: 'checkpoint', agent: s.sender.spec.name, state: s.state } : acceptRecord(s.env));

/** Interactive and user sends: what the journal commits ahead of a backlog (see writer.ts). */
const URGENT_BELOW = RANK.utility;
const isUrgent = (s: Staged): boolean => s.t === 'msg' && rankOf(s.env.qos) < URGENT_BELOW;

/**
 * A read's sends split by urgency (`urgent` of them are), each part in its order (a
 * sender's sends of one class stay in order; across classes the mailbox orders them
 * anyway). Mostly a read is all of one class: then the group is passed on whole, no
 * copy made, and without looking at its sends again.
 */
function byUrgency(group: Staged[], urgent: number): [Staged[] | undefined, Staged[] | undefined] {
  if (urgent === 0) return [undefined, group];
  if (urgent === group.length) return [group, undefined];
  return [group.filter(isUrgent), group.filter((s) => !isUrgent(s))];
}

export class Staging {
  private staging: Staged[] = [];
  /** How many of `staging` are urgent (isUrgent), counted as they come. */
  private urgentStaged = 0;
  /** Groups handed to the journal and not yet committed. */
  private inJournal = 0;
  /** Inside handOver's loop: what is staged meanwhile joins that loop, not a nested one. */
  private handing = false;
  /** The journal keeps nothing and commits at once: see RouterJournal.keepsNothing. */
  private readonly atOnce: boolean;
  /** With an at-once journal: the group being committed, and the array the next one is staged in. */
  private landing: Staged[] = [];
  private spare: Staged[] = [];
  private readonly landedAtOnce = (err: Error | undefined, segment: number): void => {
    this.inJournal--;
    this.commit(this.landing, err, segment);
  };
  /** Senders owed an acc at the next flush. */
  private readonly dirty = new Set<Route>();

  constructor(private readonly journal: RouterJournal, private readonly events: RouterEvents, private readonly delivery: Delivery) {
    this.atOnce = journal.keepsNothing === true;
  }

  /** Reserve room in the target's mailbox and queue the message for the next journal group. */
  stage(env: Envelope, sender: Route, target: Route): void {
    target.mailbox.reserve(env.qos);
    this.staging.push({ t: 'msg', env, sender, target });
    if (rankOf(env.qos) < URGENT_BELOW) this.urgentStaged++;
  }

  stageCheckpoint(from: Route, seq: number, state: Buffer): void {
    from.owed.add(seq);
    this.staging.push({ t: 'ckpt', sender: from, seq, epoch: from.epoch, state: Buffer.from(state) });
  }

  /** With a journal that commits at once there is no group to fill: what is staged is committed now. */
  commitIfAtOnce(): void {
    if (this.atOnce) this.handOver();
  }

  /** Hand what was staged to the journal as one group commit. */
  private handOver(): void {
    if (this.handing) return;
    this.handing = true;
    try {
      while (this.staging.length) {
        const group = this.staging;
        this.inJournal++;
        if (this.atOnce) {
          // Committed before stage returns, one send at a time: one callback and two arrays, taking
          // turns, serve every group, so that the hot path allocates no group and no closure per send.
          this.staging = this.spare;
          this.urgentStaged = 0;
          this.landing = group;
          this.journal.stage(NO_RECORDS, 0, this.landedAtOnce);
          while (group.length) group.pop(); // cheaper than setting length, for the one or few items here
          this.spare = group;
          continue;
        }
        this.staging = [];
        const [urgent, rest] = byUrgency(group, this.urgentStaged);
        this.urgentStaged = 0;
        if (urgent) this.toJournal(urgent, true);
        if (rest) {
          if (urgent) this.inJournal++;
          this.toJournal(rest, false);
        }
      }
    } finally {
      this.handing = false;
    }
  }

  private toJournal(group: Staged[], urgent: boolean): void {
    const recs = group.map(toRecord);
    // Every record of a group is live (a message owed, a latest checkpoint) until settled.
    this.journal.stage(recs, recs.length, (err, segment) => {
      this.inJournal--;
      this.commit(group, err, segment);
      // Committed inside handOver's loop (the writer closed or broken): that loop's flush follows.
      if (!this.handing) this.flush();
    }, urgent);
  }

  /** A staged group is durable (or failed): admit each message to its mailbox (or refuse it), in order. */
  private commit(group: Staged[], err: Error | undefined, segment: number): void {
    // Mostly one target per group: a Set only once there is a second.
    let touched: Route | undefined;
    let moreTouched: Set<Route> | undefined;
    let refused = 0;
    for (const s of group) {
      const sender = s.sender;
      const current = (s.t === 'msg' ? s.env.fromEpoch : s.epoch) === sender.epoch;
      // A sender that restarted meanwhile has a fresh seq space: its old incarnation's bookkeeping is gone.
      if (current) {
        sender.owed.settle(s.t === 'ckpt' ? s.seq : s.env.seq);
        // A lone request is accepted by its reply; with later sends behind it, their acc waited on it.
        if (s.t === 'ckpt' || !s.env.req || sender.lastSeq > s.env.seq || err) this.markAcc(sender);
      }
      if (s.t === 'ckpt') {
        if (err) {
          refused++;
          if (current) refuse(sender, s.seq, 'EJOURNAL', `checkpoint not saved: ${err.message}`);
        } else this.events.checkpointed?.(sender.spec.name, s.state, segment);
        continue;
      }
      const { env, target } = s;
      target.mailbox.unreserve(env.qos);
      if (err) {
        refused++;
        if (current) refuse(sender, env.seq, 'EJOURNAL', `not accepted: ${err.message}`);
        continue;
      }
      env.segment = segment;
      sender.accepted?.(env);
      // Accepted, but its agent is gone for good meanwhile: it goes where the undeliverable go.
      if (target.removed) {
        this.delivery.deadLetter(env, `agent "${target.spec.name}" stopped for good`, 'ENOAGENT');
        continue;
      }
      target.mailbox.put(env);
      if (touched === undefined) touched = target;
      else if (target !== touched) (moreTouched ??= new Set()).add(target);
    }
    if (err) this.events.journalFailed?.(err, refused);
    if (touched) this.delivery.pump(touched);
    if (moreTouched) for (const target of moreTouched) this.delivery.pump(target);
  }

  /** Whether every staged group has been journaled (or failed). */
  get settled(): boolean {
    return this.staging.length === 0 && this.inJournal === 0;
  }

  markAcc(route: Route): void {
    this.dirty.add(route);
  }

  /** Journal what was staged, and flush cumulative accepts: one frame per sender per read, not one per send. */
  flush(): void {
    this.handOver();
    for (const route of this.dirty) {
      let through = route.lastSeq;
      const lowest = route.owed.lowest;
      if (lowest !== undefined) through = Math.min(through, lowest - 1);
      if (through > 0) route.outlet?.write({ t: 'acc', seq: through });
    }
    this.dirty.clear();
  }

  /**
   * The sender's process is gone. What it has being journaled is accepted already and
   * is delivered; only its incarnation's bookkeeping goes.
   */
  forget(route: Route): void {
    route.owed.clear();
    route.lastSeq = 0;
    this.dirty.delete(route);
  }
}
