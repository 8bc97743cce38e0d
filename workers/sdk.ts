// outheis/worker: the agent side. An agent is a plain Node program that imports
// `agent`, registers handlers, and calls `ready()`. Everything it says leaves on
// fd 3; the supervisor stamps who said it.
import { packValue, unpackValue } from '../supervisor/wire/frame.js';
import { ENV } from '../supervisor/wire/env.js';
import type { MsgHeader, Qos, SupervisorHeader } from '../supervisor/wire/header.js';
import { AgentChannel } from './channel.js';
import { OutheisError } from './errors.js';

export { OutheisError } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { Qos } from '../supervisor/wire/header.js';

export interface Message<B = unknown> {
  id: number;
  from: string;
  kind: string;
  qos: Qos;
  body: B;
  redelivered: boolean;
}

export type Handler = (body: any, msg: Message) => unknown | Promise<unknown>;

interface Pending {
  resolve: (value: any) => void;
  reject: (err: Error) => void;
}

/** More unaccepted sends than this wait in the SDK: the supervisor treats a larger backlog as a flood. */
const WINDOW = 4096;
const DEFAULT_TIMEOUT = 30_000;
const EMPTY = Buffer.alloc(0);

class Agent {
  readonly name: string;
  private readonly channel: AgentChannel;
  private readonly maxFrame: number;
  private readonly handlers = new Map<string, Handler>();
  private readonly shutdownHooks: (() => unknown)[] = [];
  private seq = 0;
  private acceptedThrough = 0;
  private readonly accepting = new Map<number, Pending>();
  private readonly requests = new Map<number, Pending & { timer?: NodeJS.Timeout }>();
  /** Sends past the window, waiting in order to be written. */
  private backlog: { header: Record<string, unknown>; bytes: Buffer }[] = [];
  private backlogHead = 0;
  /** Written and not yet accepted, refused or answered. */
  private inflight = 0;
  private acks: number[] = [];
  private stopping = false;
  private isReady = false;

  constructor() {
    const name = process.env[ENV.name];
    if (!name) throw new Error('outheis/worker: this process was not started by an outheis supervisor (no OUTHEIS_AGENT, no channel on fd 3)');
    this.name = name;
    this.maxFrame = Number(process.env[ENV.maxFrame]) || 1 << 20;
    this.channel = new AgentChannel(3, this.maxFrame, (h, b) => this.onFrame(h, b), () => this.onChannelClosed());
    const hb = Number(process.env[ENV.heartbeat]) || 0;
    // Three beats per period: one late beat is not a hang.
    if (hb > 0) setInterval(() => this.channel.write({ t: 'hb' }), Math.max(50, Math.floor(hb / 3))).unref();
    process.once('SIGTERM', () => void this.shutdown(0));
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
    return this.submit(to, kind, body, opts.qos, false).then(() => undefined);
  }

  request<R = unknown>(to: string, kind: string, body?: unknown, opts: { qos?: Qos; timeout?: number } = {}): Promise<R> {
    return this.submit(to, kind, body, opts.qos, true, opts.timeout ?? DEFAULT_TIMEOUT) as Promise<R>;
  }

  onShutdown(fn: () => unknown): this {
    this.shutdownHooks.push(fn);
    return this;
  }

  private submit(to: string, kind: string, body: unknown, qos: Qos | undefined, req: boolean, timeout = 0): Promise<unknown> {
    if (this.stopping) return Promise.reject(new OutheisError('ESHUTDOWN', `${this.name} is shutting down`));
    let bytes: Buffer;
    try {
      bytes = body === undefined ? EMPTY : packValue(body);
    } catch (err) {
      return Promise.reject(err);
    }
    if (bytes.length + 512 > this.maxFrame) {
      return Promise.reject(new OutheisError('ETOOBIG', `message body of ${bytes.length} bytes exceeds the frame limit of ${this.maxFrame}`));
    }
    const seq = ++this.seq;
    const header: Record<string, unknown> = { t: 'send', seq, to, kind };
    if (qos) header.qos = qos;
    if (req) header.req = true;
    const accepted = new Promise<void>((resolve, reject) => this.accepting.set(seq, { resolve, reject }));
    if (!req) {
      this.transmit(header, bytes);
      return accepted;
    }
    const reply = new Promise<unknown>((resolve, reject) => {
      const entry: Pending & { timer?: NodeJS.Timeout } = { resolve, reject };
      if (timeout > 0) {
        entry.timer = setTimeout(() => {
          this.requests.delete(seq);
          reject(new OutheisError('ETIMEDOUT', `request ${kind} to ${to} got no reply within ${timeout} ms`));
        }, timeout);
      }
      this.requests.set(seq, entry);
    });
    this.transmit(header, bytes);
    // A refusal (EDENIED, ENOAGENT) rejects the request itself.
    accepted.catch((err: Error) => this.settleRequest(seq, err));
    return reply;
  }

  /** Write now if the window has room; otherwise queue behind earlier sends. The supervisor kills an agent that floods past it. */
  private transmit(header: Record<string, unknown>, bytes: Buffer): void {
    if (this.inflight < WINDOW && this.backlogHead === this.backlog.length) {
      this.inflight++;
      this.channel.write(header, bytes);
    } else {
      this.backlog.push({ header, bytes });
    }
  }

  private drainBacklog(): void {
    // Refill only once half the window is free: trickling one frame per accept would
    // turn a stream into a ping-pong of tiny writes (TCP's silly window syndrome).
    if (this.inflight > WINDOW / 2) return;
    while (this.inflight < WINDOW && this.backlogHead < this.backlog.length) {
      const next = this.backlog[this.backlogHead]!;
      this.backlog[this.backlogHead++] = undefined as never;
      this.inflight++;
      this.channel.write(next.header, next.bytes);
    }
    if (this.backlogHead === this.backlog.length) {
      this.backlog = [];
      this.backlogHead = 0;
    }
  }

  private settleRequest(seq: number, err: Error | null, value?: unknown): void {
    const entry = this.requests.get(seq);
    if (!entry) return; // timed out already
    this.requests.delete(seq);
    if (entry.timer) clearTimeout(entry.timer);
    if (err) entry.reject(err);
    else entry.resolve(value);
  }

  private onFrame(h: SupervisorHeader, body: Buffer): void {
    switch (h.t) {
      case 'msg': return this.deliver(h, body);
      case 'acc': return this.accept(h.seq);
      case 'rej': {
        const p = this.accepting.get(h.seq);
        this.accepting.delete(h.seq);
        if (p) {
          this.inflight--;
          p.reject(new OutheisError(h.code, h.message));
          this.drainBacklog();
        }
        return;
      }
      case 'res':
        // A reply implies acceptance: the supervisor sends no separate accept for requests.
        this.settleAccept(h.corr);
        if (h.err) this.settleRequest(h.corr, new OutheisError(h.err.code, h.err.message));
        else this.settleRequest(h.corr, null, body.length ? unpackValue(body) : undefined);
        return;
      case 'stop': return void this.shutdown(0);
    }
  }

  private accept(through: number): void {
    for (let s = this.acceptedThrough + 1; s <= through; s++) this.settleAccept(s);
    if (through > this.acceptedThrough) this.acceptedThrough = through;
  }

  private settleAccept(seq: number): void {
    const p = this.accepting.get(seq);
    if (!p) return;
    this.accepting.delete(seq);
    this.inflight--;
    p.resolve(undefined);
    this.drainBacklog();
  }

  private deliver(h: MsgHeader, raw: Buffer): void {
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
      bytes = result === undefined ? EMPTY : packValue(result);
    } catch (err) {
      return this.channel.write({ t: 'reply', corr: h.id, err: { code: 'EHANDLER', message: `reply could not be encoded: ${(err as Error).message}` } });
    }
    if (bytes.length + 512 > this.maxFrame) {
      return this.channel.write({ t: 'reply', corr: h.id, err: { code: 'ETOOBIG', message: `reply of ${bytes.length} bytes exceeds the frame limit of ${this.maxFrame}` } });
    }
    this.channel.write({ t: 'reply', corr: h.id }, bytes);
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
    const err = new OutheisError('ESHUTDOWN', `${this.name} is shutting down`);
    for (const seq of [...this.requests.keys()]) this.settleRequest(seq, err);
    await this.channel.flush();
    process.exit(code);
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
