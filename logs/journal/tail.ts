// Reading a journal that is being written: `outheis journal -f`, like `tail -F`.
//
// A SegmentReader keeps its place in one segment (the end of the last whole
// record) and reads only the bytes appended since, so following a 64 MiB tail
// costs what is new, not the file. The follower moves to the next segment once
// a newer one exists and the current one has been read to its end (the writer
// finishes a segment before it opens the next), and shrugs off segments that
// retention removed meanwhile. fs.watch on the directory wakes it promptly; the
// poll catches what fs.watch misses.
import { watch, type FSWatcher } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { decodeRecordAt, type JournalRecord } from './record.js';
import { listSegments, type SegmentInfo } from './segment.js';

const CHUNK = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/** Where reading a segment stopped. */
export type ReadOutcome =
  /** At the end of what is there; partial: it ends inside a record (being written, or torn), read again next time. */
  | { kind: 'end'; partial: boolean }
  /** The segment was removed before it could be opened. */
  | { kind: 'gone' }
  /** A record that is not one (CRC, length, msgpack): nothing after it in this segment can be trusted. */
  | { kind: 'bad'; offset: number; reason: string };

export class SegmentReader {
  /** Offset just past the last whole record handed out: the next read starts here. */
  boundary = 0;
  private file: FileHandle | null = null;
  private chunk: Buffer | null = null;
  /** size:mtime of the file when damage was found: no re-read until it changes (a recovery rewrote it). */
  private badAt: { key: string; outcome: ReadOutcome } | null = null;

  constructor(readonly segment: SegmentInfo) {}

  /**
   * Hand out every whole record appended since the last call, in order. An
   * incomplete record at the end is read again next time rather than kept: the
   * bytes of a torn tail must not outlive a recovery that cut them off and wrote
   * new records in their place.
   */
  async read(onRecord: (r: JournalRecord) => void): Promise<ReadOutcome> {
    if (!this.file) {
      try {
        this.file = await open(this.segment.path, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'gone' };
        throw err;
      }
    }
    const st = await this.file.stat();
    const key = `${st.size}:${st.mtimeMs}`;
    if (this.badAt?.key === key) return this.badAt.outcome;
    this.badAt = null;
    // Cut back below what was handed out (recovery moved damage aside): go on from the cut.
    if (st.size < this.boundary) this.boundary = st.size;
    const chunk = (this.chunk ??= Buffer.allocUnsafe(CHUNK));
    let carry = EMPTY; // the start of a record that goes on in the next chunk
    for (;;) {
      const { bytesRead } = await this.file.read(chunk, 0, CHUNK, this.boundary + carry.length);
      if (bytesRead === 0) return { kind: 'end', partial: carry.length > 0 };
      const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      let off = 0;
      for (;;) {
        const r = decodeRecordAt(buf, off);
        if (r.kind === 'short') break;
        if (r.kind === 'bad') {
          this.boundary += off;
          const outcome: ReadOutcome = { kind: 'bad', offset: this.boundary, reason: r.reason };
          this.badAt = { key, outcome };
          return outcome;
        }
        onRecord(r.record);
        off = r.next;
      }
      this.boundary += off;
      // A copy: `chunk` is reused by the next read.
      carry = Buffer.from(buf.subarray(off));
    }
  }

  async close(): Promise<void> {
    const f = this.file;
    this.file = null;
    await f?.close().catch(() => undefined);
  }
}

/** The segment that holds `seq`: the last one starting at or before it, else the first one. */
export function segmentFor(segments: readonly SegmentInfo[], seq: number): SegmentInfo | undefined {
  let found: SegmentInfo | undefined;
  for (const s of segments) if (s.firstSeq <= seq) found = s;
  return found ?? segments[0];
}

export interface Damage { file: string; offset: number; reason: string }

export interface FollowRecordsOptions {
  /** Hand out records with seq ≥ this: 0 for the whole journal, the last seq + 1 for what comes next. */
  fromSeq: number;
  onRecord: (r: JournalRecord) => void;
  /** A segment was left with damage or a torn record at its end, for a newer one. */
  onDamage?: (d: Damage) => void;
  signal?: AbortSignal;
  /** Fallback poll interval; default 250 ms. */
  pollMs?: number;
}

/** Follow the journal in `dir` until `signal` aborts. A missing directory is waited for. */
export async function followRecords(dir: string, opts: FollowRecordsOptions): Promise<void> {
  const pollMs = opts.pollMs ?? 250;
  if (!(pollMs > 0)) throw new RangeError(`followRecords: pollMs must be a positive number of milliseconds, received ${String(opts.pollMs)}`);
  const { signal } = opts;
  if (signal?.aborted) return;
  let next = opts.fromSeq;
  // In an object: closures reassign these, which TypeScript's narrowing cannot see.
  const at: { reader: SegmentReader | null; watcher: FSWatcher | null } = { reader: null, watcher: null };
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
  const emit = (r: JournalRecord): void => {
    // Records before fromSeq share its segment; a record seen twice is not shown twice.
    if (done || r.seq < next) return;
    next = r.seq + 1;
    opts.onRecord(r);
  };
  const ensureWatcher = (): void => {
    if (at.watcher) return;
    try {
      const w = watch(dir, () => wake());
      w.on('error', () => {
        w.close();
        at.watcher = null; // polling carries on; the next cycle watches again
      });
      at.watcher = w;
    } catch {
      at.watcher = null; // no directory yet
    }
  };

  /** One pass; true when it moved to another segment and should go again at once. */
  const cycle = async (): Promise<boolean> => {
    ensureWatcher();
    // Listed before reading: a newer segment seen here means the current one was complete when read.
    const segments = await listSegments(dir);
    if (!at.reader) {
      const seg = segmentFor(segments, next);
      if (!seg) return false;
      at.reader = new SegmentReader(seg);
    }
    const current = at.reader;
    const outcome = await current.read(emit);
    const newer = segments.filter((s) => s.firstSeq > current.segment.firstSeq);
    if (newer.length === 0) {
      // Removed with nothing after it (the directory emptied): start over from the listing.
      if (outcome.kind === 'gone') at.reader = null;
      return false;
    }
    if (outcome.kind === 'bad') opts.onDamage?.({ file: current.segment.path, offset: outcome.offset, reason: outcome.reason });
    else if (outcome.kind === 'end' && outcome.partial) opts.onDamage?.({ file: current.segment.path, offset: current.boundary, reason: 'record cut short at the end of the segment' });
    await current.close();
    at.reader = new SegmentReader(segmentFor(newer, next)!);
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
    await at.reader?.close();
  }
}
