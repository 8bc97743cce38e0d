// The supervisor's fast path for agent headers: the common frames (send, ack,
// reply, ckpt, ready, hb) read straight from their bytes into the shape that
// agentHeaderSchema (header.ts, the single source of these types) would return,
// without msgpackr's generic reader or zod's parse, which together were the largest
// part of the supervisor's CPU per routed message. It takes only what it is sure
// the schema accepts; anything else (an error reply, a float seq, a non-ASCII name,
// a duplicate key, anything malformed) is NOPE'd back to the caller, which decodes
// it with msgpackr and validates it with zod: the schema still decides, and still
// words the error. test/header-read.test.ts holds the two to the same answers.
import type { AgentHeader, Qos } from './header.js';
import { KIND_MAX, NAME_MAX, QOS } from './constants.js';
import { InternedField, NOPE, bytesAre, readAsciiLength, readUint, type Cursor } from './msgpack.js';

const TYPES = ['ready', 'hb', 'send', 'reply', 'ack', 'ckpt'] as const;
type T = (typeof TYPES)[number];

// Which keys each type takes besides t, required (first) and optional: the schema's, by hand.
const SEQ = 1, TO = 2, KIND = 4, QOS_ = 8, REQ = 16, CORR = 32, IDS = 64, TIMEOUT = 128;
const REQUIRED: Record<T, number> = { ready: 0, hb: 0, send: SEQ | TO | KIND, reply: CORR, ack: IDS, ckpt: SEQ };
const OPTIONAL: Record<T, number> = { ready: 0, hb: 0, send: QOS_ | REQ | TIMEOUT, reply: 0, ack: 0, ckpt: 0 };
const NONE = Buffer.alloc(0);

/** The schema's bound on an ack's ids. */
const MAX_IDS = 65536;

/** One link's reader: it remembers the last target and kind, so a stream allocates no strings for them. */
export class AgentHeaderReader {
  private readonly to = new InternedField();
  private readonly kind = new InternedField();
  private readonly r: Cursor = { buf: NONE, off: 0, end: 0 };

  /**
   * The header in bytes `start` to `end` of `bytes` (all of it by default), as
   * agentHeaderSchema would parse it; undefined when it is not one this path takes.
   */
  read(bytes: Buffer, start = 0, end = bytes.length): AgentHeader | undefined {
    const h = this.parse(bytes, start, end);
    // Let go of the read: an idle agent's link must not pin its last chunk.
    this.r.buf = NONE;
    return h;
  }

  private parse(bytes: Buffer, start: number, end: number): AgentHeader | undefined {
    const r = this.r;
    r.buf = bytes;
    r.end = end;
    // A fixmap (FrameWriter), or a map16 (msgpackr writes every map so).
    const m = start < end ? bytes[start] : undefined;
    let entries: number;
    if (m !== undefined && (m & 0xf0) === 0x80) { entries = m & 0x0f; r.off = start + 1; }
    else if (m === 0xde && end - start >= 3) { entries = bytes.readUInt16BE(start + 1); r.off = start + 3; }
    else return undefined;
    let t: T | undefined;
    let seen = 0;
    let seq = 0, corr = 0, timeout = 0;
    let to = '', kind = '';
    let qos: Qos | undefined;
    let ids: number[] | undefined;
    for (let i = entries; i > 0; i--) {
      const klen = readAsciiLength(r);
      if (klen === NOPE) return undefined;
      const k = r.off;
      r.off += klen;
      let bit: number;
      if (bytesAre(bytes, k, klen, 't')) {
        if (t !== undefined) return undefined;
        const len = readAsciiLength(r);
        if (len === NOPE) return undefined;
        t = TYPES.find((name) => bytesAre(bytes, r.off, len, name));
        if (t === undefined) return undefined;
        r.off += len;
        continue;
      } else if (bytesAre(bytes, k, klen, 'seq')) {
        bit = SEQ;
        if ((seq = readUint(r)) === NOPE) return undefined;
      } else if (bytesAre(bytes, k, klen, 'corr')) {
        bit = CORR;
        if ((corr = readUint(r)) === NOPE) return undefined;
      } else if (bytesAre(bytes, k, klen, 'to')) {
        bit = TO;
        const len = readAsciiLength(r);
        if (len < 1 || len > NAME_MAX) return undefined;
        to = this.to.read(bytes, r.off, len);
        r.off += len;
      } else if (bytesAre(bytes, k, klen, 'kind')) {
        bit = KIND;
        const len = readAsciiLength(r);
        if (len < 1 || len > KIND_MAX) return undefined;
        kind = this.kind.read(bytes, r.off, len);
        r.off += len;
      } else if (bytesAre(bytes, k, klen, 'qos')) {
        bit = QOS_;
        const len = readAsciiLength(r);
        if (len === NOPE) return undefined;
        qos = QOS.find((q) => bytesAre(bytes, r.off, len, q));
        if (qos === undefined) return undefined;
        r.off += len;
      } else if (bytesAre(bytes, k, klen, 'req')) {
        bit = REQ;
        if (r.off >= end || bytes[r.off++] !== 0xc3) return undefined;
      } else if (bytesAre(bytes, k, klen, 'timeout')) {
        bit = TIMEOUT;
        // The schema's bounds: a positive int below 2^31 (ms).
        if ((timeout = readUint(r)) === NOPE || timeout < 1 || timeout > 0x7fffffff) return undefined;
      } else if (bytesAre(bytes, k, klen, 'ids')) {
        bit = IDS;
        if ((ids = this.readIds()) === undefined) return undefined;
      } else return undefined;
      if (seen & bit) return undefined;
      seen |= bit;
    }
    if (t === undefined || r.off !== end) return undefined;
    if ((seen & REQUIRED[t]) !== REQUIRED[t] || (seen & ~(REQUIRED[t] | OPTIONAL[t])) !== 0) return undefined;
    switch (t) {
      case 'ready': case 'hb': return { t };
      case 'reply': return { t, corr };
      case 'ckpt': return { t, seq };
      case 'ack': return { t, ids: ids! };
      case 'send': {
        const h: Extract<AgentHeader, { t: 'send' }> = { t, seq, to, kind };
        if (qos !== undefined) h.qos = qos;
        if (seen & REQ) h.req = true;
        if (seen & TIMEOUT) h.timeout = timeout;
        return h;
      }
    }
  }

  private readIds(): number[] | undefined {
    const r = this.r;
    if (r.off >= r.end) return undefined;
    const b = r.buf[r.off]!;
    let n: number;
    if ((b & 0xf0) === 0x90) { n = b & 0x0f; r.off += 1; }
    else if (b === 0xdc && r.off + 3 <= r.end) { n = r.buf.readUInt16BE(r.off + 1); r.off += 3; }
    else if (b === 0xdd && r.off + 5 <= r.end) { n = r.buf.readUInt32BE(r.off + 1); r.off += 5; }
    else return undefined;
    if (n < 1 || n > MAX_IDS || n > r.end - r.off) return undefined;
    const ids = new Array<number>(n);
    for (let i = 0; i < n; i++) if ((ids[i] = readUint(r)) === NOPE) return undefined;
    return ids;
  }
}
