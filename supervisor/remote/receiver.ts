// The receiving side of the cluster: a message from `a` on host h1 is admitted like a
// local send from a route named `a@h1`, whose pledge is what h1 published for `a`.
// Once the journal holds it, h1 gets a receipt and only then is the JetStream message
// acked (a double ack): a crash between the two means a redelivery, which the journal's
// set of origins recognises, so it is receipted again and not accepted twice. Refusals
// (EDENIED, ENOAGENT, ETOOBIG) settle the origin too: a receipt, and for a request a reply.
// What is remembered by origin is bounded: each message carries its origin's low-water
// mark (nothing below it is owed here any more), and an origin below it whose stream
// copy is acked is forgotten.
import type { JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../../logs/logger.js';
import { originKey } from '../../logs/journal/state.js';
import type { ClusterLink } from '../../cluster/link.js';
import { fields, H, inboundMsgSchema, REPLY, RECEIPT, SUBJECT_ROOT, type WireErr } from '../../cluster/wire.js';
import { LIMITS } from '../../cluster/settings.js';
import type { SupervisorHeader, WireError } from '../../protocol/header.js';
import type { Route, Router } from '../router/index.js';
import { NAME_PATTERN } from '../config/index.js';

/** Taken from the stream, not yet journaled (or refused): acked once it is. */
interface Pending {
  m: JsMsg;
  req: boolean;
}

/** How long a sender's published pledges are trusted before they are read again (a reload there may change them). */
const PLEDGES_TTL_MS = 10_000;
const MAX_FRAME = 1 << 30;
const MSG_KEYS = ['from', 'host', 'id', 'kind', 'qos', 'req', 'redelivered', 'low'] as const;
/** How often origins below their host's low-water mark are forgotten. */
const PRUNE_MS = 500;
/**
 * How long an origin is kept after its stream copy was acked, even below the mark: a
 * second copy (one the origin published again under a fresh id after a reconnect, or
 * one a crash of ours left unacked) comes within about an ack_wait of the first.
 */
const HOLD_MS = 2 * LIMITS.ackWaitMs;

/**
 * The messages of other hosts our journal holds, by origin host and id there, each with
 * when its JetStream copy was acked (0: not yet): it may be forgotten once the origin no
 * longer owes it (below its mark) and the stream has had time to bring any copy again.
 */
class Remembered {
  private readonly hosts = new Map<string, Map<number, number>>();
  /** Per origin host, the low-water mark its latest message carried. */
  private readonly lows = new Map<string, number>();
  /** Recovered from the journal: their stream copies count as acked from when the link is up (any unacked one comes again then). */
  private recovered: { host: string; id: number }[] = [];

  constructor(recovered: Iterable<string>) {
    for (const key of recovered) {
      const dot = key.lastIndexOf('.');
      const o = { host: key.slice(0, dot), id: Number(key.slice(dot + 1)) };
      this.add(o.host, o.id);
      this.recovered.push(o);
    }
  }

  has(host: string, id: number): boolean {
    return this.hosts.get(host)?.has(id) === true;
  }

  add(host: string, id: number): void {
    let ids = this.hosts.get(host);
    if (!ids) this.hosts.set(host, (ids = new Map()));
    if (!ids.has(id)) ids.set(id, 0);
  }

  acked(host: string, id: number, at = Date.now()): void {
    const ids = this.hosts.get(host);
    if (ids?.has(id)) ids.set(id, at);
  }

  /** The link is up: what was recovered is held from now on, as if acked now. */
  connected(): void {
    for (const o of this.recovered) if (!this.hosts.get(o.host)?.get(o.id)) this.acked(o.host, o.id);
    this.recovered = [];
  }

  /** The latest, not the highest: an origin lowers it for a message that waited there with an older id. */
  low(host: string, low: number): void {
    this.lows.set(host, low);
  }

  prune(now = Date.now()): void {
    for (const [host, low] of this.lows) {
      const ids = this.hosts.get(host);
      if (!ids) continue;
      for (const [id, at] of ids) if (id < low && at > 0 && now - at > HOLD_MS) ids.delete(id);
    }
  }

  get size(): number {
    let n = 0;
    for (const ids of this.hosts.values()) n += ids.size;
    return n;
  }
}

export class Receiver {
  private readonly pending = new Map<string, Pending>();
  private readonly senders = new Map<string, { route: Route; readAt: number }>();
  private readonly receipts = new Map<string, { ids: number[]; msgs: JsMsg[] }>();
  private flushing = false;
  private flushQueued = false;
  private chain: Promise<void> = Promise.resolve();
  private readonly keepAlive: NodeJS.Timeout;
  private readonly pruning: NodeJS.Timeout;
  private readonly origins: Remembered;

  constructor(
    private readonly router: Router,
    private readonly thisHost: string,
    private readonly link: ClusterLink,
    /** Every message from another host the journal holds an accept of (rebuilt at recovery), as originKey. */
    recovered: Iterable<string>,
    private readonly log: Logger,
  ) {
    this.origins = new Remembered(recovered);
    this.pruning = setInterval(() => this.origins.prune(), PRUNE_MS);
    this.pruning.unref();
    // What waits for room in a full mailbox is not redelivered meanwhile (each redelivery counts against max_deliver).
    this.keepAlive = setInterval(() => { for (const p of this.pending.values()) p.m.working(); }, LIMITS.ackWaitMs / 3);
    this.keepAlive.unref();
  }

  /** A message for one of our agents (`outheis.<us>.<agent>`); receipts and replies go to the origin side. */
  message(m: JsMsg, to: string): void {
    if (!NAME_PATTERN.test(to)) {
      this.log.warn({ subject: m.subject }, 'cluster: message for no agent name dropped');
      return m.term();
    }
    const parsed = inboundMsgSchema.safeParse(fields((k) => m.headers?.get(k) ?? '', MSG_KEYS));
    if (!parsed.success) {
      this.log.warn({ subject: m.subject, issue: parsed.error.issues[0]?.message }, 'cluster: malformed message dropped');
      return m.term();
    }
    const h = parsed.data;
    const origin = { host: h.host, id: h.id };
    const key = originKey(origin);
    if (h.low !== undefined) this.origins.low(h.host, h.low);
    if (this.origins.has(h.host, h.id)) return this.receipt(h.host, h.id, m);
    const known = this.pending.get(key);
    if (known) {
      known.m = m; // acked through its latest delivery
      return;
    }
    this.pending.set(key, { m, req: h.req === '1' });
    // In arrival order, also when a sender's pledges must be read first.
    this.chain = this.chain.then(async () => {
      const route = await this.sender(h.from, h.host).catch((err: Error) => {
        this.log.warn({ from: `${h.from}@${h.host}`, err: err.message }, 'cluster: cannot read the sender\'s pledges; taken again later');
        return undefined;
      });
      const p = this.pending.get(key);
      if (!p) return;
      if (!route) {
        this.pending.delete(key);
        return p.m.nak(LIMITS.ackWaitMs / 2);
      }
      // JetStream's own redelivery is flagged too: a copy of one we forgot (pruned) may have been accepted before.
      this.router.send(route, h.id, to, h.kind, h.qos, p.req, Buffer.from(m.data), { origin, redelivered: h.redelivered === '1' || p.m.info.redelivered });
      this.flushSoon();
    }).catch((err: Error) => {
      // Kept going for the next message; this one is not acked, and comes again.
      this.pending.delete(key);
      this.log.error({ key, err: err.stack ?? err.message }, 'cluster: admitting a message from another host failed');
    });
  }

  /**
   * What was admitted this turn goes to the journal as one group, as an agent's read does
   * (agent-link.ts, batchEnd): not one group commit, and one fsync under `batch`, per message.
   */
  private flushSoon(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      this.router.flushAccepts();
    });
  }

  /** The route of `agent` on `host` as a sender here: created on first use, its pledge what that host published. */
  private async sender(agent: string, host: string): Promise<Route> {
    const name = `${agent}@${host}`;
    const known = this.senders.get(name);
    if (known && Date.now() - known.readAt < PLEDGES_TTL_MS) return known.route;
    const published = await this.link.pledgesOf(host, agent);
    // Only sends to agents are checked here; `send:*` on the other host means every agent here too.
    const pledge = (published ?? []).filter((p) => p.startsWith('send:'));
    const spec = { name, qos: 'utility' as const, pledge, mailbox: 1, maxFrame: MAX_FRAME };
    const route = known?.route ?? this.senderRoute(name, host);
    route.update(spec);
    this.senders.set(name, { route, readAt: Date.now() });
    return route;
  }

  /** A remote sender's route (also one a recovered request waits on): its outlet carries replies and refusals home. */
  senderRoute(name: string, host: string): Route {
    const existing = this.router.routes.get(name);
    if (existing) return existing;
    const route = this.router.add({ name, qos: 'utility', pledge: [], mailbox: 1, maxFrame: MAX_FRAME });
    // Only a sender: a local agent with send:* addressing `a@h1` finds no agent (replies need no route's mailbox).
    route.removed = true;
    route.outlet = { write: (h, body) => this.fromRouter(host, h, body) };
    route.accepted = (env) => {
      if (!env.origin) return;
      const key = originKey(env.origin);
      this.origins.add(env.origin.host, env.origin.id);
      const p = this.pending.get(key);
      this.pending.delete(key);
      if (p) this.receipt(env.origin.host, env.origin.id, p.m);
    };
    return route;
  }

  /** What the router tells a remote sender: a refusal, or the reply to its request (`corr` is its id there). */
  private fromRouter(host: string, h: SupervisorHeader, body: Uint8Array | undefined): void {
    if (h.t === 'res') return this.reply(host, h.corr, h.err, body);
    if (h.t !== 'rej') return;
    const key = originKey({ host, id: h.seq });
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    // The journal could not take it: it stays in the stream, and comes again.
    if (h.code === 'EJOURNAL') return p.m.nak(LIMITS.ackWaitMs / 2);
    this.log.info({ host, id: h.seq, code: h.code, why: h.message }, 'cluster: message from another host refused');
    if (p.req) this.reply(host, h.seq, { code: h.code, message: h.message }, undefined);
    this.receipt(host, h.seq, p.m);
  }

  /**
   * A reply is published until the stream has it: the request is acked in our journal
   * already, so this is its only copy (lost only if we die before the stream took it;
   * the requester's timeout covers that).
   */
  private reply(host: string, corr: number, err: WireError | WireErr | undefined, body: Uint8Array | undefined): void {
    const hdrs: Record<string, string> = { [H.host]: this.thisHost, [H.corr]: String(corr) };
    if (err) hdrs[H.err] = '1';
    const data = err ? new TextEncoder().encode(JSON.stringify(err)) : (body ?? new Uint8Array(0));
    const attempt = (): void => void this.link.publish(`${SUBJECT_ROOT}.${host}.${REPLY}`, data, hdrs).catch(() => setTimeout(attempt, 1000).unref());
    attempt();
  }

  /** Receipts go out once per turn per host, and each message is acked once its receipt is stored. */
  private receipt(host: string, id: number, m: JsMsg): void {
    let r = this.receipts.get(host);
    if (!r) this.receipts.set(host, (r = { ids: [], msgs: [] }));
    r.ids.push(id);
    r.msgs.push(m);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => this.flushReceipts());
  }

  private flushReceipts(): void {
    this.flushing = false;
    for (const [host, { ids, msgs }] of this.receipts) {
      const data = new TextEncoder().encode(JSON.stringify(ids));
      this.link.publish(`${SUBJECT_ROOT}.${host}.${RECEIPT}`, data, { [H.host]: this.thisHost }).then(
        () => {
          msgs.forEach((m, i) => m.ackAck().then((ok) => { if (ok) this.origins.acked(host, ids[i]!); }, () => undefined));
        },
        // Not acked: JetStream delivers them again, and the journal's origins receipt them then.
        (err: Error) => this.log.warn({ host, messages: ids.length, err: err.message }, 'cluster: receipt not published; it is sent again on redelivery'),
      );
    }
    this.receipts.clear();
  }

  /** The link is up (again). */
  connected(): void {
    this.origins.connected();
  }

  /** How many origins are remembered (status). */
  get remembered(): number {
    return this.origins.size;
  }

  close(): void {
    clearInterval(this.keepAlive);
    clearInterval(this.pruning);
  }
}
