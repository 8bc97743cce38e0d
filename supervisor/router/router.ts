// The router composes its four parts, each a file of this folder:
//   admission.ts  pledge, target, size and mailbox-room checks; parked sends; floods
//   staging.ts    the journal's group commit per read; `acc`/`rej` once it lands
//   delivery.ts   windowed delivery from the mailboxes, redelivery, dead letters
//   requests.ts   replies and acks matched to what is in flight; answers to requesters
// It reads headers only; bodies pass through as bytes. Accepted sends and checkpoints
// always go through a journal: without one, the memory journal, which commits at once.
import type { RouterJournal } from '../../logs/journal/port.js';
import { MemoryJournal } from '../../logs/journal/memory.js';
import type { Envelope } from '../mailbox.js';
import type { AgentHeader, Qos, WireError } from '../../protocol/header.js';
import { Admission, OPERATOR, type Remote } from './admission.js';
import { Delivery } from './delivery.js';
import type { RouterEvents } from './events.js';
import { Requests } from './requests.js';
import { Route, type Outlet, type RouteSpec } from './route.js';
import { Staging } from './staging.js';

export interface RouterOptions {
  /** Default: the memory journal (nothing kept, every group committed at once). */
  journal?: RouterJournal;
  /** Deliveries of a message before it is dead-lettered. Default: unlimited. */
  maxAttempts?: number;
}

export class Router {
  readonly routes = new Map<string, Route>();
  private readonly requests: Requests;
  private readonly delivery: Delivery;
  private readonly staging: Staging;
  private readonly admission: Admission;

  constructor(events: RouterEvents, opts: RouterOptions = {}) {
    const journal = opts.journal ?? new MemoryJournal();
    this.requests = new Requests(this.routes, journal);
    // Delivery makes room that parked sends fill, and admission stages what delivery then takes: a cycle, closed here.
    this.delivery = new Delivery(journal, events, this.requests, opts.maxAttempts ?? Infinity, (target) => this.admission.unpark(target));
    this.staging = new Staging(journal, events, this.delivery);
    this.admission = new Admission(this.routes, events, this.staging);
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

  /** A frame from agent `from` (already validated). A send's body is kept as given, not copied: the caller hands it over. */
  frame(from: Route, h: AgentHeader, body: Buffer): void {
    switch (h.t) {
      case 'send': return this.admission.send(from, h.seq, h.to, h.kind, h.qos, h.req === true, body, undefined, h.timeout);
      case 'ack':
        this.requests.acked(from, h.ids);
        return this.delivery.pump(from);
      case 'reply':
        this.requests.replied(from, h.corr, h.err, body);
        return this.delivery.pump(from);
      case 'ckpt': return this.admission.checkpoint(from, h.seq, body);
      default: return; // ready / hb are the lifecycle's business
    }
  }

  /** Save an agent's state: journaled in order with its sends, and accepted (acc) like one. */
  checkpoint(from: Route, seq: number, state: Buffer): void {
    this.admission.checkpoint(from, seq, state);
  }

  /** The first id the next message gets: past every id a journal recovered. */
  seedIds(lastId: number): void {
    this.admission.seedIds(lastId);
  }

  /** A fresh message id, for a message made outside a send (the operator's redrive). */
  newId(): number {
    return this.admission.newId();
  }

  /** A message recovered from the journal goes back into its mailbox (before any agent starts). */
  restore(env: Envelope): void {
    this.delivery.restore(this.routes.get(env.to), env);
  }

  /** `body` is kept as given, not copied: the caller hands it over and must not reuse its memory. */
  send(from: Route, seq: number, to: string, kind: string, qos: Qos | undefined, req: boolean, body: Buffer, remote?: Remote): void {
    this.admission.send(from, seq, to, kind, qos, req, body, remote);
  }

  /** Whether every staged group has been journaled (or failed). */
  get settled(): boolean {
    return this.staging.settled;
  }

  /** Journal what was staged, and flush cumulative accepts: one frame per sender per read, not one per send. */
  flushAccepts(): void {
    this.staging.flush();
  }

  /** Deliver what the route's mailbox and window allow. */
  pump(route: Route): void {
    this.delivery.pump(route);
  }

  answer(env: Envelope, err: WireError | undefined, body?: Buffer): void {
    this.requests.answer(env, err, body);
  }

  /** The agent's process is up and said ready. */
  ready(route: Route): void {
    route.ready = true;
    this.delivery.pump(route);
    this.staging.flush(); // delivery may have admitted parked sends
  }

  /** The agent's process is gone: what it had in flight is redelivered to its next incarnation. */
  detach(route: Route): void {
    route.ready = false;
    route.outlet = undefined;
    this.delivery.requeue(route);
    // Its own unaccepted sends die with it: the sender never saw them accepted. What is
    // being journaled is accepted already, and is delivered.
    this.admission.forget(route);
    this.staging.forget(route);
  }

  attach(route: Route, outlet: Outlet): void {
    route.epoch++;
    route.outlet = outlet;
    route.ready = false;
    route.removed = false;
  }

  /**
   * Taken out of the config by a reload: what its mailbox held is dead-lettered
   * (journaled, so `outheis redrive` can send it again), parked sends to it are
   * refused, and sends to it find no such agent.
   */
  delete(route: Route, reason: string): Envelope[] {
    const dropped = this.remove(route, reason);
    this.routes.delete(route.spec.name);
    return dropped;
  }

  /** Gone for good: pending requests fail with ENOAGENT instead of waiting forever. */
  remove(route: Route, reason?: string): Envelope[] {
    route.removed = true;
    const dropped = this.delivery.drop(route, reason);
    if (this.admission.refuseParkedFor(route)) this.staging.flush();
    return dropped;
  }
}
