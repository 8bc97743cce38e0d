// The tail segment file as the writer holds it: opened with its device and inode,
// so that a commit can tell whether the tail's path still names the file it writes
// (see writer.ts), and the errors a write ends in.
import { promises as fsp, statSync } from 'node:fs';
import { listSegments, openSegment, type OpenSegment } from './segment.js';

/** Why an append was rejected: the write (or its fsync) failed; nothing of that group is in the journal. */
export class JournalWriteError extends Error {
  readonly code: string | undefined;
  constructor(cause: unknown, extra = '') {
    const e = cause as NodeJS.ErrnoException;
    const code = typeof e?.code === 'string' ? e.code : undefined;
    const msg = e instanceof Error ? e.message : String(cause);
    super(`journal write failed: ${code ? `${code} ` : ''}(${msg})${extra}`, { cause });
    this.name = 'JournalWriteError';
    this.code = code;
  }
}

/** A write refused because it would take the journal past its bound (journal.max_size). */
export class JournalFullError extends Error {
  readonly code = 'EJOURNALFULL';
  constructor(need: number, onDisk: number, limit: number) {
    super(need > limit
      ? `journal full: a write of ${need} bytes can never fit in the ${limit} bytes journal.max_size leaves for writes`
      : `journal full: ${onDisk} bytes on disk and ${need} more would pass the ${limit} bytes journal.max_size leaves for writes; what is left is still owed (messages not yet handled, latest checkpoints), so sends are accepted again as messages are handled`);
    this.name = 'JournalFullError';
  }
}

export interface Tail extends OpenSegment { dev: number; ino: number }

export const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);
export const noSpace = (err: unknown): boolean => NO_SPACE.has((err as NodeJS.ErrnoException)?.code ?? '');

export async function openTail(dir: string, firstSeq: number): Promise<Tail> {
  const seg = await openSegment(dir, firstSeq);
  try {
    const st = await seg.handle.stat();
    return { ...seg, dev: st.dev, ino: st.ino };
  } catch (err) {
    await seg.handle.close().catch(() => {});
    throw err;
  }
}

/**
 * Why the tail's path no longer names the file being written, or undefined while it does.
 * Synchronous on purpose: one stat(2) of a cached path costs a few µs, less than the
 * thread-pool round trip and promise an asynchronous one would add to every commit.
 */
export function tailLost(tail: Tail): string | undefined {
  let st;
  try {
    st = statSync(tail.info.path, { throwIfNoEntry: false });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Anything else (EACCES, EIO) says nothing about the file: the write's own result will.
    return code === 'ENOTDIR' ? `${tail.info.path} was removed (${code})` : undefined;
  }
  if (!st) return `${tail.info.path} was removed (ENOENT)`;
  return st.ino === tail.ino && st.dev === tail.dev ? undefined : `${tail.info.path} is another file now (inode ${st.ino}, was ${tail.ino})`;
}

/** Each segment file's size, by first seq; one that vanished meanwhile is left out. */
export async function sizesOf(dir: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const s of await listSegments(dir)) {
    try { out.set(s.firstSeq, (await fsp.stat(s.path)).size); } catch { /* removed meanwhile */ }
  }
  return out;
}
