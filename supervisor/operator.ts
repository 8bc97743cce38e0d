// The operator (the CLI, through the control socket) is a sender like any agent,
// with send:* and no mailbox of its own. It uses the agents' own Outbox: the same
// send window, the same settling of accepts, refusals and replies; only its frames
// go straight into the router instead of down a pipe.
import { Outbox, type FrameOut } from '../protocol/outbox.js';
import type { Outlet, Route, Router } from './router/index.js';
import type { Qos, SupervisorHeader } from '../protocol/header.js';

interface SendHeader { t: 'send'; seq: number; to: string; kind: string; qos?: Qos; req?: true }

const EMPTY = Buffer.alloc(0);
const asBuffer = (b: Uint8Array | undefined): Buffer => (!b ? EMPTY : Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

export class OperatorOutlet implements Outlet {
  private readonly outbox: Outbox;

  constructor(router: Router, route: Route) {
    const into: FrameOut = {
      write(header, body) {
        const h = header as SendHeader;
        router.send(route, h.seq, h.to, h.kind, h.qos, h.req === true, asBuffer(body));
        router.flushAccepts();
      },
    };
    this.outbox = new Outbox(into, Number.MAX_SAFE_INTEGER);
    router.attach(route, this);
  }

  /** Frames the router sends the operator. */
  write(h: SupervisorHeader, body?: Uint8Array): void {
    if (h.t === 'acc') this.outbox.accepted(h);
    else if (h.t === 'rej') this.outbox.refused(h);
    else if (h.t === 'res') this.outbox.answered(h, asBuffer(body));
  }

  /** Inject a message. Resolves when accepted, or with the reply when `wait` is set. */
  send(to: string, kind: string, body: unknown, opts: { wait?: boolean; timeout?: number; qos?: Qos } = {}): Promise<unknown> {
    return this.outbox.submit(to, kind, body, opts.qos, opts.wait === true, opts.wait ? (opts.timeout ?? 30_000) : 0);
  }
}
