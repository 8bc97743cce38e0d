// An append-only log file for the supervisor's hot path. write() only queues;
// one async drain loop empties the queue, coalescing chunks into few writes, so a
// slow or failing disk costs at most maxBuffer of memory and never blocks the event
// loop, throws, or rejects. Rotation happens between writes, at chunk boundaries,
// so a record is never split across two files.
//
// The file is opened through safe-open.ts (no symlink followed, the fd checked: a
// regular file of ours with one name), also when it is re-created after a rotation
// or after it was deleted: a root supervisor must never append through a link
// planted at its name. Rotation itself renames, which replaces a link planted at
// `.1` rather than writing through it.
import { rename, rm, type FileHandle } from 'node:fs/promises';
import { APPEND, openSafe } from './safe-open.js';

export interface RotatingFileOptions {
  /** Rotate before a write would make the current file larger than this (bytes). */
  maxSize: number;
  /** Rotated files kept (`.1` … `.keep`); 0 = replace the current file. */
  keep: number;
  /** Mode of a newly created file; default 0o600. */
  mode?: number;
  /** Bytes queued in memory before write() drops; default 8 MiB. */
  maxBuffer?: number;
  /** Called once per error episode (the first failure after a success). */
  onError?: (err: NodeJS.ErrnoException) => void;
}

// How often a busy writer checks that its file still has a name (see #reopenIfUnlinked).
const LINK_CHECK_MS = 1000;
// Caps one coalesced write, so a full queue is not copied into one huge buffer.
const MAX_BATCH = 1 << 20;

/** The files a reader should look at, oldest first, the current file last. */
export function rotatedPaths(path: string, keep: number): string[] {
  const paths: string[] = [];
  for (let k = keep; k >= 1; k--) paths.push(`${path}.${k}`);
  paths.push(path);
  return paths;
}

function checkCount(name: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new TypeError(`RotatingFile: ${name} must be an integer >= ${min}, received ${String(value)}`);
  }
}

export class RotatingFile {
  readonly path: string;
  readonly #maxSize: number;
  readonly #keep: number;
  readonly #mode: number;
  readonly #maxBuffer: number;
  readonly #onError: ((err: NodeJS.ErrnoException) => void) | undefined;

  #fd: FileHandle | null = null;
  #size = 0; // bytes in the current file, counted from what was actually written
  #limit: number; // maxSize, or more while rotation is failing
  #queue: Buffer[] = [];
  #queued = 0; // bytes queued or in flight: what maxBuffer bounds
  #accepted = 0; // bytes ever queued ...
  #settled = 0; // ... and ever written or dropped; flush() waits for the second to reach the first
  #waiters: { upTo: number; resolve: () => void }[] = [];
  #draining = false;
  #drained: Promise<void> = Promise.resolve();
  #failing = false;
  #dropped = 0;
  #closing: Promise<void> | null = null;

  constructor(path: string, opts: RotatingFileOptions) {
    checkCount('maxSize', opts.maxSize, 1);
    checkCount('keep', opts.keep, 0);
    if (opts.maxBuffer !== undefined) checkCount('maxBuffer', opts.maxBuffer, 1);
    this.path = path;
    this.#maxSize = opts.maxSize;
    this.#limit = opts.maxSize;
    this.#keep = opts.keep;
    this.#mode = opts.mode ?? 0o600;
    this.#maxBuffer = opts.maxBuffer ?? 8 * 1024 * 1024;
    this.#onError = opts.onError;
  }

  /** Bytes lost (queue full, or the disk failed) since the last takeDropped(). */
  get droppedBytes(): number {
    return this.#dropped;
  }

  /** Bytes queued or being written: a producer that can wait (agent output) pauses while this is high. */
  get queuedBytes(): number {
    return this.#queued;
  }

  takeDropped(): number {
    const n = this.#dropped;
    this.#dropped = 0;
    return n;
  }

  /** Queues data; false when it was dropped (queue full) or the file is closed. */
  write(data: string | Buffer): boolean {
    if (this.#closing) return false;
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    if (this.#queued + buf.length > this.#maxBuffer) {
      this.#dropped += buf.length;
      return false;
    }
    this.#queue.push(buf);
    this.#queued += buf.length;
    this.#accepted += buf.length;
    if (!this.#draining) {
      this.#draining = true;
      this.#drained = this.#drain();
    }
    return true;
  }

  /** Resolves once everything written so far is on disk or counted as dropped. */
  flush(): Promise<void> {
    if (this.#settled >= this.#accepted) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ upTo: this.#accepted, resolve }));
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.flush();
      await this.#drained;
      await this.#closeFd();
    })();
    return this.#closing;
  }

  async #drain(): Promise<void> {
    let linkCheckedAt = 0;
    try {
      while (this.#queue.length > 0) {
        if (Date.now() - linkCheckedAt >= LINK_CHECK_MS) {
          linkCheckedAt = Date.now();
          await this.#reopenIfUnlinked();
        }
        if (!this.#fd && !(await this.#open())) {
          this.#dropQueue();
          break;
        }
        if (this.#size > 0 && this.#size + this.#queue[0]!.length > this.#limit) {
          await this.#rotate();
          continue;
        }
        // Settled here, not inside: flush() waiters then run only after the loop below
        // has decided whether to stop, so a write they make starts a fresh drain.
        this.#settle(await this.#writeBatch());
      }
    } catch (err) {
      // Not expected (every fs call is caught below), but the hot path must never see it,
      // and flush() must not wait forever for bytes nobody will write.
      this.#fail(err as NodeJS.ErrnoException);
      const outstanding = this.#accepted - this.#settled;
      this.#queue = [];
      this.#dropped += outstanding;
      this.#settle(outstanding);
    }
    this.#draining = false;
  }

  /** Writes the next batch; returns its length (written or dropped). */
  async #writeBatch(): Promise<number> {
    let n = 0;
    let len = 0;
    for (const chunk of this.#queue) {
      if (n > 0 && (this.#size + len + chunk.length > this.#limit || len + chunk.length > MAX_BATCH)) break;
      n++;
      len += chunk.length;
    }
    const chunks = this.#queue.splice(0, n);
    const buf = n === 1 ? chunks[0]! : Buffer.concat(chunks, len);
    let off = 0;
    try {
      while (off < buf.length) {
        const { bytesWritten } = await this.#fd!.write(buf, off, buf.length - off);
        if (bytesWritten === 0) throw Object.assign(new Error(`write to ${this.path} wrote 0 of ${buf.length - off} bytes`), { code: 'EIO' });
        off += bytesWritten;
        this.#size += bytesWritten;
      }
      this.#failing = false;
    } catch (err) {
      this.#fail(err as NodeJS.ErrnoException);
      this.#dropped += buf.length - off;
      // Reopen on the next write: the fd may be stale (EIO) or the directory recreated.
      await this.#closeFd();
    }
    return len;
  }

  // An operator who deletes the log file or its directory (to free space, say) would
  // otherwise have us write into an unlinked inode until the next rotation. One fstat
  // when a drain starts and once a second while it runs, not one per write.
  async #reopenIfUnlinked(): Promise<void> {
    if (!this.#fd) return;
    const linked = await this.#fd.stat().then((st) => st.nlink > 0, () => false);
    if (!linked) await this.#closeFd();
  }

  async #open(): Promise<boolean> {
    try {
      const fd = await openSafe(this.path, APPEND, this.#mode);
      try {
        this.#size = (await fd.stat()).size; // the supervisor restarts and appends
      } catch (err) {
        await fd.close().catch(() => undefined);
        throw err;
      }
      this.#fd = fd;
      return true;
    } catch (err) {
      this.#fail(err as NodeJS.ErrnoException);
      return false;
    }
  }

  async #rotate(): Promise<void> {
    await this.#closeFd();
    let failed = false;
    try {
      if (this.#keep === 0) {
        await rm(this.path, { force: true });
      } else {
        // Top down, so nothing is overwritten but the oldest (`.keep`).
        for (let k = this.#keep - 1; k >= 1; k--) await renameIfExists(`${this.path}.${k}`, `${this.path}.${k + 1}`);
        await renameIfExists(this.path, `${this.path}.1`);
      }
    } catch (err) {
      this.#fail(err as NodeJS.ErrnoException);
      failed = true;
    }
    await this.#open();
    // A failed rotation keeps appending to the current file rather than lose records,
    // and is tried again after another maxSize, not on every write.
    this.#limit = failed ? this.#size + this.#maxSize : this.#maxSize;
  }

  async #closeFd(): Promise<void> {
    const fd = this.#fd;
    this.#fd = null;
    if (fd) await fd.close().catch((err: NodeJS.ErrnoException) => this.#fail(err));
  }

  #dropQueue(): void {
    let len = 0;
    for (const chunk of this.#queue) len += chunk.length;
    this.#queue = [];
    this.#dropped += len;
    this.#settle(len);
  }

  #settle(len: number): void {
    this.#queued -= len;
    this.#settled += len;
    while (this.#waiters.length > 0 && this.#waiters[0]!.upTo <= this.#settled) this.#waiters.shift()!.resolve();
  }

  #fail(err: NodeJS.ErrnoException): void {
    if (this.#failing) return;
    this.#failing = true;
    try {
      this.#onError?.(err);
    } catch {
      // A throwing callback must not turn a disk error into a supervisor crash.
    }
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
