// The last lines of a log and its rotated predecessors, read backwards from the end
// in chunks: `outheis logs -n 50` on a 100 MB log reads a few kilobytes, not 100 MB.
import type { FileHandle } from 'node:fs/promises';
import { openIfExists } from './file-cursor.js';

const CHUNK = 64 * 1024;
const NL = 0x0a;

/**
 * The last `n` lines across `files` (ordered oldest → newest, e.g. x.log.2, x.log.1,
 * x.log), in order. Missing files are skipped. A file's last line counts even without
 * a trailing newline; it is never joined to the next file's first line.
 */
export async function readLastLines(files: string[], n: number): Promise<string[]> {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`readLastLines: n must be a whole number >= 0, received ${String(n)}`);
  const newestFirst: string[] = [];
  for (let i = files.length - 1; i >= 0 && newestFirst.length < n; i--) {
    const fd = await openIfExists(files[i]!);
    if (!fd) continue; // rotated away, or never rotated yet
    try {
      await collectBackwards(fd, n - newestFirst.length, newestFirst);
    } finally {
      await fd.close();
    }
  }
  return newestFirst.reverse();
}

/** Pushes up to `want` lines of the file onto `out`, last line first. */
async function collectBackwards(fd: FileHandle, want: number, out: string[]): Promise<void> {
  let pos = (await fd.stat()).size;
  if (pos === 0) return;
  // Pieces of the line being assembled, the latest piece first: a line may span chunks.
  let pieces: Buffer[] = [];
  let first = true;
  while (pos > 0 && want > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const buf = Buffer.allocUnsafe(len);
    await readFully(fd, buf, pos);
    let end = len;
    // The newline that ends the file ends its last line; it does not start an empty one.
    if (first && buf[end - 1] === NL) end--;
    first = false;
    while (want > 0) {
      const nl = end > 0 ? buf.lastIndexOf(NL, end - 1) : -1;
      if (nl < 0) {
        pieces.push(buf.subarray(0, end));
        break;
      }
      pieces.push(buf.subarray(nl + 1, end));
      out.push(Buffer.concat(pieces.reverse()).toString('utf8'));
      pieces = [];
      want--;
      end = nl;
    }
  }
  // Reached the start of the file with a line still open: the file's first line.
  if (pos === 0 && want > 0) out.push(Buffer.concat(pieces.reverse()).toString('utf8'));
}

async function readFully(fd: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesRead } = await fd.read(buf, off, buf.length - off, position + off);
    if (bytesRead === 0) throw new Error(`log file shrank while being read: expected ${buf.length} bytes at offset ${position}, got ${off}`);
    off += bytesRead;
  }
}
