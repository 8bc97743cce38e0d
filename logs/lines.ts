// Split a child's output stream into lines without ever holding more than
// `maxLine` bytes of one line: a 50 MB line or binary junk must not balloon the
// supervisor. Overlong lines are cut and flagged.
//
// A line that lies whole inside one read is decoded straight from it (no copy);
// only a line's head that spans reads is copied, so that a 64 KiB read is not kept
// alive for a few bytes. After each read the sink may hold the stream back
// (chunkEnd returns a promise): the pipe then fills and the writer blocks in its
// own write(2), instead of the supervisor buffering for it.
import type { Readable } from 'node:stream';

export interface LineSink {
  line(line: string, truncated: boolean): void;
  /** End of one read. A promise pauses the stream until it settles (the sink is behind). */
  chunkEnd?(): Promise<void> | undefined;
}

export function forEachLine(stream: Readable, maxLine: number, sink: LineSink | LineSink['line']): void {
  const onLine = typeof sink === 'function' ? sink : (line: string, truncated: boolean) => sink.line(line, truncated);
  const chunkEnd = typeof sink === 'function' ? undefined : sink.chunkEnd?.bind(sink);
  let parts: Buffer[] = [];
  let size = 0;
  let dropping = false;
  const emit = (truncated: boolean) => {
    onLine(Buffer.concat(parts, Math.min(size, maxLine)).toString('utf8'), truncated);
    parts = [];
    size = 0;
  };
  const resume = () => stream.resume();
  stream.on('data', (chunk: Buffer) => {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!dropping && size === 0 && nl >= 0 && end - start <= maxLine) {
        onLine(chunk.toString('utf8', start, end), false);
        start = nl + 1;
        continue;
      }
      if (!dropping) {
        const room = maxLine - size;
        const piece = chunk.subarray(start, Math.min(end, start + room));
        if (piece.length) {
          parts.push(Buffer.from(piece));
          size += piece.length;
        }
        if (end - start > room) {
          emit(true);
          dropping = true; // skip the rest of this line
        }
      }
      if (nl < 0) break;
      if (dropping) dropping = false;
      else emit(false);
      start = nl + 1;
    }
    const behind = chunkEnd?.();
    if (behind) {
      stream.pause();
      void behind.then(resume, resume);
    }
  });
  stream.on('end', () => {
    if (size) emit(false);
    chunkEnd?.();
  });
}
