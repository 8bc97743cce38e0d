// Requests and replies: a reply (or a bare ack) settles the message it names, if it
// is in flight to the route that sent it; a request's answer, or the error in its
// place, goes back to the requester under the requester's own seq.
import type { RouterJournal } from '../../logs/journal/port.js';
import type { Envelope } from '../mailbox.js';
import type { WireError } from '../../protocol/header.js';
import { fitsFrame } from '../../protocol/constants.js';
import type { Route } from './route.js';

export class Requests {
  constructor(private readonly routes: ReadonlyMap<string, Route>, private readonly journal: RouterJournal) {}

  /** Handlers finished: what was in flight is journaled as acked. */
  acked(route: Route, ids: readonly number[]): void {
    const done: number[] = [];
    for (const id of ids) if (this.finished(route, id, undefined, undefined)) done.push(id);
    if (done.length) this.journal.note({ type: 'ack', agent: route.spec.name, ids: done }, true);
  }

  /** A reply also acks the request it answers. */
  replied(route: Route, corr: number, err: WireError | undefined, body: Buffer): void {
    if (this.finished(route, corr, err, body)) this.journal.note({ type: 'ack', agent: route.spec.name, ids: [corr] }, true);
  }

  /** A handler finished (ack), or a request was answered (reply). Whether it was in flight. */
  private finished(route: Route, id: number, err: WireError | undefined, body: Buffer | undefined): boolean {
    const env = route.mailbox.ack(id);
    if (!env) return false; // not in flight: a duplicate or stale ack, harmless
    env.done = true;
    this.journal.release(env.segment);
    if (env.req) this.answer(env, err ?? (body === undefined ? { code: 'EHANDLER', message: `${route.spec.name} acknowledged a request without replying` } : undefined), body);
    return true;
  }

  answer(env: Envelope, err: WireError | undefined, body?: Buffer): void {
    const requester = this.routes.get(env.from);
    if (!requester || requester.epoch !== env.fromEpoch) return; // the requester restarted: nobody waits
    if (!err && body && !fitsFrame(body.length, requester.spec.maxFrame)) {
      err = { code: 'ETOOBIG', message: `a reply of ${body.length} bytes exceeds ${env.from}'s frame limit of ${requester.spec.maxFrame}` };
    }
    requester.outlet?.write(err ? { t: 'res', corr: env.seq, err } : { t: 'res', corr: env.seq }, err ? undefined : body);
  }
}
