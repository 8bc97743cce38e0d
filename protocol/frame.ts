// The wire: length-prefixed frames on the agent's fd 3.
//
//   u32be  length of everything after this field
//   u16be  header length H
//   H      header, msgpack (read by the supervisor)
//   rest   body, msgpack (opaque to the supervisor; forwarded byte for byte)
//
// Keeping the body as a separate byte range is what lets the supervisor route
// without ever decoding it (the "minimal dispatcher" principle). This module is
// shared by both sides, so it must stay free of heavy imports: agents load it.
import { Packr, Unpackr } from 'msgpackr';
import { mapBound, writeMap, writeNumber, writeString } from './msgpack.js';
import type { MsgHeader } from './header.js';

export const PREFIX = 6;
const MAX_HEADER = 0xffff;

// Plain maps (no msgpackr records): both sides stay independent and headers stay small.
const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export const packValue = (value: unknown): Buffer => packr.pack(value);
export const unpackValue = (bytes: Uint8Array): unknown => unpackr.unpack(bytes);

const EMPTY = Buffer.alloc(0);

/** Every key of MsgHeader: writeMsgHeader writes each by hand. */
const MSG_KEYS = ['t', 'id', 'from', 'kind', 'qos', 'req', 'redelivered'] as const satisfies readonly (keyof MsgHeader)[];
// A key added to MsgHeader and not written below would be dropped from every delivery: refuse to compile.
const msgKeysComplete: Exclude<keyof MsgHeader, (typeof MSG_KEYS)[number]> extends never ? true : never = true;
void msgKeysComplete;

/** Room writeMsgHeader may need: the keys, the id, the class, and the two strings at 3 bytes a char. */
const msgBound = (h: MsgHeader): number => 64 + 3 * (h.from.length + h.kind.length);

/**
 * A delivered message's header, the supervisor's most frequent write, key by key with
 * no loop over the object: as writeMap would write it, at a fraction of the cost.
 */
function writeMsgHeader(buf: Buffer, start: number, h: MsgHeader): number {
  let off = start + 1;
  off = writeString(buf, off, 't');
  off = writeString(buf, off, 'msg');
  off = writeString(buf, off, 'id');
  off = writeNumber(buf, off, h.id);
  off = writeString(buf, off, 'from');
  off = writeString(buf, off, h.from);
  off = writeString(buf, off, 'kind');
  off = writeString(buf, off, h.kind);
  off = writeString(buf, off, 'qos');
  off = writeString(buf, off, h.qos);
  let count = 5;
  if (h.req !== undefined) {
    off = writeString(buf, off, 'req');
    buf[off++] = 0xc3;
    count++;
  }
  if (h.redelivered !== undefined) {
    off = writeString(buf, off, 'redelivered');
    buf[off++] = 0xc3;
    count++;
  }
  buf[start] = 0x80 | count;
  return off;
}

const frameSize = (header: Uint8Array, body: Uint8Array): number => {
  if (header.length > MAX_HEADER) throw new RangeError(`frame header of ${header.length} bytes exceeds ${MAX_HEADER}`);
  return PREFIX + header.length + body.length;
};

/** Lay one frame out at `off`; `out` must have room for frameSize(header, body). */
function writeFrameAt(out: Buffer, off: number, header: Uint8Array, body: Uint8Array): void {
  out.writeUInt32BE(2 + header.length + body.length, off);
  out.writeUInt16BE(header.length, off + 4);
  out.set(header, off + PREFIX);
  if (body.length) out.set(body, off + PREFIX + header.length);
}

/** One frame from an already-encoded header and body. */
export function frameBytes(header: Buffer, body: Uint8Array = EMPTY): Buffer {
  const out = Buffer.allocUnsafe(frameSize(header, body));
  writeFrameAt(out, 0, header, body);
  return out;
}

/** A header's bytes, as a FrameWriter writes them. */
export function encodeHeader(header: object): Buffer {
  const bound = mapBound(header as Record<string, unknown>);
  if (bound < 0) return packValue(header);
  const h = Buffer.allocUnsafe(bound);
  return h.subarray(0, writeMap(h, 0, 1, header as Record<string, unknown>));
}

/** One frame, laid out as a FrameWriter writes it. */
export function encodeFrame(header: object, body: Uint8Array = EMPTY): Buffer {
  return frameBytes(encodeHeader(header), body);
}

/** Where a FrameWriter's batches go: a socket, usually. */
export interface ByteSink {
  write(chunk: Buffer): unknown;
}

/**
 * Batches frames written in one tick into one buffer and one write. A burst of
 * frames costs one syscall and one stream write instead of one each; frames are
 * encoded straight into the batch, so there is no per-frame allocation.
 */
export class FrameWriter {
  private buf: Buffer = EMPTY;
  private len = 0;
  private scheduled = false;
  /** The size of the last batch handed on (capped): where the next one starts. */
  private last = 0;
  private readonly flushNow = () => this.flush();

  constructor(private readonly sink: ByteSink) {}

  write(header: object, body: Uint8Array = EMPTY): void {
    // Flat headers (all but an error reply's) are written straight into the batch; a
    // delivered message's, the supervisor's most frequent, by its known keys.
    const msg = (header as { t?: unknown }).t === 'msg';
    const bound = msg ? msgBound(header as MsgHeader) : mapBound(header as Record<string, unknown>);
    if (bound < 0) return this.writeBytes(packr.pack(header), body);
    this.reserve(PREFIX + bound + body.length);
    const start = this.len + PREFIX;
    const hlen = (msg ? writeMsgHeader(this.buf, start, header as MsgHeader) : writeMap(this.buf, start, start + 1, header as Record<string, unknown>)) - start;
    if (hlen > MAX_HEADER) throw new RangeError(`frame header of ${hlen} bytes exceeds ${MAX_HEADER}`);
    this.buf.writeUInt32BE(2 + hlen + body.length, this.len);
    this.buf.writeUInt16BE(hlen, this.len + 4);
    if (body.length) this.buf.set(body, start + hlen);
    this.commit(PREFIX + hlen + body.length);
  }

  private writeBytes(h: Buffer, body: Uint8Array): void {
    const size = frameSize(h, body);
    this.reserve(size);
    writeFrameAt(this.buf, this.len, h, body);
    this.commit(size);
  }

  private commit(size: number): void {
    this.len += size;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushNow);
    }
  }

  private reserve(need: number): void {
    if (this.len + need <= this.buf.length) return;
    // Small batches come from Node's shared pool; an idle channel holds no buffer at all.
    // A busy one starts each batch at the last one's size, instead of doubling up to it again.
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + need, this.last, 1024));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Hand the batch to the sink now. */
  flush(): void {
    this.scheduled = false;
    if (!this.len) return;
    const out = this.buf.subarray(0, this.len);
    // The sink may hold `out` until the kernel takes it: never reuse that memory.
    this.buf = EMPTY;
    this.last = Math.min(this.len, 64 << 10);
    this.len = 0;
    this.sink.write(out);
  }

  /** Bytes encoded and not yet handed to the sink. */
  get pending(): number {
    return this.len;
  }
}

export class FrameError extends Error {
  constructor(message: string, readonly code: 'ETOOBIG' | 'EFRAME') {
    super(message);
  }
}

export interface FrameSink {
  /** header and body are views into the read buffer: copy them if kept past the call. */
  frame(header: Buffer, body: Buffer): void;
  /**
   * Instead of frame: the frame as offsets into the read buffer (header from `hstart`
   * to `hend`, body from there to `end`), for a sink that reads the header in place
   * and copies the body once, making no views of either.
   */
  frameAt?(buf: Buffer, hstart: number, hend: number, end: number): void;
}

/**
 * Incremental frame splitter. Throws FrameError on a frame that announces more
 * than maxFrame bytes or whose header length does not fit; the caller treats
 * that as the sender's fault. Never buffers more than one frame's worth.
 */
export class FrameReader {
  /** A frame that began in an earlier chunk, allocated whole once its prefix was read. */
  private partial: Buffer | undefined;
  private filled = 0;
  /** Fewer than PREFIX bytes left over: not enough to know the frame's size yet. */
  private stub: Buffer = EMPTY;

  constructor(private readonly maxFrame: number, private readonly sink: FrameSink) {}

  push(chunk: Buffer): void {
    let off = 0;
    if (this.partial) {
      // Each byte of a large frame is copied once, into its final place; the old
      // concat-the-remainder approach copied it again with every chunk.
      const n = Math.min(this.partial.length - this.filled, chunk.length);
      chunk.copy(this.partial, this.filled, 0, n);
      this.filled += n;
      off = n;
      if (this.filled < this.partial.length) return;
      const frame = this.partial;
      this.partial = undefined;
      this.emit(frame, 0);
    }
    let buf = chunk;
    if (this.stub.length) {
      buf = Buffer.concat([this.stub, chunk.subarray(off)]);
      off = 0;
      this.stub = EMPTY;
    }
    while (buf.length - off >= PREFIX) {
      const len = this.check(buf, off);
      const end = off + 4 + len;
      if (end > buf.length) {
        this.partial = Buffer.allocUnsafe(4 + len);
        this.filled = buf.copy(this.partial, 0, off);
        return;
      }
      this.emit(buf, off);
      off = end;
    }
    // Copy the few bytes left: the chunk is released instead of pinned by a tiny view.
    if (off < buf.length) this.stub = Buffer.from(buf.subarray(off));
  }

  /** Validate the prefix at `off`; the frame's length after the u32. */
  private check(buf: Buffer, off: number): number {
    const len = buf.readUInt32BE(off);
    if (len > this.maxFrame + 2) throw new FrameError(`frame of ${len} bytes exceeds the limit of ${this.maxFrame}`, 'ETOOBIG');
    const hlen = buf.readUInt16BE(off + 4);
    if (hlen === 0 || hlen > len - 2) throw new FrameError(`frame header length ${hlen} does not fit frame length ${len}`, 'EFRAME');
    return len;
  }

  private emit(buf: Buffer, off: number): void {
    const len = buf.readUInt32BE(off);
    const hstart = off + PREFIX;
    const hend = hstart + buf.readUInt16BE(off + 4);
    if (this.sink.frameAt) this.sink.frameAt(buf, hstart, hend, off + 4 + len);
    else this.sink.frame(buf.subarray(hstart, hend), buf.subarray(hend, off + 4 + len));
  }

  /** Bytes of an incomplete frame still waiting for the rest. */
  get buffered(): number {
    return this.partial ? this.filled : this.stub.length;
  }
}
