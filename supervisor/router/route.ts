// A route: one agent's (or the operator's) place in the router: its pledge, its
// mailbox, and the bookkeeping of its own sends that the admission, staging and
// delivery parts share.
import { Fifo, Mailbox, type Envelope } from '../mailbox.js';
import { QOS, type Qos, type SupervisorHeader } from '../../protocol/header.js';
import { OwedSeqs } from './owed.js';

/** A send waiting for room in its target's mailbox: not accepted yet, and not journaled. */
export interface Parked {
  env: Envelope;
  sender: Route;
}

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
  private sendAll = false;
  private sendTo: ReadonlySet<string> = new Set();
  outlet: Outlet | undefined;
  /** Delivery starts at the ready handshake. */
  ready = false;
  /** Gone for good (not restarted): sends to it are refused. */
  removed = false;
  /** Bumped at every (re)start, so that replies to a previous incarnation are dropped. */
  epoch = 0;
  /** As a target: sends waiting for room in this mailbox, one FIFO per class (all senders), highest class first. */
  readonly waiting = QOS.map(() => new Fifo<Parked>());
  /** As a sender: how many of its sends are parked, and the targets they wait at. */
  parkedCount = 0;
  readonly parkedAt = new Set<Route>();
  /** As a sender: this incarnation's sends parked or being journaled; acc stops below the lowest. */
  readonly owed = new OwedSeqs();
  lastSeq = 0;
  /** A sender on another host (cluster): told each of its messages once the journal holds it, to receipt it. */
  accepted: ((env: Envelope) => void) | undefined = undefined;
  /**
   * Inside a delivery loop: a commit that lands during it (a journal that commits at
   * once) only fills the mailbox, and the running loop delivers, in QoS order.
   */
  delivering = false;

  constructor(private current: RouteSpec) {
    this.mailbox = new Mailbox(current.mailbox, current.prefetch ?? 1024);
    this.update(current);
  }

  get spec(): RouteSpec {
    return this.current;
  }

  /** A reload changed the agent's manifest: its pledge, qos, mailbox size and frame limit from now on; what its mailbox holds stays. */
  update(spec: RouteSpec): void {
    this.current = spec;
    this.mailbox.capacity = spec.mailbox;
    this.sendAll = spec.pledge.includes('send:*');
    this.sendTo = new Set(spec.pledge.filter((p) => p.startsWith('send:')).map((p) => p.slice(5)));
  }

  mayMessage(to: string): boolean {
    return this.sendAll || this.sendTo.has(to);
  }
}
