// The router: stamps every send with its sender and an id, checks the sender's
// pledge, and puts it in the target's mailbox. It reads headers only; bodies pass
// through as bytes. Replies to a delivered request are always allowed; nothing
// else is unless pledged (secure by default).
//
// With a journal, a send that passes those checks is staged: the sends of one read
// are journaled as one group, and only once that group is durable does each message
// enter its mailbox and its sender hear `acc`. Deliveries and acks are journaled
// too, without holding anything up: losing the last few of those to a crash only
// means a redelivery, which is flagged.
import type { AnyNewRecord, NewRecordOf } from '../logs/journal/schema.js';
import type { RouterJournal } from '../logs/journal/port.js';

export type { RouterJournal };
import { Fifo, Mailbox, type Envelope } from './mailbox.js';
import type { AgentHeader, ErrorCode, Qos, SupervisorHeader, WireError } from '../protocol/header.js';
import { SEND_WINDOW, fitsFrame } from '../protocol/constants.js';

export { SEND_WINDOW };

/** Where a route's outgoing frames go: an agent's link, or the operator's callbacks. */
export interface Outlet {
  write(header: SupervisorHeader, body?: Uint8Array): void;
}

export interface RouteSpec {
  name: string;
  qos: Qos;
  pledge: readonly string[];
  mailbox: number;
  /** The largest frame this route's reader accepts: nothing bigger is routed to it. */
  maxFrame: number;
  prefetch?: number;
}


export class Route {
  readonly mailbox: Mailbox;
  readonly sendAll: boolean;
  readonly sendTo: ReadonlySet<string>;
  outlet: Outlet | undefined;
  /** Delivery starts at the ready handshake. */
  ready = false;
  /** Gone for good (not restarted): sends to it are refused. */
  removed = false;
  /** Bumped at every (re)start, so that replies to a previous incarnation are dropped. */
  epoch = 0;
  /** Sends waiting for room in a full mailbox, FIFO per target; not yet accepted. */
  readonly parked = new Map<string, Fifo<Envelope>>();
  parkedCount = 0;
  /** This incarnation's sends being journaled, by seq, oldest first: acc stops below them. */
  readonly staged = new Fifo<number>();
  lastSeq = 0;

  constructor(readonly spec: RouteSpec) {
    this.mailbox = new Mailbox(spec.mailbox, spec.prefetch ?? 1024);
    this.sendAll = spec.pledge.includes('send:*');
    this.sendTo = new Set(spec.pledge.filter((p) => p.startsWith('send:')).map((p) => p.slice(5)));
  }

  mayMessage(to: string): boolean {
    return this.sendAll || this.sendTo.has(to);
  }
}

export interface RouterEvents {
  /** An agent broke the protocol (flood); the caller stops it. */
  fault(agent: string, reason: string): void;
  denied?(from: string, to: string, kind: string): void;
  /** A checkpoint is durable (segment -1 without a journal). */
  checkpointed?(agent: string, state: Buffer, segment: number): void;
  /** A message was given up on and written to the dead letters. */
  deadLettered?(env: Envelope, reason: string): void;
  /** A group could not be journaled: its sends were refused. */
  journalFailed?(err: Error, refused: number): void;
}

/** The journal record of an accepted message; `attempts` on a copy carried forward by retention. */
export function acceptRecord(e: Envelope, attempts?: number): NewRecordOf<'accept'> {
  const rec: NewRecordOf<'accept'> = { type: 'accept', id: e.id, from: e.from, to: e.to, kind: e.kind, qos: e.qos, body: e.body };
  if (e.req) rec.req = true;
  if (attempts !== undefined) rec.attempts = attempts;
  return rec;
}

/** A send or checkpoint on its way into the journal. */
type Staged =
  | { t: 'msg'; env: Envelope; sender: Route; target: Route }
  | { t: 'ckpt'; sender: Route; seq: number; epoch: number; state: Buffer };

export interface RouterOptions {
  journal?: RouterJournal;
  /** Deliveries of a message before it is dead-lettered. Default: unlimited. */
  maxAttempts?: number;
}

export const OPERATOR = 'operator';

export class Router {
  readonly routes = new Map<string, Route>();
  private nextId = 0;
  private readonly dirty = new Set<Route>();
  private readonly waitingFor = new Map<Route, Set<Route>>();
  private staging: Staged[] = [];
  private readonly journal: RouterJournal | undefined;
  private readonly maxAttempts: number;
  /** Groups handed to the journal and not yet committed. */
  private inJournal = 0;

  constructor(private readonly events: RouterEvents, opts: RouterOptions = {}) {
    this.journal = opts.journal;
    this.maxAttempts = opts.maxAttempts ?? Infinity;
    const op = new Route({ name: OPERATOR, qos: 'interactive', pledge: ['send:*'], mailbox: 1, maxFrame: Number.MAX_SAFE_INTEGER });
    this.routes.set(OPERATOR, op);
  }

  add(spec: RouteSpec): Route {
    const route = new Route(spec);
    this.routes.set(spec.name, route);
    return route;
  }

  get operator(): Route {
    return this.routes.get(OPERATOR)!;
  }

  /** A frame from agent `from` (already validated). */
  frame(from: Route, h: AgentHeader, body: Buffer): void {
    switch (h.t) {
      case 'send': return this.send(from, h.seq, h.to, h.kind, h.qos, h.req === true, body);
      case 'ack': {
        const done: number[] = [];
        for (const id of h.ids) if (this.finished(from, id, undefined, undefined)) done.push(id);
        if (done.length) this.journal?.note({ type: 'ack', agent: from.spec.name, ids: done });
        return this.pump(from);
      }
      case 'reply':
        if (this.finished(from, h.corr, h.err, body)) this.journal?.note({ type: 'ack', agent: from.spec.name, ids: [h.corr] });
        return this.pump(from);
      case 'ckpt': return this.checkpoint(from, h.seq, body);
      default: return; // ready / hb are the lifecycle's business
    }
  }

  /** Save an agent's state: journaled in order with its sends, and accepted (acc) like one. */
  checkpoint(from: Route, seq: number, state: Buffer): void {
    from.lastSeq = seq;
    if (!this.journal) {
      this.events.checkpointed?.(from.spec.name, Buffer.from(state), -1);
      return this.markAcc(from);
    }
    from.staged.push(seq);
    this.staging.push({ t: 'ckpt', sender: from, seq, epoch: from.epoch, state: Buffer.from(state) });
    this.checkWindow(from);
  }

  /** The first id the next message gets: past every id a journal recovered. */
  seedIds(lastId: number): void {
    if (lastId > this.nextId) this.nextId = lastId;
  }

  /** A message recovered from the journal goes back into its mailbox (before any agent starts). */
  restore(env: Envelope): void {
    const target = this.routes.get(env.to);
    if (!target || target.removed) return this.deadLetter(env, `no agent named "${env.to}" in the config any more`, 'ENOAGENT');
    target.mailbox.put(env);
  }

  send(from: Route, seq: number, to: string, kind: string, qos: Qos | undefined, req: boolean, body: Buffer): void {
    from.lastSeq = seq;
    const target = this.routes.get(to);
    if (!from.mayMessage(to)) {
      this.events.denied?.(from.spec.name, to, kind);
      return this.refuse(from, seq, 'EDENIED', `${from.spec.name} has not pledged send:${to}`);
    }
    if (!target || to === OPERATOR) return this.refuse(from, seq, 'ENOAGENT', `no agent named "${to}"`);
    if (target.removed) return this.refuse(from, seq, 'ENOAGENT', `agent "${to}" is stopped`);
    // The receiver's reader would reject it as hostile: refuse it here, where it is the sender's problem.
    if (!fitsFrame(body.length, target.spec.maxFrame)) return this.refuse(from, seq, 'ETOOBIG', `a body of ${body.length} bytes exceeds ${to}'s frame limit of ${target.spec.maxFrame}`);
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
      this.checkWindow(from);
    } else {
      this.stage(env, from, target, false);
    }
  }

  /**
   * Reserve room in the target's mailbox and queue the message for the next journal
   * group. Without a journal it is accepted on the spot. A request needs no acc of its
   * own (its reply accepts it), unless it was parked: later sends' accs waited on it.
   */
  private stage(env: Envelope, sender: Route, target: Route, unparked: boolean): void {
    if (!this.journal) {
      target.mailbox.put(env);
      if (!unparked) this.pump(target); // unpark runs inside pump's own loop
      if (!env.req || unparked) this.markAcc(sender);
      return;
    }
    target.mailbox.reserved++;
    sender.staged.push(env.seq);
    this.staging.push({ t: 'msg', env, sender, target });
    this.checkWindow(sender);
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

  /** Hand what was staged to the journal as one group commit (staging only happens with a journal). */
  private journalStaged(): void {
    while (this.staging.length && this.journal) {
      const group = this.staging;
      this.staging = [];
      const recs: AnyNewRecord[] = group.map((s) => (s.t === 'ckpt' ? { type: 'checkpoint', agent: s.sender.spec.name, state: s.state } : acceptRecord(s.env)));
      this.inJournal++;
      // Every record of a group is live (a message owed, a latest checkpoint) until settled.
      this.journal.stage(recs, recs.length, (err, segment) => {
        this.inJournal--;
        this.commit(group, err, segment);
        this.flushAccepts();
      });
    }
  }

  /** A staged group is durable (or failed): admit each message to its mailbox (or refuse it), in order. */
  private commit(group: Staged[], err: Error | undefined, segment: number): void {
    const touched = new Set<Route>();
    let refused = 0;
    for (const s of group) {
      const sender = s.sender;
      const current = (s.t === 'msg' ? s.env.fromEpoch : s.epoch) === sender.epoch;
      // A sender that restarted meanwhile has a fresh seq space: its old incarnation's bookkeeping is gone.
      if (current) {
        sender.staged.shift();
        // A lone request is accepted by its reply; with later sends behind it, their acc waited on it.
        if (s.t === 'ckpt' || !s.env.req || sender.lastSeq > s.env.seq || err) this.markAcc(sender);
      }
      if (s.t === 'ckpt') {
        if (err) {
          refused++;
          if (current) this.refuse(sender, s.seq, 'EJOURNAL', `checkpoint not saved: ${err.message}`);
        } else this.events.checkpointed?.(sender.spec.name, s.state, segment);
        continue;
      }
      const { env, target } = s;
      target.mailbox.reserved--;
      if (err) {
        refused++;
        if (current) this.refuse(sender, env.seq, 'EJOURNAL', `not accepted: ${err.message}`);
        continue;
      }
      env.segment = segment;
      // Accepted, but its agent is gone for good meanwhile: it goes where the undeliverable go.
      if (target.removed) {
        this.deadLetter(env, `agent "${target.spec.name}" stopped for good`, 'ENOAGENT');
        continue;
      }
      target.mailbox.put(env);
      touched.add(target);
    }
    if (err) this.events.journalFailed?.(err, refused);
    for (const target of touched) this.pump(target);
  }

  /** Settle a message that will not be delivered: journaled, and a waiting requester told. */
  private deadLetter(env: Envelope, reason: string, code: ErrorCode = 'EHANDLER'): void {
    env.done = true;
    this.journal?.note({ type: 'deadletter', agent: env.to, id: env.id, from: env.from, kind: env.kind, attempts: env.attempts, reason });
    if (env.segment >= 0) this.journal?.release(env.segment);
    this.events.deadLettered?.(env, reason);
    if (env.req) this.answer(env, { code, message: `${env.kind} to ${env.to} was dead-lettered: ${reason}` });
  }

  /** Whether every staged group has been journaled (or failed). */
  get settled(): boolean {
    return this.staging.length === 0 && this.inJournal === 0;
  }

  private refuse(from: Route, seq: number, code: ErrorCode, message: string): void {
    from.outlet?.write({ t: 'rej', seq, code, message });
  }

  private markAcc(route: Route): void {
    this.dirty.add(route);
  }

  /** Journal what was staged, and flush cumulative accepts: one frame per sender per read, not one per send. */
  flushAccepts(): void {
    this.journalStaged();
    for (const route of this.dirty) {
      let through = route.lastSeq;
      if (route.staged.length) through = Math.min(through, route.staged.peek()! - 1);
      for (const queue of route.parked.values()) through = Math.min(through, queue.peek()!.seq - 1);
      if (through > 0) route.outlet?.write({ t: 'acc', seq: through });
    }
    this.dirty.clear();
  }

  /**
   * Deliver from the mailbox while the agent is ready and its window has room; each
   * batch taken makes room for parked sends, which may fill the next batch.
   */
  pump(route: Route): void {
    while (route.ready && route.outlet && route.mailbox.refill) {
      const out = route.outlet;
      const ids: number[] = [];
      let env: Envelope | undefined;
      while ((env = route.mailbox.take())) {
        const h: SupervisorHeader = { t: 'msg', id: env.id, from: env.from, kind: env.kind, qos: env.qos };
        if (env.req) h.req = true;
        if (env.redelivered) h.redelivered = true;
        env.attempts++;
        ids.push(env.id);
        out.write(h, env.body);
      }
      if (ids.length) this.journal?.note({ type: 'deliver', agent: route.spec.name, ids });
      if (!this.unpark(route)) return;
    }
  }

  /** Room was made in `target`'s mailbox: admit parked sends, oldest first. Whether any were. */
  private unpark(target: Route): boolean {
    const waiting = this.waitingFor.get(target);
    if (!waiting) return false;
    let admitted = false;
    for (const sender of waiting) {
      const queue = sender.parked.get(target.spec.name);
      while (queue?.length && !target.mailbox.full) {
        const env = queue.shift()!;
        sender.parkedCount--;
        // Accepted once journaled; the cumulative acc stays held below it until then.
        this.stage(env, sender, target, true);
        admitted = true;
      }
      if (!queue?.length) {
        sender.parked.delete(target.spec.name);
        waiting.delete(sender);
      }
    }
    if (!waiting.size) this.waitingFor.delete(target);
    return admitted;
  }

  /** A handler finished (ack), or a request was answered (reply). Whether it was in flight. */
  private finished(route: Route, id: number, err: WireError | undefined, body: Buffer | undefined): boolean {
    const env = route.mailbox.ack(id);
    if (!env) return false; // not in flight: a duplicate or stale ack, harmless
    env.done = true;
    if (env.segment >= 0) this.journal?.release(env.segment);
    if (env.req) this.answer(env, err ?? (body === undefined ? { code: 'EHANDLER', message: `${route.spec.name} acknowledged a request without replying` } : undefined), body);
    return true;
  }

  answer(env: Envelope, err: WireError | undefined, body?: Buffer): void {
    const requester = this.routes.get(env.from);
    if (!requester || requester.epoch !== env.fromEpoch) return; // the requester restarted: nobody waits
    if (!err && body && !fitsFrame(body.length, requester.spec.maxFrame)) {
      err = { code: 'ETOOBIG', message: `a reply of ${body.length} bytes exceeds ${env.from}'s frame limit of ${requester.spec.maxFrame}` };
    }
    requester.outlet?.write(err ? { t: 'res', corr: env.seq, err } : { t: 'res', corr: env.seq }, err ? undefined : body);
  }

  /** The agent's process is up and said ready. */
  ready(route: Route): void {
    route.ready = true;
    this.pump(route);
    this.flushAccepts(); // delivery may have admitted parked sends
  }

  /** The agent's process is gone: what it had in flight is redelivered to its next incarnation. */
  detach(route: Route): void {
    route.ready = false;
    route.outlet = undefined;
    const { exhausted } = route.mailbox.requeueInflight(this.maxAttempts);
    for (const env of exhausted) this.deadLetter(env, `not acked after ${env.attempts} deliveries`);
    // Its own unaccepted sends die with it: the sender never saw them accepted. What is
    // being journaled is accepted already, and is delivered.
    route.parked.clear();
    route.parkedCount = 0;
    route.staged.drain();
    route.lastSeq = 0;
    this.dirty.delete(route);
    for (const waiting of this.waitingFor.values()) waiting.delete(route);
  }

  attach(route: Route, outlet: Outlet): void {
    route.epoch++;
    route.outlet = outlet;
    route.ready = false;
    route.removed = false;
  }

  /** Gone for good: pending requests fail with ENOAGENT instead of waiting forever. */
  remove(route: Route): Envelope[] {
    route.removed = true;
    const dropped = route.mailbox.drainAll();
    for (const env of dropped) this.deadLetter(env, `agent "${route.spec.name}" stopped for good before handling it`, 'ENOAGENT');
    const waiting = this.waitingFor.get(route);
    if (waiting) {
      for (const sender of waiting) {
        const queue = sender.parked.get(route.spec.name);
        sender.parked.delete(route.spec.name);
        for (const env of queue?.drain() ?? []) {
          sender.parkedCount--;
          this.refuse(sender, env.seq, 'ENOAGENT', `agent "${route.spec.name}" is stopped`);
        }
        this.markAcc(sender);
      }
      this.waitingFor.delete(route);
      this.flushAccepts();
    }
    return dropped;
  }
}
