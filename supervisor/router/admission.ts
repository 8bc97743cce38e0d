// Admission: stamps every send with its sender and an id, checks the sender's pledge,
// the target and the size, and stages it for the journal, or parks it while the
// target's mailbox is full. Replies to a delivered request are always allowed (they
// are no sends); nothing else is unless pledged (secure by default).
import type { Envelope } from '../mailbox.js';
import { Fifo } from '../mailbox.js';
import type { Qos } from '../../protocol/header.js';
import { SEND_WINDOW, fitsFrame } from '../../protocol/constants.js';
import type { RouterEvents } from './events.js';
import type { Route } from './route.js';
import { refuse, type Staging } from './staging.js';

export const OPERATOR = 'operator';

export class Admission {
  private nextId = 0;
  /** Per full target, the senders with sends parked for it. */
  private readonly waitingFor = new Map<Route, Set<Route>>();

  constructor(private readonly routes: ReadonlyMap<string, Route>, private readonly events: RouterEvents, private readonly staging: Staging) {}

  /** The first id the next message gets: past every id a journal recovered. */
  seedIds(lastId: number): void {
    if (lastId > this.nextId) this.nextId = lastId;
  }

  /** A fresh id for a message made outside a send (the operator's redrive). */
  newId(): number {
    return ++this.nextId;
  }

  send(from: Route, seq: number, to: string, kind: string, qos: Qos | undefined, req: boolean, body: Buffer): void {
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
      // A copy: a view would pin the whole read chunk for as long as the message waits.
      fromEpoch: from.epoch, body: Buffer.from(body), redelivered: false, attempts: 0, segment: -1, done: false,
    };
    const queue = from.parked.get(to);
    if (target.mailbox.full || queue) {
      // Not accepted yet: it waits for room, unjournaled, and dies with its sender.
      // Order per sender and target holds: once one send waits, later ones wait behind it.
      if (queue) queue.push(env);
      else {
        const fresh = new Fifo<Envelope>();
        fresh.push(env);
        from.parked.set(to, fresh);
      }
      from.parkedCount++;
      let waiting = this.waitingFor.get(target);
      if (!waiting) this.waitingFor.set(target, (waiting = new Set()));
      waiting.add(from);
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
    const held = sender.parkedCount + sender.staged.length;
    if (held > SEND_WINDOW) this.events.fault(sender.spec.name, `flooding: ${held} sends beyond the window of ${SEND_WINDOW}`);
  }

  /** Room was made in `target`'s mailbox: admit parked sends, oldest first. Whether any were. */
  unpark(target: Route): boolean {
    const waiting = this.waitingFor.get(target);
    if (!waiting) return false;
    let admitted = false;
    for (const sender of waiting) {
      const queue = sender.parked.get(target.spec.name);
      while (queue?.length && !target.mailbox.full) {
        const env = queue.shift()!;
        sender.parkedCount--;
        // Accepted once journaled; the cumulative acc stays held below it until then.
        this.staging.stage(env, sender, target);
        this.checkWindow(sender);
        admitted = true;
      }
      if (!queue?.length) {
        sender.parked.delete(target.spec.name);
        waiting.delete(sender);
      }
    }
    if (!waiting.size) this.waitingFor.delete(target);
    // All of them at once, so that the delivery loop running now takes them in QoS order.
    if (admitted) this.staging.commitIfAtOnce();
    return admitted;
  }

  /** Its own unaccepted sends die with their sender: it never saw them accepted. */
  forget(sender: Route): void {
    sender.parked.clear();
    sender.parkedCount = 0;
    for (const waiting of this.waitingFor.values()) waiting.delete(sender);
  }

  /** `target` is gone for good: sends parked for it are refused. Whether any sender waited. */
  refuseParkedFor(target: Route): boolean {
    const waiting = this.waitingFor.get(target);
    if (!waiting) return false;
    for (const sender of waiting) {
      const queue = sender.parked.get(target.spec.name);
      sender.parked.delete(target.spec.name);
      for (const env of queue?.drain() ?? []) {
        sender.parkedCount--;
        refuse(sender, env.seq, 'ENOAGENT', `agent "${target.spec.name}" is stopped`);
      }
      this.staging.markAcc(sender);
    }
    this.waitingFor.delete(target);
    return true;
  }
}
