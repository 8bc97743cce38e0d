// A msgpack encoder for journal records: flat maps of short string keys to
// strings, numbers, booleans, bytes and lists of numbers, written straight into
// the group commit's buffer (protocol/msgpack.ts, which frame headers use too).
// msgpackr costs ~2.6 µs per accept record (a fresh object per record, then a copy
// of its output); this costs a fraction of that, which is most of what the journal
// adds to a routed message. The output is plain msgpack: recovery and readers decode
// it with msgpackr. Values of any other shape (nested objects) are handed to
// msgpackr and inlined.
import { Packr } from 'msgpackr';
import { mapBound, writeMap, writeNumber, writeString } from '../../protocol/msgpack.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** The writer assigns these two: a record's own are ignored. */
const assigned = (key: string): boolean => key === 'seq' || key === 'at';

export class FlatPacker {
  /** Bytes needed for the record with `seq` and `at` added; -1 when something in it needs msgpackr. */
  static bound(rec: Record<string, unknown>): number {
    const b = mapBound(rec);
    return b < 0 ? -1 : b + 2 * (4 + 9);
  }

  /** Write `{ seq, at, ...rec }` as a msgpack map at `off`; returns the end offset. Room per bound(). */
  static write(buf: Buffer, off: number, rec: Record<string, unknown>, seq: number, at: number): number {
    const start = off++;
    off = writeString(buf, off, 'seq');
    off = writeNumber(buf, off, seq);
    off = writeString(buf, off, 'at');
    off = writeNumber(buf, off, at);
    return writeMap(buf, start, off, rec, 2, assigned);
  }
}

/** msgpackr, for records FlatPacker does not take. */
export const packGeneric = (value: unknown): Buffer => packr.pack(value);
