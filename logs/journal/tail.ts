// Reading a journal that is being written: `outheis journal -f`, like `tail -F`.
//
// The follower (../follower.ts) with records as its frames and the next segment as
// the next file. Its cursor keeps the end of the last whole record in a segment and
// reads only what was appended since, so following a 64 MiB tail costs what is new,
// not the file. It moves to the next segment once a newer one exists and the current
// one has been read to its end (the writer finishes a segment before it opens the
// next), and shrugs off segments that retention removed meanwhile.
import { basename } from 'node:path';
import { FileCursor, type CursorOptions, type ReadOutcome, type Taken } from '../file-cursor.js';
import { follow } from '../follower.js';
import { decodeRecordAt, type JournalRecord } from './record.js';
import { listSegments, parseSegmentName, type SegmentInfo } from './segment.js';

// Records can be 16 MiB: read in large steps so that one is not pieced together from many.
const SEGMENT_READS: CursorOptions = { onShrink: 'cut', chunkBytes: 1024 * 1024 };

/**
 * A cursor over one segment. A record cut short at its end is read again next time
 * rather than kept: the bytes of a torn tail must not outlive a recovery that cut
 * them off and wrote new records in their place, and a recovery that cut below
 * what was handed out is gone on from at the cut.
 */
export function segmentCursor(seg: SegmentInfo): FileCursor {
  return new FileCursor(seg.path, SEGMENT_READS);
}

/** The framing: whole records through `onRecord`; a record that is not one (CRC, length, msgpack) halts. */
export function takeRecords(onRecord: (r: JournalRecord) => void): (bytes: Buffer) => Taken {
  return (bytes) => {
    for (let off = 0; ;) {
      const r = decodeRecordAt(bytes, off);
      if (r.kind === 'short') return { used: off };
      if (r.kind === 'bad') return { used: off, halt: r.reason };
      onRecord(r.record);
      off = r.next;
    }
  };
}

/** The segment that holds `seq`: the last one starting at or before it, else the first one. */
export function segmentFor(segments: readonly SegmentInfo[], seq: number): SegmentInfo | undefined {
  let found: SegmentInfo | undefined;
  for (const s of segments) if (s.firstSeq <= seq) found = s;
  return found ?? segments[0];
}

export interface Damage { file: string; offset: number; reason: string }

/** Damage a segment's read ended with: a record that is not one, or (when more follows) one cut short. */
export function damageOf(path: string, out: ReadOutcome, boundary: number): Damage | undefined {
  if (out.kind === 'halted') return { file: path, offset: out.offset, reason: out.reason };
  if (out.kind === 'end' && out.rest.length) return { file: path, offset: boundary, reason: 'record cut short at the end of the segment' };
  return undefined;
}

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
  let next = opts.fromSeq;
  const source = (seg: SegmentInfo | undefined) => (seg ? { path: seg.path } : null);
  await follow({
    dir,
    pollMs,
    signal: opts.signal,
    cursor: SEGMENT_READS,
    first: async () => source(segmentFor(await listSegments(dir), next)),
    next: async (current) => {
      const firstSeq = parseSegmentName(basename(current.path))!;
      return source(segmentFor((await listSegments(dir)).filter((s) => s.firstSeq > firstSeq), next));
    },
    take: takeRecords((r) => {
      // Records before fromSeq share its segment; a record seen twice is not shown twice.
      if (r.seq < next) return;
      next = r.seq + 1;
      opts.onRecord(r);
    }),
    leave: (old, last) => {
      const damage = damageOf(old.path, last, old.boundary);
      if (damage) opts.onDamage?.(damage);
    },
  });
}
