// The last lines of a log and its rotated predecessors, read backwards from the end
// in chunks: `outheis logs -n 50` on a 100 MB log reads a few kilobytes, not 100 MB.
//
// `tailThenFollow` is the start of `logs -f`: the newest file stays open and the
// follower goes on from the exact byte where the tail stopped, on that same open
// file. Reading the tail and then opening the file again "at its end" loses every
// line written in between (the `logs -f` gap), and a rotation in between would
// lose the rest of the old file too.
import type { FileHandle } from 'node:fs/promises';
import { openIfExists } from './file-cursor.js';

const CHUNK = 64 * 1024;
const NL = 0x0a;

/** Which lines count (and are returned); default: all. */
export type LineFilter = (line: string) => boolean;

/**
 * The last `n` lines across `files` (ordered oldest → newest, e.g. x.log.2, x.log.1,
 * x.log), in order. Missing files are skipped. A file's last line counts even without
 * a trailing newline; it is never joined to the next file's first line.
 */
export async function readLastLines(files: string[], n: number, keep?: LineFilter): Promise<string[]> {
  const { lines, end } = await tailThenFollow(files, n, { keep, whole: true });
  await end?.file.close();
  return lines;
}

/** Where a tail stopped: the newest file, still open, and the offset just past its last whole line. */
export interface TailEnd {
  file: FileHandle;
  offset: number;
}

/**
 * The last `n` lines (that `keep`) across `files`, as readLastLines, and the place
 * to follow from: `end` holds the newest file open (the caller closes it, or hands
 * it to followFile's `resume`); null when there was no newest file, in which case
 * everything a file there holds later is new. A last line without its newline is
 * not part of the tail (it is being written): the follower delivers it once whole.
 * `whole`: count that unterminated line in, and do not stop before it (readLastLines).
 */
export async function tailThenFollow(files: string[], n: number, opts: { keep?: LineFilter; whole?: boolean } = {}): Promise<{ lines: string[]; end: TailEnd | null }> {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`readLastLines: n must be a whole number >= 0, received ${String(n)}`);
  const newestFirst: string[] = [];
  const seen = new Set<string>();
  let end: TailEnd | null = null;
  try {
    for (let i = files.length - 1; i >= 0; i--) {
      const newest = i === files.length - 1;
      if (!newest && newestFirst.length >= n) break;
      const fd = await openIfExists(files[i]!);
      if (!fd) continue; // rotated away, or never rotated yet
      const st = await fd.stat();
      // A rotation between two opens shows one file under two names: read it once.
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id)) {
        await fd.close();
        continue;
      }
      seen.add(id);
      const stop = newest && !opts.whole ? await afterLastNewline(fd, st.size) : st.size;
      if (newest) end = { file: fd, offset: stop };
      try {
        await collectBackwards(fd, stop, n - newestFirst.length, newestFirst, opts.keep);
      } finally {
        if (!newest) await fd.close();
      }
    }
  } catch (err) {
    await end?.file.close();
    throw err;
  }
  return { lines: newestFirst.reverse(), end };
}

/** The offset just past the last newline before `size`; 0 when there is none. */
async function afterLastNewline(fd: FileHandle, size: number): Promise<number> {
  let pos = size;
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const buf = Buffer.allocUnsafe(len);
    await readFully(fd, buf, pos);
    const nl = buf.lastIndexOf(NL);
    if (nl >= 0) return pos + nl + 1;
  }
  return 0;
}

/** Pushes up to `want` lines (that `keep`) of the file's first `size` bytes onto `out`, last line first. */
async function collectBackwards(fd: FileHandle, size: number, want: number, out: string[], keep: LineFilter | undefined): Promise<void> {
  let pos = size;
  if (pos === 0 || want <= 0) return;
  const take = (line: string): void => {
    if (keep && !keep(line)) return;
    out.push(line);
    want--;
  };
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
      take(Buffer.concat(pieces.reverse()).toString('utf8'));
      pieces = [];
      end = nl;
    }
  }
  // Reached the start of the file with a line still open: the file's first line.
  if (pos === 0 && want > 0) take(Buffer.concat(pieces.reverse()).toString('utf8'));
}

async function readFully(fd: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesRead } = await fd.read(buf, off, buf.length - off, position + off);
    if (bytesRead === 0) throw new Error(`log file shrank while being read: expected ${buf.length} bytes at offset ${position}, got ${off}`);
    off += bytesRead;
  }
}
