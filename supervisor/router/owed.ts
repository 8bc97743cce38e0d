// The seqs of one sender's sends (and checkpoints) that are neither accepted nor
// refused yet: parked for room, or being journaled. The cumulative acc may cover
// everything below the lowest of them, and no more. They settle out of seq order (a
// higher class is admitted while a lower one stays parked), so a settled seq that is
// not the lowest is remembered until the ones below it settle too.
import { Fifo } from '../mailbox.js';

export class OwedSeqs {
  private readonly order = new Fifo<number>();
  private readonly early = new Set<number>();

  /** How many are owed. */
  get size(): number {
    return this.order.length - this.early.size;
  }

  /** The lowest seq owed, if any: acc stops below it. */
  get lowest(): number | undefined {
    return this.order.peek();
  }

  /** A new send or checkpoint: seqs arrive in increasing order. */
  add(seq: number): void {
    this.order.push(seq);
  }

  /** Accepted or refused. */
  settle(seq: number): void {
    if (this.order.peek() !== seq) {
      this.early.add(seq);
      return;
    }
    this.order.shift();
    while (this.early.size && this.early.delete(this.order.peek()!)) this.order.shift();
  }

  clear(): void {
    this.order.drain();
    this.early.clear();
  }
}
