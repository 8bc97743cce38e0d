// A msgpack encoder for journal records: flat maps of short string keys to
// strings, numbers, booleans, bytes and lists of numbers, written straight into
// the group commit's buffer (protocol/msgpack.ts, which frame headers use too).
// msgpackr costs ~2.6 µs per accept record (a fresh object per record, then a copy
// of its output); this costs a fraction of that, which is most of what the journal
// adds to a routed message. The output is plain msgpack: recovery and readers decode
// it with msgpackr. Values of any other shape (nested objects) are handed to
// msgpackr and inlined.
import { Packr } from 'msgpackr';
import { knownBound, mapBound, writeKnown, writeMap, writeNumber, writeString } from '../../protocol/msgpack.js';
import type { NewRecordOf } from './schema.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** The writer assigns these two: a record's own are ignored. */
const assigned = (key: string): boolean => key === 'seq' || key === 'at';

/** Every key of an accept record (the one record per routed message), for writeKnown. */
const ACCEPT_KEYS = ['type', 'id', 'from', 'to', 'kind', 'qos', 'req', 'body', 'carried', 'attempts', 'redrive', 'schedule', 'slot'] as const satisfies readonly (keyof NewRecordOf<'accept'>)[];
// A field added to the accept schema and not here would be dropped from the journal: refuse to compile.
const acceptKeysComplete: Exclude<keyof NewRecordOf<'accept'>, (typeof ACCEPT_KEYS)[number] | 'at'> extends never ? true : never = true;
void acceptKeysComplete;

const isAccept = (rec: Record<string, unknown>): boolean => rec.type === 'accept';

export class FlatPacker {
  /** Bytes needed for the record with `seq` and `at` added; -1 when something in it needs msgpackr. */
  static bound(rec: Record<string, unknown>): number {
    const b = isAccept(rec) ? knownBound(rec, ACCEPT_KEYS) : mapBound(rec);
    return b < 0 ? -1 : b + 2 * (4 + 9);
  }

  /** Write `{ seq, at, ...rec }` as a msgpack map at `off`; returns the end offset. Room per bound(). */
  static write(buf: Buffer, off: number, rec: Record<string, unknown>, seq: number, at: number): number {
    const start = off++;
    off = writeString(buf, off, 'seq');
    off = writeNumber(buf, off, seq);
    off = writeString(buf, off, 'at');
    off = writeNumber(buf, off, at);
    return isAccept(rec) ? writeKnown(buf, start, off, rec, ACCEPT_KEYS, 2) : writeMap(buf, start, off, rec, 2, assigned);
  }
}

/** msgpackr, for records FlatPacker does not take. */
export const packGeneric = (value: unknown): Buffer => packr.pack(value);
