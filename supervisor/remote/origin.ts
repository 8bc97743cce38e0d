// The sending side of the cluster: each agent on another host is a route of our
// router whose outlet publishes to JetStream instead of writing to a pipe. So
// admission, the journal, the mailbox (bounded by cluster.owed_max), the delivery
// window and redelivery are the local ones. A message stays in flight here until the
// receiving supervisor's receipt says its journal holds it (a request: until its
// reply), and the route is ready only while the link is up: a disconnect requeues
// what was in flight, and the republish carries `redelivered`.
import type { Logger } from '../../logs/logger.js';
import type { SupervisorHeader, WireError } from '../../protocol/header.js';
import type { ClusterLink } from '../../cluster/link.js';
import { agentSubject, H, msgIdOf } from '../../cluster/wire.js';
import type { Route, Router } from '../router/index.js';
import type { Envelope } from '../mailbox.js';

/** A receipt or reply that came while its message was not in flight (requeued, not yet published again). */
type Early = { t: 'receipt' } | { t: 'reply'; err: WireError | undefined; body: Buffer };

const RETRY_MS = 1000;
/** How often the requests owed by another host are held against their deadlines. */
const DEADLINE_SWEEP_MS = 200;

const timedOut = (agent: string, host: string): WireError =>
  ({ code: 'ETIMEDOUT', message: `${agent} on ${host} did not reply within the request's timeout` });

export interface RemoteAgent {
  route: Route;
  host: string;
}

export class Origin {
  private readonly early = new Map<number, Early>();
  private readonly retrying = new Set<Route>();
  private up = false;
  private readonly sweep: NodeJS.Timeout;
  /** Per receiving host: no id below this is owed there (see lowFor). */
  private readonly low = new Map<string, number>();
  /** Per receiving host: the highest id published there. */
  private readonly highest = new Map<string, number>();

  constructor(
    private readonly router: Router,
    private readonly agents: readonly RemoteAgent[],
    private readonly thisHost: string,
    private readonly link: ClusterLink,
    private readonly log: Logger,
  ) {
    this.sweep = setInterval(() => this.expire(), DEADLINE_SWEEP_MS);
    this.sweep.unref();
  }

  /**
   * A request another host has not answered by its requester's deadline is answered
   * ETIMEDOUT here, through the same reply path a refusal from there takes: the
   * requester gets the code even while that host or NATS is down, and this host stops
   * owing it (its journal acks it). A reply that comes later finds nothing in flight
   * and is dropped.
   */
  private expire(): void {
    this.low.clear(); // recomputed on the next publish, from what is owed then
    const now = Date.now();
    for (const { route, host } of this.agents) {
      // Collected first: settling one changes the map being walked. Mostly there is none.
      let late: Envelope[] | undefined;
      for (const env of route.mailbox.inflight.values()) if (env.req && env.deadline !== undefined && env.deadline <= now) (late ??= []).push(env);
      for (const env of late ?? []) {
        this.early.delete(env.id);
        this.settleReply(route, env.id, timedOut(route.spec.name, host), Buffer.alloc(0));
      }
    }
  }

  close(): void {
    clearInterval(this.sweep);
  }

  /**
   * The low-water mark a message to `host` carries: nothing below it is owed there any
   * more (receipted, or settled here), so the receiver may forget those origins. It is
   * the lowest id queued or in flight to `host`'s agents, or past the highest published
   * when none is; computed at most once a sweep, and lowered by each publish below it
   * (a message that waited for room, with an older id), so it never passes an id that
   * is still owed and was published.
   */
  private lowFor(host: string, id: number): number {
    let low = this.low.get(host);
    if (low === undefined) {
      low = (this.highest.get(host) ?? 0) + 1;
      for (const a of this.agents) if (a.host === host) for (const env of a.route.mailbox.all()) low = Math.min(low, env.id);
    }
    low = Math.min(low, id);
    this.low.set(host, low);
    if (id > (this.highest.get(host) ?? 0)) this.highest.set(host, id);
    return low;
  }

  /** Connected: every remote agent's route delivers (publishes) from now on. */
  connected(): void {
    this.up = true;
    for (const a of this.agents) this.attach(a);
  }

  /** Disconnected: what was in flight goes back to the front of its mailbox, to be published again, flagged. */
  disconnected(): void {
    this.up = false;
    for (const { route } of this.agents) if (route.outlet) this.requeue(route);
  }

  /**
   * In flight back to the front of the mailbox. A publish is no delivery attempt: the
   * receiving host bounds its own agent's (journal.max_attempts there), so a link that
   * drops often never dead-letters what it owes.
   */
  private requeue(route: Route): void {
    for (const env of route.mailbox.inflight.values()) env.attempts = 0;
    this.router.detach(route);
  }

  private attach(a: RemoteAgent): void {
    this.router.attach(a.route, { write: (h, body) => this.publish(a, h, body) });
    this.router.ready(a.route);
  }

  private publish(a: RemoteAgent, h: SupervisorHeader, body: Uint8Array | undefined): void {
    if (h.t !== 'msg') return;
    const early = this.early.get(h.id);
    if (early) {
      // The receiver has it already: not published again. Settled from outside the delivery loop that is writing it;
      // a request whose receipt came early waits for its reply.
      this.early.delete(h.id);
      if (early.t === 'reply') queueMicrotask(() => this.settleReply(a.route, h.id, early.err, early.body));
      else if (!h.req) queueMicrotask(() => this.receipted(a.route, [h.id]));
      return;
    }
    const env = a.route.mailbox.inflight.get(h.id);
    if (env?.deadline !== undefined && env.deadline <= Date.now()) {
      // Waited here (NATS down) past its deadline: answered now, not published for nobody.
      queueMicrotask(() => this.settleReply(a.route, h.id, timedOut(a.route.spec.name, a.host), Buffer.alloc(0)));
      return;
    }
    const hdrs: Record<string, string> = {
      [H.from]: h.from, [H.host]: this.thisHost, [H.id]: String(h.id), [H.kind]: h.kind, [H.qos]: h.qos, [H.low]: String(this.lowFor(a.host, h.id)),
    };
    if (h.req) hdrs[H.req] = '1';
    if (h.redelivered) hdrs[H.redelivered] = '1';
    const subject = agentSubject(a.host, a.route.spec.name);
    const data = body ?? new Uint8Array(0);
    const epoch = a.route.epoch;
    this.link.publish(subject, data, hdrs, msgIdOf(this.thisHost, h.id)).then((ack) => {
      // Stored before, and maybe taken and receipted long ago (a receipt lost with a crash of ours):
      // published again under a fresh msgID, so the receiver sees it and, knowing it, receipts it again.
      if (ack.duplicate && h.redelivered) return this.link.publish(subject, data, hdrs, `${msgIdOf(this.thisHost, h.id)}.${Date.now()}`);
      return ack;
    }).catch((err: Error) => this.failed(a, epoch, err));
  }

  /** A publish failed while connected (a timeout): everything in flight is published again shortly, flagged. */
  private failed(a: RemoteAgent, epoch: number, err: Error): void {
    if (!this.up || a.route.epoch !== epoch || this.retrying.has(a.route)) return;
    this.retrying.add(a.route);
    this.log.warn({ agent: a.route.spec.name, host: a.host, err: err.message }, 'cluster: publish failed; publishing again');
    setTimeout(() => {
      this.retrying.delete(a.route);
      if (!this.up || a.route.epoch !== epoch) return;
      this.requeue(a.route);
      this.attach(a);
    }, RETRY_MS).unref();
  }

  /** The receiving supervisor, `host`, journaled these messages of ours (only ones we sent there count). */
  receipt(host: string, ids: readonly number[]): void {
    const done = new Map<Route, number[]>();
    const unknown: number[] = [];
    for (const id of ids) {
      const a = this.inflight(id, host);
      if (!a) unknown.push(id);
      // A request stays in flight until its reply: its receipt only says it arrived.
      else if (!a.route.mailbox.inflight.get(id)!.req) (done.get(a.route) ?? done.set(a.route, []).get(a.route)!).push(id);
    }
    for (const [route, list] of done) this.receipted(route, list);
    if (unknown.length) this.keepEarly(host, unknown, { t: 'receipt' });
  }

  /** The reply to our request `corr`, from the remote agent it was sent to. */
  reply(host: string, corr: number, err: WireError | undefined, body: Buffer): void {
    const a = this.inflight(corr, host);
    if (a) this.settleReply(a.route, corr, err, body);
    else this.keepEarly(host, [corr], { t: 'reply', err, body });
  }

  private receipted(route: Route, ids: number[]): void {
    for (let i = 0; i < ids.length; i += 65536) this.router.frame(route, { t: 'ack', ids: ids.slice(i, i + 65536) }, Buffer.alloc(0));
  }

  private settleReply(route: Route, corr: number, err: WireError | undefined, body: Buffer): void {
    this.router.frame(route, err ? { t: 'reply', corr, err } : { t: 'reply', corr }, body);
  }

  private inflight(id: number, host: string): RemoteAgent | undefined {
    return this.agents.find((a) => a.host === host && a.route.mailbox.inflight.has(id));
  }

  /** Kept only for a message still queued (it will be published again); a late duplicate of a settled one is dropped. */
  private keepEarly(host: string, ids: readonly number[], e: Early): void {
    const wanted = new Set(ids);
    for (const a of this.agents) {
      if (a.host !== host) continue;
      for (const env of a.route.mailbox.all()) {
        if (wanted.has(env.id) && this.early.get(env.id)?.t !== 'reply') this.early.set(env.id, e);
      }
    }
  }

  /** Messages owed to each remote agent: queued here, or published and not yet receipted (requests: not replied). */
  owed(): { agent: string; host: string; owed: number }[] {
    return this.agents.map(({ route, host }) => ({ agent: route.spec.name, host, owed: route.mailbox.depth + route.mailbox.inflight.size }));
  }
}
