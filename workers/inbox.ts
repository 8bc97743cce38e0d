// What the supervisor has handed this agent (its delivery window) and no handler has
// started yet, one FIFO per class: handlers start highest class first, FIFO within a
// class. The supervisor's mailbox already delivers in class order, but a busy agent
// reads several deliveries at once (its event loop was running handlers meanwhile),
// and there a later interactive message must not wait behind earlier background ones.
// Handlers start in slices with a turn of the event loop between them, so that what
// arrives while a backlog is being worked through is read, and ranked, in time.
import { QOS, QOS_RANK } from '../protocol/constants.js';
import { Fifo } from '../protocol/fifo.js';
import type { MsgHeader } from '../protocol/header.js';

/** Longest run of handler starts before the event loop gets a turn (reads, timers, heartbeats). */
const SLICE_MS = 2;

interface Handed { h: MsgHeader; body: Buffer }


export class Inbox {
  private readonly queues = QOS.map(() => new Fifo<Handed>());
  private size = 0;
  private scheduled = false;
  private readonly runSlice = (): void => this.run();

  constructor(private readonly start: (h: MsgHeader, body: Buffer) => void) {}

  push(h: MsgHeader, body: Buffer): void {
    // An unknown class (a newer supervisor) ranks last rather than being lost.
    this.queues[QOS_RANK[h.qos] ?? QOS.length - 1]!.push({ h, body });
    this.size++;
    if (this.scheduled) return;
    this.scheduled = true;
    // After the read that handed it over: every frame of that read is ranked before any starts.
    queueMicrotask(this.runSlice);
  }

  private run(): void {
    const until = performance.now() + SLICE_MS;
    while (this.size) {
      const next = this.take()!;
      this.start(next.h, next.body);
      if (this.size && performance.now() > until) {
        setImmediate(this.runSlice);
        return;
      }
    }
    this.scheduled = false;
  }

  private take(): Handed | undefined {
    for (const q of this.queues) {
      const item = q.shift();
      if (item) {
        this.size--;
        return item;
      }
    }
    return undefined;
  }
}
