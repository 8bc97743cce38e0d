// The cluster link: this supervisor's one connection to NATS, the cluster's stream,
// this host's durable pull consumer, and the pledges each host publishes. It knows
// nothing of routes or the journal: the supervisor's side (supervisor/remote/) tells
// it what to publish and is handed what arrives. Only `import()`ed when the config
// has `cluster:`, so a single-host supervisor never loads the NATS client.
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, headers as natsHeaders, nkeyAuthenticator, type Authenticator, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType,
  type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg, type PubAck,
} from '@nats-io/jetstream';
import { hostFilter } from './wire.js';
import { LIMITS, pledgeStreamOf, PLEDGE_ROOT, streamConfigOf } from './settings.js';

export interface LinkOptions {
  servers: string[];
  host: string;
  stream: string;
  /** A NATS .creds file (user JWT and seed) or an nkey seed file. */
  creds?: string | undefined;
  /** Each message this host's consumer takes; acked by the taker. */
  inbound(m: JsMsg): void;
  /** Connected, and the stream and consumer exist (again). */
  up(): void;
  /** The connection is gone; it is retried for ever. */
  down(reason: string): void;
  warn(fields: object, msg: string): void;
}

/** What `status` shows of the link. */
export interface LinkStatus {
  connected: boolean;
  server: string | null;
  /** ms since the epoch of the last change between connected and not. */
  since: number;
  lastError: string | null;
  /** Messages for this host in the stream that its consumer has not taken yet, and taken but not acked. */
  pending: number | null;
  ackPending: number | null;
  /** Hosts that published pledges (every supervisor does, at connect). */
  peers: string[];
}

const NS = 1_000_000;
const STATS_MS = 2000;

/** The creds file's kind from its content: a decorated .creds file, or a bare nkey seed. */
export function authenticatorOf(file: string): Authenticator {
  const bytes = readFileSync(file);
  const text = bytes.toString('utf8');
  if (text.includes('BEGIN NATS USER JWT')) return credsAuthenticator(new Uint8Array(bytes));
  const seed = /S[A-Z2-7]{50,}/.exec(text)?.[0];
  if (!seed) throw new Error(`${file}: neither a NATS .creds file nor an nkey seed`);
  return nkeyAuthenticator(new TextEncoder().encode(seed));
}

export class ClusterLink {
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private messages: ConsumerMessages | undefined;
  private stats: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly state: LinkStatus = { connected: false, server: null, since: Date.now(), lastError: null, pending: null, ackPending: null, peers: [] };
  readonly ready: Promise<void>;

  constructor(private readonly opts: LinkOptions) {
    this.ready = this.open().catch((err: Error) => {
      this.state.lastError = err.message;
      if (!this.closed) opts.warn({ err: err.message }, 'cluster: could not open the link; sends to other hosts stay owed');
    });
  }

  get durable(): string {
    return this.opts.host;
  }

  status(): LinkStatus {
    return { ...this.state, peers: [...this.state.peers] };
  }

  private async open(): Promise<void> {
    const { servers, host, creds } = this.opts;
    // Retried for ever, also the first time: a supervisor starts (and routes locally) with NATS down.
    const nc = await connect({
      servers, name: `outheis-${host}`, waitOnFirstConnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 500,
      noAsyncTraces: true, ...(creds ? { authenticator: authenticatorOf(creds) } : {}),
    });
    if (this.closed) return void (await nc.close());
    this.nc = nc;
    this.js = jetstream(nc);
    void this.watch(nc);
    // A server just started may not serve JetStream yet: tried again until it does.
    for (let warned = false; ; warned = true) {
      try {
        this.jsm = await jetstreamManager(nc);
        await this.ensure();
        break;
      } catch (err) {
        this.state.lastError = (err as Error).message;
        if (!warned) this.opts.warn({ err: this.state.lastError }, 'cluster: JetStream not usable yet; trying again');
        if (this.closed) return;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    const consumer = await this.js.consumers.get(this.opts.stream, this.durable);
    this.messages = await consumer.consume({
      max_messages: 256,
      callback: (m) => {
        try {
          this.opts.inbound(m);
        } catch (err) {
          // Not acked: it comes again after ack_wait.
          this.opts.warn({ subject: m.subject, err: (err as Error).message }, 'cluster: taking a message failed');
        }
      },
    });
    this.stats = setInterval(() => void this.refresh(), STATS_MS);
    this.stats.unref();
    this.connected(true);
    void this.refresh();
  }

  /** The stream, the pledges' stream and this host's consumer: created if missing (idempotent, also after a server lost its store). */
  private async ensure(): Promise<void> {
    const jsm = this.jsm!;
    const { stream, host } = this.opts;
    for (const cfg of [streamConfigOf(stream), { name: pledgeStreamOf(stream), subjects: [`${PLEDGE_ROOT}.>`], storage: StorageType.File, max_msgs_per_subject: 1 }]) {
      try {
        await jsm.streams.info(cfg.name);
      } catch {
        await jsm.streams.add(cfg);
      }
    }
    try {
      await jsm.consumers.info(stream, this.durable);
    } catch {
      await jsm.consumers.add(stream, {
        durable_name: this.durable, filter_subject: hostFilter(host), ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All,
        ack_wait: LIMITS.ackWaitMs * NS, max_deliver: LIMITS.maxDeliver, max_ack_pending: LIMITS.maxAckPending,
      });
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.state.lastError = `disconnected from ${s.server}`;
        this.connected(false);
      } else if (s.type === 'reconnect') {
        if (!this.messages) continue; // still setting up: open() says when it is connected
        try {
          await this.ensure();
          this.connected(true);
        } catch (err) {
          this.state.lastError = (err as Error).message;
          this.opts.warn({ err: (err as Error).message }, 'cluster: reconnected, but the stream is not usable');
        }
      } else if (s.type === 'error') this.state.lastError = s.error.message;
    }
  }

  private connected(up: boolean): void {
    if (this.state.connected === up) return;
    Object.assign(this.state, { connected: up, since: Date.now(), server: up ? (this.nc?.getServer() ?? null) : null });
    if (up) this.opts.up();
    else this.opts.down(this.state.lastError ?? 'disconnected');
  }

  /** A JetStream publish: resolves once the stream has stored it (or knew its msgID already: `duplicate`). */
  publish(subject: string, body: Uint8Array, hdrs: Record<string, string>, msgID?: string): Promise<PubAck> {
    const js = this.js;
    if (!js || !this.state.connected) return Promise.reject(new Error('not connected to NATS'));
    const h = natsHeaders();
    for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
    return js.publish(subject, body, { headers: h, timeout: LIMITS.publishTimeoutMs, ...(msgID ? { msgID } : {}) });
  }

  /** This host's agents' send pledges, for receivers to check remote sends against (the last one per agent is kept). */
  async publishPledges(agents: Record<string, readonly string[]>): Promise<void> {
    await Promise.all(Object.entries(agents).map(([agent, pledge]) =>
      this.publish(`${PLEDGE_ROOT}.${this.opts.host}.${agent}`, new TextEncoder().encode(JSON.stringify(pledge)), {})));
  }

  /** What `agent` on `host` pledged, as that host last published it; undefined: nothing published. */
  async pledgesOf(host: string, agent: string): Promise<string[] | undefined> {
    const jsm = this.jsm;
    if (!jsm) throw new Error('not connected to NATS');
    const m = await jsm.streams.getMessage(pledgeStreamOf(this.opts.stream), { last_by_subj: `${PLEDGE_ROOT}.${host}.${agent}` }).catch(() => null);
    if (!m) return undefined;
    const v: unknown = m.json();
    return Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string') : [];
  }

  /** The consumer's backlog and the peers, for `status`: refreshed now and then, so `status` never waits on NATS. */
  private async refresh(): Promise<void> {
    const jsm = this.jsm;
    if (!jsm || !this.state.connected) return;
    try {
      const ci = await jsm.consumers.info(this.opts.stream, this.durable);
      this.state.pending = ci.num_pending;
      this.state.ackPending = ci.num_ack_pending;
      const si = await jsm.streams.info(pledgeStreamOf(this.opts.stream), { subjects_filter: `${PLEDGE_ROOT}.>` });
      const hosts = new Set(Object.keys(si.state.subjects ?? {}).map((s) => s.split('.')[1]!).filter((h) => h !== this.opts.host));
      this.state.peers = [...hosts].sort();
    } catch (err) {
      this.state.lastError = (err as Error).message;
    }
  }

  /** The stream's settings as the server has them (doctor). */
  async streamInfo() {
    await this.ready;
    if (!this.jsm) throw new Error(this.state.lastError ?? 'not connected');
    return this.jsm.streams.info(this.opts.stream);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.stats);
    this.messages?.stop();
    await this.nc?.drain().catch(() => undefined);
  }
}
