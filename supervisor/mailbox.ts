// A per-agent mailbox: one FIFO per QoS class, drained highest class first.
// Interactive work is delivered before background work (priority-aware
// scheduling), FIFO within a class. Delivery is windowed: at most `prefetch`
// messages are in flight (delivered, not yet acked), so a backlog waits here,
// where priority still applies, instead of in a kernel pipe where it would not.
// Admission is by class too: each class, with every class below it, may fill only
// its share of the capacity, so that the room above is held back for higher classes
// and a flood of background work never keeps interactive work out.
import { QOS, type Qos } from '../protocol/header.js';
import { Fifo } from '../protocol/fifo.js';
import { QOS_RANK as RANK, rankOf } from '../protocol/constants.js';

export { Fifo };

export interface Envelope {
  id: number;
  from: string;
  to: string;
  kind: string;
  qos: Qos;
  req: boolean;
  /** The requester's own seq, to route the reply back (requests only). */
  seq: number;
  /** The requester's incarnation: a reply to a restarted requester is dropped. */
  fromEpoch: number;
  body: Buffer;
  redelivered: boolean;
  /** Deliveries so far, across supervisor restarts (counted from the journal's deliver records). */
  attempts: number;
  /** The journal segment holding its accept record (retention keeps it while the message is live); -1 without a journal. */
  segment: number;
  /** Acked or dead-lettered: nothing more happens to it. */
  done: boolean;
  /** From another host (cluster): that host and the message's id there; `seq` is that id too. */
  origin?: { host: string; id: number } | undefined;
  /** A request's reply is wanted by then (ms since the epoch; from its timeout). Not journaled: a restarted requester waits for nothing. */
  deadline?: number | undefined;
}

export { RANK, rankOf };

/**
 * The share of a mailbox's capacity that a class and all classes below it may hold
 * (queued plus being journaled). Interactive may fill it all; background only half,
 * so that half stays free for the classes above it however hard background floods.
 */
export const ADMIT_SHARE: Record<Qos, number> = { interactive: 1, user: 7 / 8, utility: 3 / 4, background: 1 / 2 };
const SHARES = QOS.map((q) => ADMIT_SHARE[q]);

export class Mailbox {
  private readonly queues = QOS.map(() => new Fifo<Envelope>());
  private queued = 0;
  /** Accepted sends still being journaled, by class: they count against capacity (and their class's share) before they arrive. */
  private readonly reservedBy = QOS.map(() => 0);
  /** Delivered and not yet acked, by message id, in delivery order. */
  readonly inflight = new Map<number, Envelope>();

  /** capacity: a reload may change it; what is queued beyond a smaller one stays, and new sends wait for room. */
  constructor(public capacity: number, readonly prefetch: number) {}

  get depth(): number { return this.queued; }
  get reserved(): number { return this.reservedBy[0]! + this.reservedBy[1]! + this.reservedBy[2]! + this.reservedBy[3]!; }
  /** Full for every class: even interactive waits. */
  get full(): boolean { return this.queued + this.reserved >= this.capacity; }

  /** Room for one message of class `qos` is held for it until its journal group lands (or fails). */
  reserve(qos: Qos): void { this.reservedBy[rankOf(qos)]!++; }
  unreserve(qos: Qos): void { this.reservedBy[rankOf(qos)]!--; }

  /** Queued plus being journaled, of one class. */
  heldOf(qos: Qos): number {
    const r = rankOf(qos);
    return this.queues[r]!.length + this.reservedBy[r]!;
  }

  /**
   * The most that `qos` and the classes below it may hold. Interactive: the whole
   * capacity; the others their share of it, but always less than all (room for one
   * interactive message at least, from a capacity of 2) and always at least one.
   */
  limitOf(qos: Qos): number {
    const r = rankOf(qos);
    if (r === 0) return this.capacity;
    return Math.max(1, Math.min(this.capacity - 1, Math.floor(this.capacity * SHARES[r]!)));
  }

  /** Whether a message of class `qos` may come in now: the mailbox is not full, and its class with those below is under its share. */
  admits(qos: Qos): boolean {
    const rank = rankOf(qos);
    let total = 0;
    let atOrBelow = 0;
    for (let r = 0; r < this.queues.length; r++) {
      const held = this.queues[r]!.length + this.reservedBy[r]!;
      total += held;
      if (r >= rank) atOrBelow += held;
    }
    return total < this.capacity && atOrBelow < this.limitOf(qos);
  }

  put(env: Envelope): void {
    this.queues[rankOf(env.qos)]!.push(env);
    this.queued++;
  }

  /**
   * Whether to deliver now: with nothing in flight always, otherwise only once half
   * the window is free, so that a busy agent gets large batches, not a trickle.
   * Interactive work does not wait for the batch: it goes as soon as the window has
   * room, and the agent's SDK starts it ahead of what it was handed before (workers/inbox.ts).
   */
  get refill(): boolean {
    if (this.queued === 0) return false;
    return this.inflight.size <= this.prefetch / 2 || (this.queues[0]!.length > 0 && this.inflight.size < this.prefetch);
  }

  /** Next message to deliver, if the window has room. Marks it in flight. */
  take(): Envelope | undefined {
    if (this.inflight.size >= this.prefetch || this.queued === 0) return undefined;
    for (const q of this.queues) {
      const env = q.shift();
      if (env) {
        this.queued--;
        this.inflight.set(env.id, env);
        return env;
      }
    }
    return undefined;
  }

  ack(id: number): Envelope | undefined {
    const env = this.inflight.get(id);
    if (env) this.inflight.delete(id);
    return env;
  }

  /**
   * The agent died: what it had in flight goes back to the front of its class,
   * in the original order, marked redelivered (at-least-once delivery). A message
   * delivered `maxAttempts` times already is not requeued but returned, for the
   * dead letters.
   */
  requeueInflight(maxAttempts = Infinity): { requeued: number; exhausted: Envelope[] } {
    const back = [...this.inflight.values()];
    this.inflight.clear();
    const byClass = QOS.map(() => [] as Envelope[]);
    const exhausted: Envelope[] = [];
    for (const env of back) {
      if (env.attempts >= maxAttempts) {
        exhausted.push(env);
        continue;
      }
      env.redelivered = true;
      byClass[rankOf(env.qos)]!.push(env);
    }
    byClass.forEach((list, i) => { if (list.length) this.queues[i]!.unshiftAll(list); });
    this.queued += back.length - exhausted.length;
    return { requeued: back.length - exhausted.length, exhausted };
  }

  /** Everything queued or in flight, in no particular order, left in place. */
  *all(): Iterable<Envelope> {
    yield* this.inflight.values();
    for (const q of this.queues) yield* q.values();
  }

  /** Everything queued or in flight, removed (the agent is gone for good). */
  drainAll(): Envelope[] {
    const all = [...this.inflight.values()];
    this.inflight.clear();
    for (const q of this.queues) all.push(...q.drain());
    this.queued = 0;
    return all;
  }
}
