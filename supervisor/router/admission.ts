// Admission: stamps every send with its sender and an id, checks the sender's pledge,
// the target and the size, and stages it for the journal, or parks it while its
// class's share of the target's mailbox is taken (mailbox.ts, ADMIT_SHARE): a flood
// of background work parks background senders and never keeps interactive out. Replies to a delivered request are always allowed (they
// are no sends); nothing else is unless pledged (secure by default).
import { rankOf, type Envelope } from '../mailbox.js';
import type { Qos } from '../../protocol/header.js';
import { SEND_WINDOW, fitsFrame } from '../../protocol/constants.js';
import type { RouterEvents } from './events.js';
import type { Parked, Route } from './route.js';
import { refuse, type Staging } from './staging.js';

export const OPERATOR = 'operator';

/** What a message from another host brings besides a send's fields. */
export interface Remote {
  origin: { host: string; id: number };
  /** The origin delivered it before (or JetStream did): the agent is told. */
  redelivered: boolean;
}

export class Admission {
  private nextId = 0;
  constructor(private readonly routes: ReadonlyMap<string, Route>, private readonly events: RouterEvents, private readonly staging: Staging) {}

  /** The first id the next message gets: past every id a journal recovered. */
  seedIds(lastId: number): void {
    if (lastId > this.nextId) this.nextId = lastId;
  }

  /** A fresh id for a message made outside a send (the operator's redrive). */
  newId(): number {
    return ++this.nextId;
  }

  /** `remote`: a message from another host (its sender route is `agent@host`, its seq the id there); `timeout`: a request's, in ms. */
  send(from: Route, seq: number, to: string, kind: string, qos: Qos | undefined, req: boolean, body: Buffer, remote?: Remote, timeout?: number): void {
    from.lastSeq = seq;
    const target = this.routes.get(to);
    if (!from.mayMessage(to)) {
      this.events.denied?.(from.spec.name, to, kind);
      return refuse(from, seq, 'EDENIED', `${from.spec.name} has not pledged send:${to}`);
    }
    if (!target || to === OPERATOR) return refuse(from, seq, 'ENOAGENT', `no agent named "${to}"`);
    if (target.removed) return refuse(from, seq, 'ENOAGENT', `agent "${to}" is stopped`);
    // The receiver's reader would reject it as hostile: refuse it here, where it is the sender's problem.
    if (!fitsFrame(body.length, target.spec.maxFrame)) return refuse(from, seq, 'ETOOBIG', `a body of ${body.length} bytes exceeds ${to}'s frame limit of ${target.spec.maxFrame}`);
    const env: Envelope = {
      id: ++this.nextId, from: from.spec.name, to, kind, qos: qos ?? from.spec.qos, req, seq,
      // Kept as given: the link copied it out of its read (agent-link.ts, owned), so it pins no read chunk.
      fromEpoch: from.epoch, body, redelivered: remote?.redelivered === true, attempts: 0, segment: -1, done: false,
      origin: remote?.origin, deadline: req && timeout ? Date.now() + timeout : undefined,
    };
    from.owed.add(seq);
    if (this.mustWait(target, env.qos)) {
      // Not accepted yet: it waits for room, unjournaled, and dies with its sender. It
      // queues behind every send of its class (and above) already waiting for this
      // target, from any sender, so a class's order and its senders' order hold.
      target.waiting[rankOf(env.qos)]!.push({ env, sender: from });
      from.parkedCount++;
      from.parkedAt.add(target);
    } else {
      this.staging.stage(env, from, target);
      this.staging.commitIfAtOnce();
    }
    this.checkWindow(from);
  }

  /** Save an agent's state: journaled in order with its sends, and accepted (acc) like one. */
  checkpoint(from: Route, seq: number, state: Buffer): void {
    from.lastSeq = seq;
    this.staging.stageCheckpoint(from, seq, state);
    this.staging.commitIfAtOnce();
    this.checkWindow(from);
  }

  /**
   * More unaccepted sends than the window allows means the sender ignores `acc`: a
   * flood. Checked where they pile up: parked, and waiting for the journal (a
   * checkpoint needs no mailbox room, so only this bounds what a sender makes the
   * supervisor hold before a commit).
   */
  private checkWindow(sender: Route): void {
    const held = sender.owed.size;
    if (held > SEND_WINDOW) this.events.fault(sender.spec.name, `flooding: ${held} sends beyond the window of ${SEND_WINDOW}`);
  }

  /**
   * Whether a send of class `qos` must wait: its class's share of the mailbox is
   * taken, or sends of its class or a higher one wait already (a lower class never
   * takes room a waiting higher one could use).
   */
  private mustWait(target: Route, qos: Qos): boolean {
    const rank = rankOf(qos);
    for (let r = 0; r <= rank; r++) if (target.waiting[r]!.length) return true;
    return !target.mailbox.admits(qos);
  }

  /** Room was made in `target`'s mailbox: admit parked sends, highest class first, FIFO within a class. Whether any were. */
  unpark(target: Route): boolean {
    let admitted = false;
    for (const queue of target.waiting) {
      let next: Parked | undefined;
      while ((next = queue.peek())) {
        // A class that cannot come in yet holds every class below it back.
        if (!target.mailbox.admits(next.env.qos)) return this.admitted(admitted);
        queue.shift();
        next.sender.parkedCount--;
        // Accepted once journaled; the cumulative acc stays held below it until then.
        this.staging.stage(next.env, next.sender, target);
        admitted = true;
      }
    }
    return this.admitted(admitted);
  }

  private admitted(any: boolean): boolean {
    // All of them at once, so that the delivery loop running now takes them in QoS order.
    if (any) this.staging.commitIfAtOnce();
    return any;
  }

  /** Its own unaccepted sends die with their sender: it never saw them accepted. */
  forget(sender: Route): void {
    for (const target of sender.parkedAt) {
      for (const queue of target.waiting) {
        if (!queue.length) continue;
        for (const p of queue.drain()) if (p.sender !== sender) queue.push(p);
      }
    }
    sender.parkedAt.clear();
    sender.parkedCount = 0;
  }

  /** `target` is gone for good: sends parked for it are refused. Whether any sender waited. */
  refuseParkedFor(target: Route): boolean {
    let any = false;
    for (const queue of target.waiting) {
      for (const { env, sender } of queue.drain()) {
        any = true;
        sender.parkedCount--;
        sender.owed.settle(env.seq);
        refuse(sender, env.seq, 'ENOAGENT', `agent "${target.spec.name}" is stopped`);
        this.staging.markAcc(sender);
      }
    }
    return any;
  }
}
