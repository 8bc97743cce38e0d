// The agent's sending side: sequence numbers, the send window, and settling each
// send when the supervisor accepts it (`acc`, cumulative), refuses it (`rej`), or
// answers it (`res`, which also accepts a request).
import { packValue, unpackValue } from './frame.js';
import type { AccHeader, Qos, RejHeader, ResHeader } from './header.js';
import { KIND_MAX, NAME_MAX, QOS, SEND_WINDOW, fitsFrame } from './constants.js';
import { OutheisError } from './errors.js';

interface Pending {
  resolve: (value: any) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

const EMPTY = Buffer.alloc(0);

/** Where frames go: the agent's channel, or the operator's way into the router. */
export interface FrameOut {
  write(header: object, body?: Uint8Array): void;
}

/** Encode a body, refusing one that cannot fit a frame under `maxFrame`. */
export function encodeBody(value: unknown, maxFrame: number, what = 'message body'): Buffer {
  const bytes = value === undefined ? EMPTY : packValue(value);
  if (!fitsFrame(bytes.length, maxFrame)) throw new OutheisError('ETOOBIG', `${what} of ${bytes.length} bytes exceeds the frame limit of ${maxFrame}`);
  return bytes;
}

/**
 * A bad argument is the caller's bug: reject that one call. Sent as is, the
 * supervisor would take the malformed header as hostile and kill the agent.
 */
function checkArgs(to: unknown, kind: unknown, qos: unknown): void {
  if (typeof to !== 'string' || to.length === 0 || to.length > NAME_MAX) throw new TypeError(`send/request: "to" must be an agent name of 1 to ${NAME_MAX} characters, got ${JSON.stringify(to)}`);
  if (typeof kind !== 'string' || kind.length === 0 || kind.length > KIND_MAX) throw new TypeError(`send/request: "kind" must be a string of 1 to ${KIND_MAX} characters, got ${JSON.stringify(kind)?.slice(0, 80)}`);
  if (qos !== undefined && !(QOS as readonly unknown[]).includes(qos)) throw new TypeError(`send/request: "qos" must be one of ${QOS.join(', ')}, got ${JSON.stringify(qos)}`);
}

export class Outbox {
  private seq = 0;
  private acceptedThrough = 0;
  private readonly accepting = new Map<number, Pending>();
  private readonly requests = new Map<number, Pending>();
  /** Sends past the window, waiting in order to be written. */
  private backlog: { header: Record<string, unknown>; bytes: Buffer }[] = [];
  private backlogHead = 0;
  /** Written and not yet accepted, refused or answered. */
  private inflight = 0;

  constructor(private readonly channel: FrameOut, private readonly maxFrame: number) {}

  /** Resolves once accepted (one-way), or with the reply (request). */
  submit(to: string, kind: string, body: unknown, qos: Qos | undefined, req: boolean, timeout: number): Promise<unknown> {
    let bytes: Buffer;
    try {
      checkArgs(to, kind, qos);
      bytes = encodeBody(body, this.maxFrame);
    } catch (err) {
      return Promise.reject(err);
    }
    const seq = ++this.seq;
    const header: Record<string, unknown> = { t: 'send', seq, to, kind };
    if (qos) header.qos = qos;
    if (req) header.req = true;
    // The supervisor enforces it too, for a reply another host owes (supervisor/remote/origin.ts).
    if (req && timeout > 0) header.timeout = timeout;
    const accepted = new Promise<void>((resolve, reject) => this.accepting.set(seq, { resolve, reject }));
    if (!req) {
      this.transmit(header, bytes);
      return accepted;
    }
    const reply = new Promise<unknown>((resolve, reject) => {
      const entry: Pending = { resolve, reject };
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

  /** Save `state` as the agent's checkpoint: resolves once the supervisor has journaled it. */
  checkpoint(state: unknown): Promise<void> {
    let bytes: Buffer;
    try {
      bytes = encodeBody(state, this.maxFrame, 'checkpoint');
    } catch (err) {
      return Promise.reject(err);
    }
    const seq = ++this.seq;
    // In the same sequence as sends: the supervisor journals both in the order written, and one acc covers both.
    const accepted = new Promise<void>((resolve, reject) => this.accepting.set(seq, { resolve, reject }));
    this.transmit({ t: 'ckpt', seq }, bytes);
    return accepted;
  }

  accepted(h: AccHeader): void {
    for (let s = this.acceptedThrough + 1; s <= h.seq; s++) this.settleAccept(s);
    if (h.seq > this.acceptedThrough) this.acceptedThrough = h.seq;
  }

  refused(h: RejHeader): void {
    const p = this.accepting.get(h.seq);
    if (!p) return;
    this.accepting.delete(h.seq);
    this.inflight--;
    p.reject(new OutheisError(h.code, h.message));
    this.drainBacklog();
  }

  answered(h: ResHeader, body: Buffer): void {
    // A reply implies acceptance: the supervisor sends no separate accept for requests.
    this.settleAccept(h.corr);
    if (h.err) return this.settleRequest(h.corr, new OutheisError(h.err.code, h.err.message));
    let value: unknown;
    try {
      value = body.length ? unpackValue(body) : undefined;
    } catch (err) {
      // The supervisor never decodes bodies: a malformed reply must not crash us.
      return this.settleRequest(h.corr, new OutheisError('EHANDLER', `the reply could not be decoded: ${(err as Error).message}`));
    }
    this.settleRequest(h.corr, null, value);
  }

  /** Every pending request fails with `err` (the agent is shutting down). */
  failRequests(err: Error): void {
    for (const seq of [...this.requests.keys()]) this.settleRequest(seq, err);
  }

  /** Write now if the window has room; otherwise queue behind earlier sends. */
  private transmit(header: Record<string, unknown>, bytes: Buffer): void {
    if (this.inflight < SEND_WINDOW && this.backlogHead === this.backlog.length) {
      this.inflight++;
      this.channel.write(header, bytes);
    } else {
      this.backlog.push({ header, bytes });
    }
  }

  private drainBacklog(): void {
    // Refill only once half the window is free: trickling one frame per accept would
    // turn a stream into a ping-pong of tiny writes (TCP's silly window syndrome).
    if (this.inflight > SEND_WINDOW / 2) return;
    while (this.inflight < SEND_WINDOW && this.backlogHead < this.backlog.length) {
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

  private settleAccept(seq: number): void {
    const p = this.accepting.get(seq);
    if (!p) return;
    this.accepting.delete(seq);
    this.inflight--;
    p.resolve(undefined);
    this.drainBacklog();
  }

  private settleRequest(seq: number, err: Error | null, value?: unknown): void {
    const entry = this.requests.get(seq);
    if (!entry) return; // timed out already
    this.requests.delete(seq);
    if (entry.timer) clearTimeout(entry.timer);
    if (err) entry.reject(err);
    else entry.resolve(value);
  }
}
