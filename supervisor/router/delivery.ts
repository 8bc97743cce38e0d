// Delivery: from the mailboxes to the agents, windowed (at most `prefetch` in flight),
// highest QoS class first; what a dead agent had in flight is redelivered to its next
// incarnation, and what cannot be delivered goes to the dead letters. Deliveries are
// journaled without holding anything up: losing the last few to a crash only means a
// redelivery, which is flagged.
import type { RouterJournal } from '../../logs/journal/port.js';
import type { Envelope } from '../mailbox.js';
import type { ErrorCode, SupervisorHeader } from '../../protocol/header.js';
import type { RouterEvents } from './events.js';
import type { Route } from './route.js';
import type { Requests } from './requests.js';

export class Delivery {
  constructor(
    private readonly journal: RouterJournal,
    private readonly events: RouterEvents,
    private readonly requests: Requests,
    private readonly maxAttempts: number,
    /** Room was made in the target's mailbox: admit parked sends. Whether any were. */
    private readonly unpark: (target: Route) => boolean,
  ) {}

  /**
   * Deliver from the mailbox while the agent is ready and its window has room; each
   * batch taken makes room for parked sends, which may fill the next batch.
   */
  pump(route: Route): void {
    if (route.delivering) return;
    route.delivering = true;
    try {
      while (route.ready && route.outlet && route.mailbox.refill) {
        const out = route.outlet;
        const ids: number[] = [];
        let env: Envelope | undefined;
        while ((env = route.mailbox.take())) {
          const h: SupervisorHeader = { t: 'msg', id: env.id, from: env.from, kind: env.kind, qos: env.qos };
          if (env.req) h.req = true;
          if (env.redelivered) h.redelivered = true;
          env.attempts++;
          ids.push(env.id);
          out.write(h, env.body);
        }
        if (ids.length) this.journal.note({ type: 'deliver', agent: route.spec.name, ids }, true);
        if (!this.unpark(route)) return;
      }
    } finally {
      route.delivering = false;
    }
  }

  /** A message recovered from the journal goes back into its mailbox (before any agent starts). */
  restore(target: Route | undefined, env: Envelope): void {
    if (!target || target.removed) return this.deadLetter(env, `no agent named "${env.to}" in the config any more`, 'ENOAGENT');
    target.mailbox.put(env);
  }

  /** The agent's process is gone: what it had in flight is redelivered to its next incarnation, up to max attempts. */
  requeue(route: Route): void {
    const { exhausted } = route.mailbox.requeueInflight(this.maxAttempts);
    for (const env of exhausted) this.deadLetter(env, `not acked after ${env.attempts} deliveries`);
  }

  /** Gone for good: pending requests fail with ENOAGENT instead of waiting forever. */
  drop(route: Route, reason = `agent "${route.spec.name}" stopped for good before handling it`): Envelope[] {
    const dropped = route.mailbox.drainAll();
    for (const env of dropped) this.deadLetter(env, reason, 'ENOAGENT');
    return dropped;
  }

  /** Settle a message that will not be delivered: journaled, and a waiting requester told. */
  deadLetter(env: Envelope, reason: string, code: ErrorCode = 'EHANDLER'): void {
    env.done = true;
    // With the message itself: `outheis redrive` sends it again after its accept record is gone.
    this.journal.note({ type: 'deadletter', agent: env.to, id: env.id, from: env.from, kind: env.kind, attempts: env.attempts, reason, qos: env.qos, body: env.body });
    this.journal.release(env.segment);
    this.events.deadLettered?.(env, reason);
    if (env.req) this.requests.answer(env, { code, message: `${env.kind} to ${env.to} was dead-lettered: ${reason}` });
  }
}
