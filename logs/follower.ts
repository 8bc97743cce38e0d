// Following a file that is written, like `tail -F`: the one mechanism under both
// `outheis logs -f` and `outheis journal -f`. It reads what was appended (a
// FileCursor per file), moves on when the file it reads is succeeded (a log
// rotated to x.log.1 and a new x.log; a journal's next segment), and sleeps in
// between. fs.watch on the directory wakes it promptly; polling every pollMs
// catches what fs.watch misses (it can, and the directory may not exist yet).
// What a frame is and which file comes next is the caller's: see FollowSpec.
import { watch, type FSWatcher } from 'node:fs';
import { FileCursor, type CursorOptions, type ReadOutcome, type Taken } from './file-cursor.js';

/** A file to read, and where in it to begin. */
export interface Source {
  path: string;
  fromEnd?: boolean;
  /** Go on from a place in this file, already open (see CursorOptions.resume). */
  resume?: CursorOptions['resume'];
}

export interface FollowSpec {
  /** The directory whose changes wake the follower. */
  dir: string;
  /** Which entries of `dir` are worth waking for; default: all. */
  wakesFor?: (name: string) => boolean;
  /** Fallback poll interval in ms. */
  pollMs: number;
  signal?: AbortSignal;
  /** Read size and what a file shrinking means (see CursorOptions). */
  cursor?: Omit<CursorOptions, 'fromEnd'>;
  /** The file to read first, and again after the one being read vanished with nothing after it; null: none yet. */
  first(): Promise<Source | null>;
  /** The file that succeeds `current`, asked after each read; null: keep reading `current`. */
  next(current: FileCursor): Promise<Source | null>;
  /** The frames at the front of `bytes`, handed out; never called once the signal has aborted. */
  take(bytes: Buffer): Taken;
  /** `current` was read to its end for the last time, ending as `last`, before its successor is read. */
  leave?(current: FileCursor, last: ReadOutcome): void;
}

/** Follows until the signal aborts; rejects only on an error other than a file being absent. */
export async function follow(spec: FollowSpec): Promise<void> {
  const { signal, pollMs } = spec;
  if (signal?.aborted) return;
  // In an object: closures reassign these, which TypeScript's narrowing cannot see.
  const at: { cursor: FileCursor | null; watcher: FSWatcher | null } = { cursor: null, watcher: null };
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
  // Once aborted, a read under way hands out nothing more and stops at its next chunk.
  const take = (bytes: Buffer): Taken => (done ? { used: 0, halt: 'aborted' } : spec.take(bytes));
  const open = (s: Source): FileCursor => new FileCursor(s.path, { ...spec.cursor, fromEnd: s.fromEnd, resume: s.resume });

  const ensureWatcher = (): void => {
    if (at.watcher) return;
    try {
      const w = watch(spec.dir, (_event, name) => {
        if (!name || !spec.wakesFor || spec.wakesFor(name.toString())) wake();
      });
      w.on('error', () => {
        w.close();
        at.watcher = null; // polling carries on; the next cycle watches again
      });
      at.watcher = w;
    } catch {
      at.watcher = null; // no directory yet
    }
  };

  /** One pass; true when it moved to another file and should go again at once. */
  const cycle = async (): Promise<boolean> => {
    ensureWatcher();
    if (!at.cursor) {
      const source = await spec.first();
      if (!source) return false;
      at.cursor = open(source);
    }
    const current = at.cursor;
    const outcome = await current.read(take);
    const successor = done ? null : await spec.next(current);
    if (!successor) {
      // Vanished with nothing after it: start over from `first`.
      if (outcome.kind === 'gone') at.cursor = null;
      return false;
    }
    // What the writer added before it let go: the successor was seen after this read began.
    const last = await current.read(take);
    if (!done) spec.leave?.(current, last);
    await current.close();
    at.cursor = open(successor);
    return true;
  };

  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    while (!done) {
      pending = false;
      const again = await cycle();
      if (!done && !again) await nap();
    }
  } finally {
    done = true;
    signal?.removeEventListener('abort', onAbort);
    at.watcher?.close();
    await at.cursor?.close();
  }
}
