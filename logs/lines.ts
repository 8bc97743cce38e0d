// Split a child's output stream into lines without ever holding more than
// `maxLine` bytes of one line: a 50 MB line or binary junk must not balloon the
// supervisor. Overlong lines are cut and flagged.
import type { Readable } from 'node:stream';

export function forEachLine(stream: Readable, maxLine: number, onLine: (line: string, truncated: boolean) => void): void {
  let parts: Buffer[] = [];
  let size = 0;
  let dropping = false;
  const emit = (truncated: boolean) => {
    onLine(Buffer.concat(parts, Math.min(size, maxLine)).toString('utf8'), truncated);
    parts = [];
    size = 0;
  };
  stream.on('data', (chunk: Buffer) => {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl < 0 ? chunk.length : nl;
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
  });
  stream.on('end', () => {
    if (size) emit(false);
  });
}
