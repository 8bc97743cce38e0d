// Journal record framing: u32be length | u32be crc32(payload) | msgpack payload.
// The length counts the payload only. CRC is zlib's crc32 (IEEE), available in
// node:zlib since Node 20.15.
import { crc32 } from 'node:zlib';
import { Unpackr } from 'msgpackr';
import { FlatPacker, packGeneric } from './flat-pack.js';

export const RECORD_HEADER = 8;
/** A record larger than this is treated as damage, not data. */
export const MAX_RECORD_PAYLOAD = 16 * 1024 * 1024;

import type { RecordType } from './schema.js';

export type { RecordType } from './schema.js';

export interface JournalRecord {
  /** Assigned by the writer: 1, 2, 3, … across all segments. */
  seq: number;
  /** Epoch milliseconds. */
  at: number;
  type: RecordType;
  agent?: string;
  [k: string]: unknown;
}

/** What a caller hands to the writer: seq is assigned there, at defaults to now. */
export type NewRecord = Omit<JournalRecord, 'seq' | 'at'> & { at?: number };

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** One framed record as its own buffer. */
export function encodeRecord(record: JournalRecord): Buffer {
  const batch = new RecordBatch(256);
  const { seq, at, ...rest } = record;
  batch.add(rest, seq, at);
  return Buffer.from(batch.bytes());
}

/**
 * Appends framed records into one growing buffer: a group commit is encoded
 * straight into the bytes of its single write.
 */
export class RecordBatch {
  private buf: Buffer;
  length = 0;
  count = 0;
  constructor(initial = 64 * 1024) { this.buf = Buffer.allocUnsafe(initial); }

  /** Frame `{ seq, at, ...rec }`: length, CRC, payload. */
  add(rec: Record<string, unknown>, seq: number, at: number): void {
    const bound = FlatPacker.bound(rec);
    // Undefined values are left out either way, so a record decodes the same whichever encoder wrote it.
    const generic = bound < 0 ? packGeneric(Object.fromEntries([...Object.entries(rec).filter(([, v]) => v !== undefined), ['seq', seq], ['at', at]])) : undefined;
    this.reserve(RECORD_HEADER + (generic ? generic.length : bound));
    const start = this.length + RECORD_HEADER;
    let end: number;
    if (generic) {
      this.buf.set(generic, start);
      end = start + generic.length;
    } else {
      end = FlatPacker.write(this.buf, start, rec, seq, at);
    }
    const len = end - start;
    if (len > MAX_RECORD_PAYLOAD) throw new RangeError(`journal record of ${len} bytes exceeds ${MAX_RECORD_PAYLOAD}`);
    this.buf.writeUInt32BE(len, this.length);
    this.buf.writeUInt32BE(crc32(this.buf.subarray(start, end)), this.length + 4);
    this.length = end;
    this.count++;
  }

  private reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }

  /** A point to roll back to (reset) if a later add fails. */
  mark(): { length: number; count: number } { return { length: this.length, count: this.count }; }
  reset(m: { length: number; count: number }): void { this.length = m.length; this.count = m.count; }

  bytes(): Buffer { return this.buf.subarray(0, this.length); }
}

export type DecodeResult =
  | { kind: 'ok'; record: JournalRecord; next: number }
  /** The buffer ends inside this record (a torn tail if it is the end of the file). */
  | { kind: 'short'; need: number }
  | { kind: 'bad'; reason: string };

const isRecord = (v: unknown): v is JournalRecord =>
  typeof v === 'object' && v !== null && !Array.isArray(v) &&
  typeof (v as JournalRecord).seq === 'number' && typeof (v as JournalRecord).at === 'number' &&
  typeof (v as JournalRecord).type === 'string';

/** Decode the record at `off`; validates length, CRC and that the payload is a record. */
export function decodeRecordAt(buf: Buffer, off: number): DecodeResult {
  const avail = buf.length - off;
  if (avail < RECORD_HEADER) return { kind: 'short', need: RECORD_HEADER - avail };
  const len = buf.readUInt32BE(off);
  if (len === 0 || len > MAX_RECORD_PAYLOAD) return { kind: 'bad', reason: `implausible record length ${len}` };
  const end = off + RECORD_HEADER + len;
  if (end > buf.length) return { kind: 'short', need: end - buf.length };
  const payload = buf.subarray(off + RECORD_HEADER, end);
  const crc = buf.readUInt32BE(off + 4);
  if (crc32(payload) !== crc) return { kind: 'bad', reason: 'CRC mismatch' };
  let value: unknown;
  try { value = unpackr.unpack(payload); } catch (err) {
    return { kind: 'bad', reason: `msgpack: ${(err as Error).message}` };
  }
  if (!isRecord(value)) return { kind: 'bad', reason: 'payload is not a journal record' };
  return { kind: 'ok', record: value, next: end };
}

/** Decode a whole buffer of records; throws on anything but clean records. */
export function decodeRecords(buf: Buffer): JournalRecord[] {
  const out: JournalRecord[] = [];
  let off = 0;
  while (off < buf.length) {
    const r = decodeRecordAt(buf, off);
    if (r.kind !== 'ok') throw new Error(`journal record at offset ${off}: ${r.kind === 'bad' ? r.reason : 'truncated'}`);
    out.push(r.record);
    off = r.next;
  }
  return out;
}
