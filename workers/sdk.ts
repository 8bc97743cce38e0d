// outheis/worker: the agent side. An agent is a plain Node program that imports
// `agent`, registers handlers, and calls `ready()`. Everything it says leaves on
// fd 3; the supervisor stamps who said it.
import { unpackValue } from '../protocol/frame.js';
import { ENV } from '../protocol/constants.js';
import type { MsgHeader, Qos, SupervisorHeader } from '../protocol/header.js';
import { AgentChannel, readInitFrame } from './channel.js';
import { OutheisError } from '../protocol/errors.js';
import { Outbox, encodeBody } from '../protocol/outbox.js';
import { Inbox } from './inbox.js';

export { OutheisError, EDENIED, ENOAGENT, ETIMEDOUT, EHANDLER, ETOOBIG, ESHUTDOWN, EJOURNAL } from '../protocol/errors.js';
export { ERROR_CODES } from '../protocol/constants.js';
export type { ErrorCode } from '../protocol/errors.js';
export type { Qos } from '../protocol/header.js';

export interface Message<B = unknown> {
  id: number;
  from: string;
  kind: string;
  qos: Qos;
  body: B;
  redelivered: boolean;
}

export type Handler = (body: any, msg: Message) => unknown | Promise<unknown>;

const DEFAULT_TIMEOUT = 30_000;

class Agent {
  readonly name: string;
  private readonly channel: AgentChannel;
  private readonly maxFrame: number;
  private readonly handlers = new Map<string, Handler>();
  private readonly shutdownHooks: (() => unknown)[] = [];
  private readonly outbox: Outbox;
  /** Delivered, handler not started yet: started highest class first. */
  private readonly inbox = new Inbox((h, body) => this.run(h, body));
  private acks: number[] = [];
  /** The graceful stop has begun: onShutdown hooks are running. */
  private stopping = false;
  /** The hooks are done and the process is on its way out: nothing more is sent. */
  private exiting = false;
  private isReady = false;
  /** The last checkpoint this agent saved before it was restarted; undefined on a first start. */
  readonly restored: unknown;

  constructor() {
    const name = process.env[ENV.name];
    if (!name) throw new Error('outheis/worker: this process was not started by an outheis supervisor (no OUTHEIS_AGENT, no channel on fd 3)');
    this.name = name;
    this.maxFrame = Number(process.env[ENV.maxFrame]) || 1 << 20;
    const init = readInitFrame(3);
    if (init.header.t !== 'init') throw new Error(`outheis/worker: the supervisor's first frame is ${init.header.t}, not init`);
    this.restored = init.header.restored && init.body.length ? unpackValue(init.body) : undefined;
    this.channel = new AgentChannel(3, this.maxFrame, (h, b) => this.onFrame(h, b), () => this.onChannelClosed());
    this.outbox = new Outbox(this.channel, this.maxFrame);
    const hb = Number(process.env[ENV.heartbeat]) || 0;
    if (hb > 0) this.beat(Math.max(50, Math.floor(hb / 2)));
    // SIGTERM is the supervisor's second stage: if the graceful stop is already under
    // way (a hook hangs), it means now.
    process.on('SIGTERM', () => (this.stopping ? process.exit(143) : void this.shutdown(0)));
  }

  /**
   * Two beats per heartbeat period, so a beat late by up to half the period is not a
   * hang. Beats fall on wall-clock multiples of the period, the same instants in
   * every agent: an idle supervisor then wakes once for all of them rather than once
   * per agent, which is most of what 100 idle agents cost it (bench/idle.ts).
   */
  private beat(every: number): void {
    const next = () => setTimeout(() => {
      this.channel.write({ t: 'hb' });
      next();
    }, every - (Date.now() % every)).unref();
    next();
  }

  handle(kind: string, fn: Handler): this {
    this.handlers.set(kind, fn);
    return this;
  }

  async ready(): Promise<void> {
    if (this.isReady) return;
    this.isReady = true;
    this.channel.write({ t: 'ready' });
    await this.channel.flush();
  }

  send(to: string, kind: string, body?: unknown, opts: { qos?: Qos } = {}): Promise<void> {
    if (this.exiting) return this.shutDown();
    return this.outbox.submit(to, kind, body, opts.qos, false, 0) as Promise<void>;
  }

  request<R = unknown>(to: string, kind: string, body?: unknown, opts: { qos?: Qos; timeout?: number } = {}): Promise<R> {
    if (this.exiting) return this.shutDown();
    return this.outbox.submit(to, kind, body, opts.qos, true, opts.timeout ?? DEFAULT_TIMEOUT) as Promise<R>;
  }

  /**
   * Save `state` as this agent's checkpoint; resolves once it is journaled. After a
   * restart (of the agent or of the supervisor) the latest one is `agent.restored`.
   */
  checkpoint(state: unknown): Promise<void> {
    if (this.exiting) return this.shutDown();
    return this.outbox.checkpoint(state);
  }

  /**
   * Sends, requests and checkpoints work until the hooks are done, so that a hook can
   * save its state or hand work on: the supervisor keeps the channel open, and routes
   * and journals as usual, until the process exits or its shutdown budget ends.
   */
  onShutdown(fn: () => unknown): this {
    this.shutdownHooks.push(fn);
    return this;
  }

  private onFrame(h: SupervisorHeader, body: Buffer): void {
    switch (h.t) {
      case 'msg': return this.inbox.push(h, body);
      case 'acc': return this.outbox.accepted(h);
      case 'rej': return this.outbox.refused(h);
      case 'res': return this.outbox.answered(h, body);
      case 'stop': return void this.shutdown(0);
      case 'init': return; // read at start (readInitFrame)
    }
  }

  private run(h: MsgHeader, raw: Buffer): void {
    const msg: Message = { id: h.id, from: h.from, kind: h.kind, qos: h.qos, body: undefined, redelivered: h.redelivered === true };
    let result: unknown;
    try {
      msg.body = raw.length ? unpackValue(raw) : undefined;
      const fn = this.handlers.get(h.kind);
      if (!fn) throw new Error(`${this.name} has no handler for "${h.kind}"`);
      result = fn(msg.body, msg);
    } catch (err) {
      return this.finish(h, false, err);
    }
    // A synchronous handler is finished now: no promise, no extra turn of the microtask queue.
    if (isThenable(result)) result.then((value) => this.finish(h, true, value), (err: unknown) => this.finish(h, false, err));
    else this.finish(h, true, result);
  }

  /** The handler is done: ack a one-way message, or send the reply (which acks it). */
  private finish(h: MsgHeader, ok: boolean, result: unknown): void {
    if (!ok) {
      const error = result instanceof Error ? result : new Error(String(result));
      if (!h.req) {
        process.stderr.write(`outheis: handler for ${h.kind} failed: ${error.stack ?? error.message}\n`);
        return this.ack(h.id);
      }
      return this.channel.write({ t: 'reply', corr: h.id, err: { code: 'EHANDLER', message: error.message.slice(0, 4000) } });
    }
    if (!h.req) return this.ack(h.id);
    let bytes: Buffer;
    try {
      bytes = encodeBody(result, this.maxFrame, 'reply');
    } catch (err) {
      const code = err instanceof OutheisError ? err.code : 'EHANDLER';
      return this.channel.write({ t: 'reply', corr: h.id, err: { code, message: `reply could not be sent: ${(err as Error).message}` } });
    }
    if (h.qos === 'interactive') this.channel.writeNow({ t: 'reply', corr: h.id }, bytes);
    else this.channel.write({ t: 'reply', corr: h.id }, bytes);
  }

  /** Acks of one tick leave as one frame. */
  private ack(id: number): void {
    if (this.acks.push(id) === 1) {
      process.nextTick(() => {
        const ids = this.acks;
        this.acks = [];
        this.channel.write({ t: 'ack', ids });
      });
    }
  }

  private async shutdown(code: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const hook of this.shutdownHooks) {
      try {
        await hook();
      } catch (err) {
        process.stderr.write(`outheis: shutdown hook failed: ${(err as Error).message}\n`);
      }
    }
    this.exiting = true;
    this.outbox.failRequests(new OutheisError('ESHUTDOWN', `${this.name} is shutting down`));
    await this.channel.flush();
    process.exit(code);
  }

  private shutDown(): Promise<never> {
    return Promise.reject(new OutheisError('ESHUTDOWN', `${this.name} is shutting down`));
  }

  private onChannelClosed(): void {
    if (this.stopping) return;
    // The supervisor is gone (or cut us off): an agent never outlives its supervisor,
    // and neither does anything it started. The agent leads its own process group.
    try {
      process.kill(0, 'SIGKILL');
    } catch {
      process.exit(70);
    }
  }
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as PromiseLike<unknown> | null)?.then === 'function';

let instance: Agent | undefined;

/** The agent runtime; created on first use so that importing the SDK is side-effect free. */
export const agent: Agent = new Proxy({} as Agent, {
  get(_t, prop) {
    instance ??= new Agent();
    const value = Reflect.get(instance, prop, instance);
    return typeof value === 'function' ? value.bind(instance) : value;
  },
});
