// `tail -F` for log files: wait for the file, deliver whole lines as they are
// appended, and keep going across rotation (the name moves to .1 and a new file takes
// it) and truncation. fs.watch on the directory wakes us promptly; polling every
// pollMs catches what fs.watch misses (it can, and a directory may not exist yet).
import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export interface FollowOptions {
  onLine: (line: string) => void;
  /** Deliver what the file holds already; default: begin at its current end. */
  fromStart?: boolean;
  /** Fallback poll interval; default 200 ms. */
  pollMs?: number;
  signal?: AbortSignal;
}

export interface FollowFilesOptions extends Omit<FollowOptions, 'onLine'> {
  onLine: (line: string, path: string) => void;
}

const CHUNK = 64 * 1024;
const NL = 0x0a;

/** Follows `path` until `signal` aborts; rejects only on an error other than the file being absent. */
export function followFile(path: string, opts: FollowOptions): Promise<void> {
  const pollMs = opts.pollMs ?? 200;
  if (!(pollMs > 0)) return Promise.reject(new RangeError(`followFile: pollMs must be a positive number of milliseconds, received ${String(opts.pollMs)}`));
  const { signal, onLine } = opts;
  if (signal?.aborted) return Promise.resolve();

  const dir = dirname(path);
  const name = basename(path);
  const buf = Buffer.allocUnsafe(CHUNK);
  let fd: FileHandle | null = null;
  let ino = -1;
  let dev = -1;
  let pos = 0;
  let partial: Buffer[] = []; // a line whose newline has not arrived yet
  let atEnd = opts.fromStart !== true; // applies to a file that exists when we start, not one that appears later
  let watcher: FSWatcher | null = null;
  let done = false;
  let pending = false;
  let wakeUp: (() => void) | null = null;

  const wake = (): void => {
    pending = true;
    wakeUp?.();
  };
  const nap = (): Promise<void> =>
    new Promise<void>((resolve) => {
      if (pending) return resolve();
      const timer = setTimeout(resolve, pollMs);
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    }).then(() => {
      wakeUp = null;
    });
  const onAbort = (): void => {
    done = true;
    wake();
  };

  const emit = (line: string): void => {
    if (!done) onLine(line);
  };
  const deliver = (chunk: Buffer): void => {
    let start = 0;
    for (let nl = chunk.indexOf(NL); nl >= 0; nl = chunk.indexOf(NL, start)) {
      const piece = chunk.subarray(start, nl);
      emit(partial.length ? Buffer.concat([...partial, piece]).toString('utf8') : piece.toString('utf8'));
      partial = [];
      start = nl + 1;
    }
    if (start < chunk.length) partial.push(Buffer.from(chunk.subarray(start)));
  };

  const readToEnd = async (file: FileHandle): Promise<void> => {
    if ((await file.stat()).size < pos) {
      pos = 0; // truncated in place: what we held of a line is gone too
      partial = [];
    }
    while (!done) {
      const { bytesRead } = await file.read(buf, 0, CHUNK, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      deliver(buf.subarray(0, bytesRead));
    }
  };

  const ensureWatcher = (): void => {
    if (watcher) return;
    try {
      watcher = watch(dir, (_event, file) => {
        // The whole directory is watched; only our file and its rotations matter.
        if (!file || file.toString().startsWith(name)) wake();
      });
      watcher.on('error', () => {
        watcher?.close();
        watcher = null; // polling carries on; the next cycle tries to watch again
      });
    } catch {
      watcher = null; // no directory yet
    }
  };

  const cycle = async (): Promise<void> => {
    ensureWatcher();
    if (!fd) {
      const file = await openIfExists(path);
      if (!file) {
        atEnd = false;
        return;
      }
      fd = file;
      const st = await file.stat();
      ino = st.ino;
      dev = st.dev;
      pos = atEnd ? st.size : 0;
      atEnd = false;
    }
    await readToEnd(fd);
    const now = await statIfExists(path);
    // Absent: mid-rotation (renamed, new file not yet created); keep the old one open.
    if (!now || (now.ino === ino && now.dev === dev)) return;
    // Rotated: what the writer added to the old file before it let go, then its
    // unterminated last line as a line of its own, then the new file from its start.
    await readToEnd(fd);
    if (partial.length) emit(Buffer.concat(partial).toString('utf8'));
    partial = [];
    const old = fd;
    fd = null;
    pos = 0;
    await old.close();
    pending = true;
  };

  const run = async (): Promise<void> => {
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      while (!done) {
        pending = false;
        await cycle();
        if (!done) await nap();
      }
    } finally {
      done = true;
      signal?.removeEventListener('abort', onAbort);
      watcher?.close();
      await fd?.close().catch(() => undefined);
    }
  };
  return run();
}

/** Follows several files at once (`outheis logs -f` for everything), lines tagged with their file. */
export async function followFiles(paths: string[], opts: FollowFilesOptions): Promise<void> {
  // One failing follower stops the rest, so the caller sees the error rather than a half-working merge.
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  if (opts.signal?.aborted) return;
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const results = await Promise.allSettled(
      paths.map((p) =>
        followFile(p, { ...opts, signal: stop.signal, onLine: (line) => opts.onLine(line, p) }).catch((err: unknown) => {
          stop.abort();
          throw err;
        }),
      ),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

async function openIfExists(path: string): Promise<FileHandle | null> {
  try {
    return await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function statIfExists(path: string): Promise<{ ino: number; dev: number } | null> {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
