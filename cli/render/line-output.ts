// Lines to stdout in batches: one write per 64 KiB (or per turn of the event loop)
// rather than one per line, which matters for a journal of a million records.
// When the reader goes away (`| head`, EPIPE), further lines throw StdoutClosed so
// that the producer stops reading instead of formatting into the void.

const BATCH = 64 * 1024;

export class StdoutClosed extends Error {
  constructor() {
    super('stdout closed');
  }
}

export class LineOutput {
  private buf = '';
  private scheduled = false;
  private closed = false;
  private closeHandlers: Array<() => void> = [];

  constructor(private readonly stream: NodeJS.WritableStream) {
    stream.on('error', () => {
      this.closed = true;
      this.buf = '';
      for (const h of this.closeHandlers) h();
    });
  }

  /** Called once the stream fails (or at once if it has). */
  onClose(handler: () => void): void {
    if (this.closed) handler();
    else this.closeHandlers.push(handler);
  }

  line(s: string): void {
    if (this.closed) throw new StdoutClosed();
    this.buf += s + '\n';
    if (this.buf.length >= BATCH) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  flush(): void {
    if (this.closed || this.buf === '') return;
    const chunk = this.buf;
    this.buf = '';
    this.stream.write(chunk);
  }
}
