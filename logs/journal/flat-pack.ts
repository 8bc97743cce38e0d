// A msgpack encoder for journal records: flat maps of short string keys to
// strings, numbers, booleans, bytes and lists of numbers, written straight into
// the group commit's buffer. msgpackr costs ~2.6 µs per accept record (a fresh
// object per record, then a copy of its output); this costs a fraction of that,
// which is most of what the journal adds to a routed message. The output is plain
// msgpack: recovery and readers decode it with msgpackr. Values of any other shape
// (nested objects) are handed to msgpackr and inlined.
import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** An upper bound on the bytes writeFlat needs for one value. */
function valueBound(v: unknown): number {
  switch (typeof v) {
    case 'string': return 5 + v.length * 3;
    case 'number': return 9;
    case 'boolean': return 1;
    case 'object':
      if (v === null) return 1;
      if (v instanceof Uint8Array) return 5 + v.length;
      if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return 5 + v.length * 9;
      return -1; // handed to msgpackr
    default: return -1;
  }
}

export class FlatPacker {
  /** Bytes needed for the record with `seq` and `at` added; -1 when something in it needs msgpackr. */
  static bound(rec: Record<string, unknown>): number {
    let n = 3 + 2 * (4 + 9);
    for (const key in rec) {
      const v = rec[key];
      if (v === undefined || key === 'seq' || key === 'at') continue;
      const b = valueBound(v);
      if (b < 0) return -1;
      n += valueBound(key) + b;
    }
    return n;
  }

  /** Write `{ seq, at, ...rec }` as a msgpack map at `off`; returns the end offset. Room per bound(). */
  static write(buf: Buffer, off: number, rec: Record<string, unknown>, seq: number, at: number): number {
    // One pass: the map header is written as a fixmap and patched once the count is known
    // (a record with 16 or more fields, which none has today, is moved up for a map16 header).
    const start = off++;
    let count = 2;
    off = writeString(buf, off, 'seq');
    off = writeNumber(buf, off, seq);
    off = writeString(buf, off, 'at');
    off = writeNumber(buf, off, at);
    for (const key in rec) {
      const v = rec[key];
      if (v === undefined || key === 'seq' || key === 'at') continue;
      off = writeString(buf, off, key);
      off = writeValue(buf, off, v);
      count++;
    }
    if (count < 16) {
      buf[start] = 0x80 | count;
      return off;
    }
    buf.copyWithin(start + 3, start + 1, off);
    buf[start] = 0xde;
    buf.writeUInt16BE(count, start + 1);
    return off + 2;
  }
}

function writeValue(buf: Buffer, off: number, v: unknown): number {
  switch (typeof v) {
    case 'string': return writeString(buf, off, v);
    case 'number': return writeNumber(buf, off, v);
    case 'boolean': buf[off] = v ? 0xc3 : 0xc2; return off + 1;
    default:
      if (v === null) { buf[off] = 0xc0; return off + 1; }
      if (v instanceof Uint8Array) return writeBin(buf, off, v);
      return writeArray(buf, off, v as number[]);
  }
}

function writeString(buf: Buffer, off: number, s: string): number {
  // The header's size depends on the UTF-8 length; short ASCII names and kinds are the common case.
  const len = s.length < 32 && isAscii(s) ? s.length : Buffer.byteLength(s);
  if (len < 32) buf[off++] = 0xa0 | len;
  else if (len < 0x100) { buf[off++] = 0xd9; buf[off++] = len; }
  else if (len < 0x10000) { buf[off++] = 0xda; buf.writeUInt16BE(len, off); off += 2; }
  else { buf[off++] = 0xdb; buf.writeUInt32BE(len, off); off += 4; }
  if (len === s.length && len < 32) {
    for (let i = 0; i < len; i++) buf[off + i] = s.charCodeAt(i);
    return off + len;
  }
  return off + buf.write(s, off, 'utf8');
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function writeNumber(buf: Buffer, off: number, n: number): number {
  if (Number.isInteger(n) && n >= 0 && n <= Number.MAX_SAFE_INTEGER) {
    if (n < 0x80) { buf[off] = n; return off + 1; }
    if (n < 0x100) { buf[off] = 0xcc; buf[off + 1] = n; return off + 2; }
    if (n < 0x10000) { buf[off] = 0xcd; buf.writeUInt16BE(n, off + 1); return off + 3; }
    if (n < 0x100000000) { buf[off] = 0xce; buf.writeUInt32BE(n, off + 1); return off + 5; }
    // Past 32 bits a float64, as msgpackr writes it: a uint64 would decode as a BigInt.
  }
  if (Number.isInteger(n) && n >= -0x80000000 && n < 0) { buf[off] = 0xd2; buf.writeInt32BE(n, off + 1); return off + 5; }
  buf[off] = 0xcb;
  buf.writeDoubleBE(n, off + 1);
  return off + 9;
}

function writeBin(buf: Buffer, off: number, b: Uint8Array): number {
  const len = b.length;
  if (len < 0x100) { buf[off++] = 0xc4; buf[off++] = len; }
  else if (len < 0x10000) { buf[off++] = 0xc5; buf.writeUInt16BE(len, off); off += 2; }
  else { buf[off++] = 0xc6; buf.writeUInt32BE(len, off); off += 4; }
  buf.set(b, off);
  return off + len;
}

function writeArray(buf: Buffer, off: number, a: number[]): number {
  const len = a.length;
  if (len < 16) buf[off++] = 0x90 | len;
  else if (len < 0x10000) { buf[off++] = 0xdc; buf.writeUInt16BE(len, off); off += 2; }
  else { buf[off++] = 0xdd; buf.writeUInt32BE(len, off); off += 4; }
  for (const n of a) off = writeNumber(buf, off, n);
  return off;
}

/** msgpackr, for records FlatPacker does not take. */
export const packGeneric = (value: unknown): Buffer => packr.pack(value);
