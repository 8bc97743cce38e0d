// The router: stamps every send with its sender and an id, checks the sender's
// pledge, and puts it in the target's mailbox. It reads headers only; bodies pass
// through as bytes. Replies to a delivered request are always allowed; nothing
// else is unless pledged (secure by default).
import { Fifo, Mailbox, type Envelope } from './mailbox.js';
import type { AgentHeader, ErrorCode, Qos, SupervisorHeader, WireError } from './wire/header.js';
import { SEND_WINDOW, fitsFrame } from './wire/protocol.js';

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
}

export const OPERATOR = 'operator';

export class Router {
  readonly routes = new Map<string, Route>();
  private nextId = 0;
  private readonly dirty = new Set<Route>();
  private readonly waitingFor = new Map<Route, Set<Route>>();

  constructor(private readonly events: RouterEvents) {
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
      case 'ack': for (const id of h.ids) this.finished(from, id, undefined, undefined); return;
      case 'reply': return this.finished(from, h.corr, h.err, body);
      default: return; // ready / hb are the lifecycle's business
    }
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
      fromEpoch: from.epoch, body: Buffer.from(body), redelivered: false,
    };
    const queue = from.parked.get(to);
    if (target.mailbox.full || queue) {
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
      if (from.parkedCount > SEND_WINDOW) this.events.fault(from.spec.name, `flooding: ${from.parkedCount} sends beyond the window of ${SEND_WINDOW}`);
    } else {
      target.mailbox.put(env);
      this.pump(target);
    }
    // Requests are accepted implicitly by their reply: one frame fewer per round trip.
    if (!req) this.markAcc(from);
  }

  private refuse(from: Route, seq: number, code: ErrorCode, message: string): void {
    from.outlet?.write({ t: 'rej', seq, code, message });
  }

  private markAcc(route: Route): void {
    this.dirty.add(route);
  }

  /** Flush cumulative accepts: one frame per sender per read, not one per send. */
  flushAccepts(): void {
    for (const route of this.dirty) {
      let through = route.lastSeq;
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
      let env: Envelope | undefined;
      while ((env = route.mailbox.take())) {
        const h: SupervisorHeader = { t: 'msg', id: env.id, from: env.from, kind: env.kind, qos: env.qos };
        if (env.req) h.req = true;
        if (env.redelivered) h.redelivered = true;
        out.write(h, env.body);
      }
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
        target.mailbox.put(env);
        admitted = true;
        // Even for a request: the cumulative acc was held below it, and later sends wait on that.
        this.markAcc(sender);
      }
      if (!queue?.length) {
        sender.parked.delete(target.spec.name);
        waiting.delete(sender);
      }
    }
    if (!waiting.size) this.waitingFor.delete(target);
    return admitted;
  }

  /** A handler finished (ack), or a request was answered (reply). */
  private finished(route: Route, id: number, err: WireError | undefined, body: Buffer | undefined): void {
    const env = route.mailbox.ack(id);
    if (!env) return; // not in flight: a duplicate or stale ack, harmless
    if (env.req) this.answer(env, err ?? (body === undefined ? { code: 'EHANDLER', message: `${route.spec.name} acknowledged a request without replying` } : undefined), body);
    this.pump(route);
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
    route.mailbox.requeueInflight();
    // Its own unaccepted sends die with it: the sender never saw them accepted.
    route.parked.clear();
    route.parkedCount = 0;
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
    for (const env of dropped) {
      if (env.req) this.answer(env, { code: 'ENOAGENT', message: `agent "${route.spec.name}" stopped before handling ${env.kind}` });
    }
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
