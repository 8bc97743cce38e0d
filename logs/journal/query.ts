// Reading the journal for people (`outheis journal`): the last N records that
// match, or every match from a seq or a time on. Files only, read-only, so it
// works on a stopped system and beside a running writer. Damage is reported
// through onDamage and reading goes on with the next segment, as readRecords does.
import { openIfExists } from '../file-cursor.js';
import { decodeRecordAt, MAX_RECORD_PAYLOAD, RECORD_HEADER, type JournalRecord } from './record.js';
import { listSegments, type SegmentInfo } from './segment.js';
import { damageOf, segmentCursor, segmentFor, takeRecords, type Damage } from './tail.js';

/** Which records: by agent (any of them) and by record type or message kind (any of them). */
export interface RecordFilter {
  agents?: readonly string[];
  kinds?: readonly string[];
}

// Every field that names an agent in some record type: agent, an accept's or dead
// letter's from/to, an escalation's group, a reload's list.
function namesAgent(r: JournalRecord, names: ReadonlySet<string>): boolean {
  for (const key of ['agent', 'from', 'to', 'group'] as const) {
    const v = r[key];
    if (typeof v === 'string' && names.has(v)) return true;
  }
  return Array.isArray(r.agents) && r.agents.some((a) => typeof a === 'string' && names.has(a));
}

/**
 * A kind is a record type (accept, exit, …) or a message kind (an accept's or dead
 * letter's `kind`); a word that is both matches both. Fields are read as they are,
 * unvalidated, so a damaged record still matches by what it does say.
 */
export function recordMatcher(f: RecordFilter): (r: JournalRecord) => boolean {
  const agents = f.agents?.length ? new Set(f.agents) : undefined;
  const kinds = f.kinds?.length ? new Set(f.kinds) : undefined;
  return (r) =>
    (!agents || namesAgent(r, agents)) &&
    (!kinds || kinds.has(r.type) || (typeof r.kind === 'string' && kinds.has(r.kind)));
}

export interface ScanOptions {
  match: (r: JournalRecord) => boolean;
  onDamage?: (d: Damage) => void;
}

/** One whole segment through `onRecord`. A record cut short counts as damage except at the journal's end (a write under way, or a torn tail). */
async function readSegment(seg: SegmentInfo, last: boolean, onRecord: (r: JournalRecord) => void, onDamage?: (d: Damage) => void): Promise<void> {
  const cursor = segmentCursor(seg);
  try {
    const out = await cursor.read(takeRecords(onRecord));
    const damage = out.kind === 'end' && last ? undefined : damageOf(seg.path, out, cursor.boundary);
    if (damage) onDamage?.(damage);
  } finally {
    await cursor.close();
  }
}

/**
 * The last `n` matching records, oldest first, reading segments newest first and
 * stopping once it has them; and the journal's last seq (for following on from it).
 */
export async function lastRecords(dir: string, n: number, opts: ScanOptions): Promise<{ records: JournalRecord[]; lastSeq: number }> {
  const segs = await listSegments(dir);
  const newestFirst: JournalRecord[][] = [];
  let have = 0;
  let lastSeq = 0;
  for (let i = segs.length - 1; i >= 0 && (have < n || lastSeq === 0); i--) {
    let found: JournalRecord[] = [];
    await readSegment(segs[i]!, i === segs.length - 1, (r) => {
      if (r.seq > lastSeq) lastSeq = r.seq;
      if (!opts.match(r)) return;
      found.push(r);
      // Only the last n of a segment can be shown: a segment of a million matches is not held whole.
      if (found.length >= 2 * n + 1024) found = found.slice(found.length - n);
    }, opts.onDamage);
    const keep = found.slice(Math.max(0, found.length - (n - have)));
    newestFirst.push(keep);
    have += keep.length;
  }
  return { records: newestFirst.reverse().flat(), lastSeq };
}

/** A segment's first record, read alone (a few bytes, not the segment); undefined when there is none to read. */
export async function firstRecordOf(seg: SegmentInfo): Promise<JournalRecord | undefined> {
  const file = await openIfExists(seg.path);
  if (!file) return undefined;
  try {
    const head = Buffer.alloc(RECORD_HEADER);
    if ((await file.read(head, 0, RECORD_HEADER, 0)).bytesRead < RECORD_HEADER) return undefined;
    const len = head.readUInt32BE(0);
    if (len === 0 || len > MAX_RECORD_PAYLOAD) return undefined;
    const buf = Buffer.alloc(RECORD_HEADER + len);
    const { bytesRead } = await file.read(buf, 0, buf.length, 0);
    const r = decodeRecordAt(buf.subarray(0, bytesRead), 0);
    return r.kind === 'ok' ? r.record : undefined;
  } finally {
    await file.close();
  }
}

/** From a seq (inclusive), or from a time (records at or after it). */
export type JournalPoint = { seq: number } | { time: number };

/**
 * Every matching record from `from` on, in order, through `onRecord`; returns the
 * journal's last seq. A time start skips the segments wholly before it by their
 * first records (the writer stamps records in commit order).
 */
export async function scanRecords(dir: string, from: JournalPoint, opts: ScanOptions & { onRecord: (r: JournalRecord) => void }): Promise<number> {
  const segs = await listSegments(dir);
  let start = 0;
  if ('seq' in from) {
    const seg = segmentFor(segs, from.seq);
    start = seg ? segs.indexOf(seg) : 0;
  } else {
    for (let i = segs.length - 1; i > 0; i--) {
      const first = await firstRecordOf(segs[i]!);
      // Strictly before: a record in an earlier segment may share the start's millisecond.
      if (first && first.at < from.time) {
        start = i;
        break;
      }
    }
  }
  const after = 'seq' in from ? (r: JournalRecord) => r.seq >= from.seq : (r: JournalRecord) => r.at >= from.time;
  let lastSeq = 0;
  for (let i = start; i < segs.length; i++) {
    await readSegment(segs[i]!, i === segs.length - 1, (r) => {
      if (r.seq > lastSeq) lastSeq = r.seq;
      if (after(r) && opts.match(r)) opts.onRecord(r);
    }, opts.onDamage);
  }
  return lastSeq;
}
