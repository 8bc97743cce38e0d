// `tail -F` for log files (`outheis logs -f`): the follower (follower.ts) with lines
// as its frames and rotation as the next file. A rotation renames x.log to x.log.1
// and a new x.log takes the name: the renamed file is read to its end, its
// unterminated last line delivered as a line of its own, then the new file from its
// start. A file truncated in place is read again from its start.
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { FileCursor } from './file-cursor.js';
import { follow } from './follower.js';
import type { TailEnd } from './tail.js';

export interface FollowOptions {
  onLine: (line: string) => void;
  /** Deliver what the file holds already; default: begin at its current end. */
  fromStart?: boolean;
  /**
   * Go on where a tail stopped (logs/tail.ts tailThenFollow), on the file it holds
   * open: nothing written after the tail was read is lost. Overrides fromStart.
   */
  resume?: TailEnd;
  /** Fallback poll interval; default 200 ms. */
  pollMs?: number;
  signal?: AbortSignal;
}

export interface FollowFilesOptions extends Omit<FollowOptions, 'onLine' | 'resume'> {
  onLine: (line: string, path: string) => void;
}

/** A file for followFiles, with where to begin in it when that is its own (a tail's end, or its start). */
export type Followed = string | { path: string; resume?: TailEnd; fromStart?: boolean };

const NL = 0x0a;

/** Follows `path` until `signal` aborts; rejects only on an error other than the file being absent. */
export function followFile(path: string, opts: FollowOptions): Promise<void> {
  const pollMs = opts.pollMs ?? 200;
  if (!(pollMs > 0)) return Promise.reject(new RangeError(`followFile: pollMs must be a positive number of milliseconds, received ${String(opts.pollMs)}`));
  const name = basename(path);
  // Only a file there when following starts begins at its end; one that appears later is read whole.
  let fromEnd = opts.fromStart !== true;
  let resume = opts.resume;
  const following = follow({
    dir: dirname(path),
    wakesFor: (entry) => entry.startsWith(name), // the file and its rotations
    pollMs,
    signal: opts.signal,
    cursor: { onShrink: 'start' },
    first: async () => {
      const source = { path, fromEnd, resume };
      fromEnd = false;
      resume = undefined;
      return source;
    },
    next: async (current) => ((await replaced(current)) ? { path } : null),
    take: (bytes) => {
      let start = 0;
      for (let nl = bytes.indexOf(NL); nl >= 0; nl = bytes.indexOf(NL, start)) {
        opts.onLine(bytes.toString('utf8', start, nl));
        start = nl + 1;
      }
      return { used: start };
    },
    leave: (_old, last) => {
      if (last.kind === 'end' && last.rest.length) opts.onLine(last.rest.toString('utf8'));
    },
  });
  // Aborted before the first read: the tail's open file was never taken over.
  return following.finally(() => resume?.file.close().catch(() => undefined));
}

/** Another file has the name now. Absent means mid-rotation (renamed, the new one not yet created): keep the old one. */
async function replaced(current: FileCursor): Promise<boolean> {
  let now;
  try {
    now = await stat(current.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  return current.identity === null || now.ino !== current.identity.ino || now.dev !== current.identity.dev;
}

/** Follows several files at once (`outheis logs -f` for everything), lines tagged with their file. */
export async function followFiles(files: Followed[], opts: FollowFilesOptions): Promise<void> {
  const specs = files.map((f) => (typeof f === 'string' ? { path: f } : f));
  // One failing follower stops the rest, so the caller sees the error rather than a half-working merge.
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  if (opts.signal?.aborted) return;
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const results = await Promise.allSettled(
      specs.map((f) =>
        followFile(f.path, { ...opts, fromStart: f.fromStart ?? opts.fromStart, resume: f.resume, signal: stop.signal, onLine: (line) => opts.onLine(line, f.path) }).catch((err: unknown) => {
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
