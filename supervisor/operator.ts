// The operator (the CLI, through the control socket) is a sender like any agent,
// with send:* and no mailbox of its own. Its outlet turns frames back into promises.
import { OutheisError } from '../workers/errors.js';
import { packValue, unpackValue } from './wire/frame.js';
import type { Qos, SupervisorHeader } from './wire/header.js';
import type { Outlet, Route, Router } from './router.js';

interface Waiter {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer?: NodeJS.Timeout;
}

export class OperatorOutlet implements Outlet {
  private seq = 0;
  private readonly accepting = new Map<number, Waiter>();
  private readonly replies = new Map<number, Waiter>();

  constructor(private readonly router: Router, private readonly route: Route) {
    router.attach(route, this);
  }

  write(h: SupervisorHeader, body?: Uint8Array): void {
    if (h.t === 'acc') {
      for (const [seq, w] of this.accepting) if (seq <= h.seq) { this.accepting.delete(seq); w.resolve(undefined); }
    } else if (h.t === 'rej') {
      const err = new OutheisError(h.code, h.message);
      this.take(this.accepting, h.seq)?.reject(err);
      this.take(this.replies, h.seq)?.reject(err);
    } else if (h.t === 'res') {
      const w = this.take(this.replies, h.corr);
      if (!w) return;
      if (h.err) w.reject(new OutheisError(h.err.code, h.err.message));
      else w.resolve(body && body.length ? unpackValue(body) : undefined);
    }
  }

  private take(map: Map<number, Waiter>, seq: number): Waiter | undefined {
    const w = map.get(seq);
    if (w) {
      map.delete(seq);
      if (w.timer) clearTimeout(w.timer);
    }
    return w;
  }

  /** Inject a message. Resolves when accepted, or with the reply when `wait` is set. */
  send(to: string, kind: string, body: unknown, opts: { wait?: boolean; timeout?: number; qos?: Qos } = {}): Promise<unknown> {
    const seq = ++this.seq;
    const bytes = body === undefined ? Buffer.alloc(0) : packValue(body);
    const accepted = new Promise((resolve, reject) => this.accepting.set(seq, { resolve, reject }));
    let reply: Promise<unknown> | undefined;
    if (opts.wait) {
      reply = new Promise((resolve, reject) => {
        const w: Waiter = { resolve, reject };
        const timeout = opts.timeout ?? 30_000;
        w.timer = setTimeout(() => {
          this.replies.delete(seq);
          reject(new OutheisError('ETIMEDOUT', `no reply from ${to} within ${timeout} ms`));
        }, timeout);
        this.replies.set(seq, w);
      });
      accepted.catch(() => undefined); // a refusal rejects the reply too
    }
    this.router.send(this.route, seq, to, kind, opts.qos, opts.wait === true, bytes);
    this.router.flushAccepts();
    return reply ?? accepted;
  }
}
