// A FIFO both ends use: the supervisor's mailboxes and parked sends, the SDK's inbox.
/** An array-backed FIFO that does not shift on every dequeue. */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get length(): number { return this.items.length - this.head; }
  peek(): T | undefined { return this.items[this.head]; }
  push(item: T): void { this.items.push(item); }
  unshiftAll(items: T[]): void {
    this.items = [...items, ...this.items.slice(this.head)];
    this.head = 0;
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  *values(): Iterable<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }
}
