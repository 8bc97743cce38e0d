// msgpack for flat maps, written and read by hand: frame headers on both ends and
// journal records. msgpackr is general, so it pays per value for what these small
// maps of short keys never need (a fresh object and buffer per pack, a generic reader
// per key). Measured on the supervisor under a 200k-message stream, packing and
// unpacking headers plus validating them with zod took a third of its CPU per routed
// message. The output is plain msgpack, which msgpackr reads back to the same values
// (integers up to 2^32 as ints, past that as float64, as msgpackr writes them, so
// none decodes as a BigInt). The reader takes only the shapes the writers make and
// says NOPE to anything else: its caller then falls back to msgpackr.

/** An upper bound on the bytes writeValue needs for `v`; -1 when it is not flat (a nested map). */
export function valueBound(v: unknown): number {
  switch (typeof v) {
    case 'string': return 5 + v.length * 3;
    case 'number': return 9;
    case 'boolean': return 1;
    case 'object':
      if (v === null) return 1;
      if (v instanceof Uint8Array) return 5 + v.length;
      if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return 5 + v.length * 9;
      return -1;
    default: return -1;
  }
}

/** An upper bound on the bytes writeMap needs for `obj`; -1 when a value is not flat. */
export function mapBound(obj: Record<string, unknown>): number {
  let n = 3;
  for (const key in obj) {
    const v = obj[key];
    if (v === undefined) continue;
    const b = valueBound(v);
    if (b < 0) return -1;
    n += 5 + key.length * 3 + b;
  }
  return n;
}

/**
 * Write `obj`'s defined entries as a msgpack map at `off` (room per mapBound), after
 * `lead` entries the caller has already written at off + 1; returns the end offset.
 */
export function writeMap(buf: Buffer, start: number, off: number, obj: Record<string, unknown>, lead = 0, skip?: (key: string) => boolean): number {
  // The map header is written as a fixmap and patched once the count is known (a map of
  // 16 or more entries, which no header or record has today, is moved up for a map16 header).
  let count = lead;
  for (const key in obj) {
    const v = obj[key];
    if (v === undefined || skip?.(key)) continue;
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

export function writeValue(buf: Buffer, off: number, v: unknown): number {
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

export function writeString(buf: Buffer, off: number, s: string): number {
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

export function writeNumber(buf: Buffer, off: number, n: number): number {
  if (Number.isInteger(n) && n >= 0 && n <= Number.MAX_SAFE_INTEGER) {
    if (n < 0x80) { buf[off] = n; return off + 1; }
    if (n < 0x100) { buf[off] = 0xcc; buf[off + 1] = n; return off + 2; }
    if (n < 0x10000) { buf[off] = 0xcd; buf.writeUInt16BE(n, off + 1); return off + 3; }
    if (n < 0x100000000) { buf[off] = 0xce; buf.writeUInt32BE(n, off + 1); return off + 5; }
  }
  if (Number.isInteger(n) && n >= -0x80000000 && n < 0) { buf[off] = 0xd2; buf.writeInt32BE(n, off + 1); return off + 5; }
  buf[off] = 0xcb;
  buf.writeDoubleBE(n, off + 1);
  return off + 9;
}

export function writeBin(buf: Buffer, off: number, b: Uint8Array): number {
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

// ---- reading ----------------------------------------------------------------

/** What every read returns on anything it does not take. */
export const NOPE = -1;

/** Where a reader is in the bytes it reads, which end at `end` (not necessarily at buf's). */
export interface Cursor { buf: Buffer; off: number; end: number }

/** The unsigned integer at `r.off` (up to 2^53 - 1, a whole float64 included), advancing; NOPE otherwise. */
export function readUint(r: Cursor): number {
  const { buf, end } = r;
  if (r.off >= end) return NOPE;
  const b = buf[r.off]!;
  if (b < 0x80) { r.off += 1; return b; }
  if (b === 0xcc && r.off + 2 <= end) { r.off += 2; return buf[r.off - 1]!; }
  if (b === 0xcd && r.off + 3 <= end) { r.off += 3; return buf.readUInt16BE(r.off - 2); }
  if (b === 0xce && r.off + 5 <= end) { r.off += 5; return buf.readUInt32BE(r.off - 4); }
  // msgpackr writes an integer past 2^32 as a float64, and message ids are (idFloor: ms
  // since the epoch × 1000): every ack and reply carries them. A whole, non-negative,
  // safe float64 is what the schema's int().nonnegative() takes; anything else is not ours.
  if (b === 0xcb && r.off + 9 <= end) {
    const v = buf.readDoubleBE(r.off + 1);
    if (!Number.isSafeInteger(v) || v < 0) return NOPE;
    r.off += 9;
    return v;
  }
  return NOPE;
}

/** The length of an ASCII string at `r.off` (fixstr or str8), its bytes then at r.off; NOPE otherwise. */
export function readAsciiLength(r: Cursor): number {
  const { buf, end } = r;
  if (r.off >= end) return NOPE;
  const b = buf[r.off]!;
  let len: number;
  if ((b & 0xe0) === 0xa0) { len = b & 0x1f; r.off += 1; }
  else if (b === 0xd9 && r.off + 2 <= end) { len = buf[r.off + 1]!; r.off += 2; }
  else return NOPE;
  if (r.off + len > end) return NOPE;
  for (let i = r.off; i < r.off + len; i++) if (buf[i]! > 0x7f) return NOPE;
  return len;
}

/** Whether the `len` bytes at `off` spell `s` (ASCII). */
export function bytesAre(buf: Buffer, off: number, len: number, s: string): boolean {
  if (len !== s.length) return false;
  for (let i = 0; i < len; i++) if (buf[off + i] !== s.charCodeAt(i)) return false;
  return true;
}

/**
 * The last string read for one field: a stream names the same target and kind frame
 * after frame, and matching its bytes against the string then costs no new string. It
 * keeps the string only (ASCII: a char per byte), no bytes: a small buffer kept per
 * link would pin a slab of Node's buffer pool per agent.
 */
export class InternedField {
  private str = '';

  /** The ASCII string of the `len` bytes at `off`. */
  read(buf: Buffer, off: number, len: number): string {
    if (bytesAre(buf, off, len, this.str)) return this.str;
    this.str = buf.toString('latin1', off, off + len);
    return this.str;
  }
}
