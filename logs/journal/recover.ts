// Recovery: scan every segment, validate every record, truncate a torn tail in
// the last segment, and move mid-journal damage aside (never delete it silently).
import { promises as fsp, constants as C } from 'node:fs';
import { join } from 'node:path';
import { decodeRecordAt, RECORD_HEADER, type JournalRecord } from './record.js';
import { DAMAGED_DIR, listSegments, syncDir, type SegmentInfo } from './segment.js';
import { openSafe } from '../safe-open.js';

export interface MovedAside {
  /** The segment the damage was in. */
  file: string;
  /** Byte offset in that segment where the bad record began. */
  offset: number;
  /** Where the damaged remainder (offset … end of segment) now lives. */
  to: string;
  bytes: number;
  reason: string;
  /** Valid-looking records found inside the damaged remainder, and their highest seq. */
  recordsInside: number;
  maxSeqInside: number;
}

export interface RecoveryReport {
  records: number;
  /** Highest seq seen (including inside moved-aside damage, so seqs are never reused); 0 for an empty journal. */
  lastSeq: number;
  /** Bytes cut off a torn tail in the last segment. */
  truncatedBytes: number;
  movedAside: MovedAside[];
  segments: number;
}

/** Read a whole segment file (only its regular-file size: /dev/* never ends). */
async function readSegment(path: string): Promise<Buffer> {
  const h = await fsp.open(path, C.O_RDONLY);
  try {
    const st = await h.stat();
    if (!st.isFile() || st.size === 0) return Buffer.alloc(0);
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const { bytesRead } = await h.read(buf, off, st.size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return off === st.size ? buf : buf.subarray(0, off);
  } finally { await h.close(); }
}

/** The first offset > from where a complete, valid record starts, if any. */
function findNextValid(buf: Buffer, from: number): number | undefined {
  for (let off = from; off + RECORD_HEADER <= buf.length; off++) {
    const len = buf.readUInt32BE(off);
    if (len === 0 || off + RECORD_HEADER + len > buf.length) continue;
    if (decodeRecordAt(buf, off).kind === 'ok') return off;
  }
  return undefined;
}

/** Count the valid records after a bad one (resyncing past damage); their seqs must not be reused. */
function salvageCount(buf: Buffer, bad: number): { count: number; maxSeq: number } {
  let count = 0, maxSeq = 0;
  let off = findNextValid(buf, bad + 1);
  while (off !== undefined && off < buf.length) {
    const r = decodeRecordAt(buf, off);
    if (r.kind === 'ok') {
      count++;
      if (r.record.seq > maxSeq) maxSeq = r.record.seq;
      off = r.next;
    } else {
      off = findNextValid(buf, off + 1);
    }
  }
  return { count, maxSeq };
}

interface ScanResult { good: number; count: number; lastSeq: number; bad?: { offset: number; reason: string; torn: boolean } }

function scan(buf: Buffer, onRecord?: (r: JournalRecord) => void): ScanResult {
  let off = 0, count = 0, lastSeq = 0;
  while (off < buf.length) {
    const r = decodeRecordAt(buf, off);
    if (r.kind === 'ok') {
      count++;
      if (r.record.seq > lastSeq) lastSeq = r.record.seq;
      onRecord?.(r.record);
      off = r.next;
      continue;
    }
    const reason = r.kind === 'short' ? `record cut short (${r.need} bytes missing)` : r.reason;
    // Torn means nothing valid follows: the end of an interrupted write.
    const torn = r.kind === 'short' || findNextValid(buf, off + 1) === undefined;
    return { good: off, count, lastSeq, bad: { offset: off, reason, torn } };
  }
  return { good: off, count, lastSeq };
}

async function truncateFile(path: string, len: number): Promise<void> {
  const h = await openSafe(path, C.O_RDWR);
  try { await h.truncate(len); await h.sync(); } finally { await h.close(); }
}

async function moveAside(dir: string, seg: SegmentInfo, buf: Buffer, offset: number, reason: string): Promise<MovedAside> {
  const damagedDir = join(dir, DAMAGED_DIR);
  const to = join(damagedDir, `${seg.name}.${offset}`);
  // As root, into a directory an attacker may have prepared: no link followed, the fd checked (safe-open.ts).
  const h = await openSafe(to, C.O_WRONLY | C.O_CREAT | C.O_TRUNC);
  try {
    const rest = buf.subarray(offset);
    let off = 0;
    while (off < rest.length) off += (await h.write(rest, off, rest.length - off, off)).bytesWritten;
    await h.sync();
  } finally { await h.close(); }
  await syncDir(damagedDir);
  // Only after the copy is durable is the segment cut back.
  await truncateFile(seg.path, offset);
  const inside = salvageCount(buf, offset);
  return { file: seg.path, offset, to, bytes: buf.length - offset, reason, recordsInside: inside.count, maxSeqInside: inside.maxSeq };
}

/**
 * Make the journal in `dir` consistent: every remaining record is complete and
 * CRC-valid. A torn tail of the last segment is truncated; any other damage
 * (a bad record followed by valid ones, or anywhere in an earlier segment) is
 * moved to `dir/damaged/<segment>.<offset>` and reported.
 */
export async function recover(dir: string, onRecord?: (r: JournalRecord, segment: number) => void): Promise<RecoveryReport> {
  const segs = await listSegments(dir);
  const report: RecoveryReport = { records: 0, lastSeq: 0, truncatedBytes: 0, movedAside: [], segments: segs.length };
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    const isLast = i === segs.length - 1;
    const buf = await readSegment(seg.path);
    const res = scan(buf, onRecord && ((r) => onRecord(r, seg.firstSeq)));
    report.records += res.count;
    if (res.lastSeq > report.lastSeq) report.lastSeq = res.lastSeq;
    if (!res.bad) continue;
    if (isLast && res.bad.torn) {
      await truncateFile(seg.path, res.bad.offset);
      report.truncatedBytes += buf.length - res.bad.offset;
    } else {
      const moved = await moveAside(dir, seg, buf, res.bad.offset, res.bad.reason);
      report.movedAside.push(moved);
      if (moved.maxSeqInside > report.lastSeq) report.lastSeq = moved.maxSeqInside;
    }
  }
  return report;
}

/**
 * Every valid record with seq ≥ fromSeq, in order. Read-only: stops reading a
 * segment at its first bad record (run recover() to repair) and goes on with
 * the next segment.
 */
export async function* readRecords(dir: string, fromSeq = 0): AsyncGenerator<JournalRecord> {
  const segs = await listSegments(dir);
  for (let i = 0; i < segs.length; i++) {
    const next = segs[i + 1];
    if (next && next.firstSeq <= fromSeq) continue; // wholly before fromSeq
    let buf: Buffer;
    try { buf = await readSegment(segs[i]!.path); } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed by retention meanwhile
      throw err;
    }
    let off = 0;
    while (off < buf.length) {
      const r = decodeRecordAt(buf, off);
      if (r.kind !== 'ok') break;
      off = r.next;
      if (r.record.seq >= fromSeq) yield r.record;
    }
  }
}
