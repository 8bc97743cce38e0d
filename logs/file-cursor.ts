// A place in a file that is being appended to: each read hands over exactly the
// bytes added since the last one, framed by the caller (lines for logs, records for
// the journal). The cursor only moves past whole frames: bytes that end inside one
// are read again next time rather than kept, so that a truncation or a recovery
// that rewrote them cannot leave stale bytes in hand.
import { open, type FileHandle } from 'node:fs/promises';

const EMPTY = Buffer.alloc(0);

/** What a framing took from the front of the bytes it was shown. */
export interface Taken {
  /** Bytes of whole frames handed out: the cursor moves past them. */
  used: number;
  /** Set when the bytes after `used` are not a frame: nothing after them can be trusted, so reading stops. */
  halt?: string;
}

/** Where a read stopped. */
export type ReadOutcome =
  /** At the end of what is there; rest: the bytes after the last whole frame (being written, or torn), read again next time. */
  | { kind: 'end'; rest: Buffer }
  /** The file was not there to open. */
  | { kind: 'gone' }
  /** The framing halted at `offset` (damage). */
  | { kind: 'halted'; offset: number; reason: string };

export interface CursorOptions {
  /** Begin at the file's end as it is when first opened; default: its start. */
  fromEnd?: boolean;
  /**
   * The file shrank below the cursor: 'start' reads it again from the beginning (a log
   * truncated in place), 'cut' goes on from the cut (a journal recovery cut back a tail).
   */
  onShrink?: 'start' | 'cut';
  /** Read size; default 64 KiB. */
  chunkBytes?: number;
  /**
   * Go on from here, on this file already open (a tail's end, logs/tail.ts): the
   * cursor takes the file over, and closes it. Opening `path` again could find a
   * file rotated in meanwhile, or lose what was written since the tail was read.
   */
  resume?: { file: FileHandle; offset: number };
}

export class FileCursor {
  /** Offset just past the last whole frame handed out: the next read starts here. */
  boundary = 0;
  /** The opened file's identity, to tell it from one that replaced it at the same path. */
  identity: { ino: number; dev: number } | null = null;
  private file: FileHandle | null = null;
  private chunk: Buffer | null = null;
  /** size:mtime of the file when the framing halted: no re-read until it changes. */
  private haltedAt: { key: string; outcome: ReadOutcome } | null = null;

  constructor(readonly path: string, private opts: CursorOptions = {}) {}

  /** Hands every whole frame appended since the last call to `take`, in order. */
  async read(take: (bytes: Buffer) => Taken): Promise<ReadOutcome> {
    if (!this.file && this.opts.resume) {
      const { file, offset } = this.opts.resume;
      this.opts = { ...this.opts, resume: undefined }; // once: after a vanish, `path` is opened afresh
      this.file = file;
      const st = await file.stat();
      this.identity = { ino: st.ino, dev: st.dev };
      this.boundary = offset;
    }
    if (!this.file) {
      const file = await openIfExists(this.path);
      if (!file) return { kind: 'gone' };
      this.file = file;
      const st = await file.stat();
      this.identity = { ino: st.ino, dev: st.dev };
      if (this.opts.fromEnd) this.boundary = st.size;
    }
    const st = await this.file.stat();
    const key = `${st.size}:${st.mtimeMs}`;
    if (this.haltedAt?.key === key) return this.haltedAt.outcome;
    this.haltedAt = null;
    if (st.size < this.boundary) this.boundary = this.opts.onShrink === 'cut' ? st.size : 0;
    const size = this.opts.chunkBytes ?? 64 * 1024;
    const chunk = (this.chunk ??= Buffer.allocUnsafe(size));
    let carry = EMPTY; // the start of a frame that goes on in the next chunk
    for (;;) {
      const { bytesRead } = await this.file.read(chunk, 0, size, this.boundary + carry.length);
      if (bytesRead === 0) return { kind: 'end', rest: carry };
      const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      const taken = take(buf);
      this.boundary += taken.used;
      if (taken.halt !== undefined) {
        const outcome: ReadOutcome = { kind: 'halted', offset: this.boundary, reason: taken.halt };
        this.haltedAt = { key, outcome };
        return outcome;
      }
      // A copy: `chunk` is reused by the next read.
      carry = Buffer.from(buf.subarray(taken.used));
    }
  }

  async close(): Promise<void> {
    const f = this.file;
    this.file = null;
    await f?.close().catch(() => undefined);
  }
}

/** The file opened for reading, or null when it is not there (not yet, or rotated or removed away). */
export async function openIfExists(path: string): Promise<FileHandle | null> {
  try {
    return await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
