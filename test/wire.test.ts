// The wire: FrameReader must split frames identically whatever the chunking, refuse
// oversized or malformed frames from the prefix alone, and hand bodies through byte
// for byte. agentHeaderSchema must accept exactly the agent's frame types.
// (Long because reader, writer and header schema are pinned against the same frames.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameError, FrameReader, FrameWriter, PREFIX, encodeFrame, encodeHeader, frameBytes, packValue, unpackValue } from '../protocol/frame.js';
import { agentHeaderSchema } from '../protocol/header.js';

interface Got { header: Buffer; body: Buffer }

/** A reader whose sink copies what it is handed (the views die with the call). */
function collector(maxFrame = 1 << 20): { reader: FrameReader; got: Got[] } {
  const got: Got[] = [];
  const reader = new FrameReader(maxFrame, {
    frame: (header, body) => got.push({ header: Buffer.from(header), body: Buffer.from(body) }),
  });
  return { reader, got };
}

function expectFrameError(fn: () => void, code: 'ETOOBIG' | 'EFRAME'): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FrameError, `expected a FrameError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

const BODIES: unknown[] = [
  { hello: 'world', n: 42, list: [1, 2, { deep: [true, null, 'x'] }] },
  'plain string',
  [],
  { nested: { a: { b: { c: { d: [1.5, -7, 2 ** 40, 'ü€𝄞'] } } } }, bin: Buffer.from([0, 1, 2, 255]) },
];

function sampleFrames(): { header: object; body: Buffer; bytes: Buffer }[] {
  return [
    { header: { t: 'ready' }, body: Buffer.alloc(0) },
    { header: { t: 'send', seq: 1, to: 'relay', kind: 'note', qos: 'user' }, body: packValue(BODIES[0]) },
    { header: { t: 'hb' }, body: packValue(BODIES[1]) },
    { header: { t: 'send', seq: 2, to: 'data', kind: 'big', req: true }, body: packValue({ blob: 'z'.repeat(3000) }) },
    { header: { t: 'reply', corr: 9 }, body: packValue(BODIES[3]) },
    { header: { t: 'ack', ids: [1, 2, 3] }, body: Buffer.alloc(0) },
  ].map((f) => ({ ...f, bytes: encodeFrame(f.header, f.body) }));
}

test('frame layout: u32be length of the rest, u16be header length, header, body', () => {
  const header = packValue({ t: 'hb' });
  const body = Buffer.from([9, 8, 7]);
  const bytes = frameBytes(header, body);
  assert.equal(bytes.length, PREFIX + header.length + body.length);
  assert.equal(bytes.readUInt32BE(0), 2 + header.length + body.length);
  assert.equal(bytes.readUInt16BE(4), header.length);
  assert.deepEqual(bytes.subarray(PREFIX, PREFIX + header.length), header);
  assert.deepEqual(bytes.subarray(PREFIX + header.length), body);
});

test('frames fed one byte at a time decode identically to one whole chunk', () => {
  const frames = sampleFrames();
  const stream = Buffer.concat(frames.map((f) => f.bytes));

  const whole = collector();
  whole.reader.push(stream);
  assert.equal(whole.got.length, frames.length);
  assert.equal(whole.reader.buffered, 0);

  const bytewise = collector();
  for (let i = 0; i < stream.length; i++) {
    bytewise.reader.push(stream.subarray(i, i + 1));
    // nothing complete is ever held back
    assert.ok(bytewise.reader.buffered < stream.length);
  }
  assert.equal(bytewise.reader.buffered, 0);
  assert.deepEqual(bytewise.got, whole.got);
  frames.forEach((f, i) => {
    assert.deepEqual(unpackValue(bytewise.got[i]!.header), f.header);
    assert.deepEqual(bytewise.got[i]!.body, f.body);
  });
});

test('every split point of a two-frame stream into two chunks decodes identically', () => {
  const frames = sampleFrames().slice(0, 3);
  const stream = Buffer.concat(frames.map((f) => f.bytes));
  const expected = frames.map((f) => ({ header: encodeHeader(f.header), body: f.body }));
  for (let cut = 0; cut <= stream.length; cut++) {
    const { reader, got } = collector();
    reader.push(stream.subarray(0, cut));
    reader.push(stream.subarray(cut));
    assert.deepEqual(got, expected, `split at byte ${cut}`);
    assert.equal(reader.buffered, 0, `split at byte ${cut}`);
  }
});

test('several frames in one chunk are all delivered, in order', () => {
  const frames = Array.from({ length: 50 }, (_, i) => encodeFrame({ t: 'send', seq: i + 1, to: 'x', kind: 'k' }, packValue({ i })));
  const { reader, got } = collector();
  reader.push(Buffer.concat(frames));
  assert.equal(got.length, 50);
  got.forEach((g, i) => {
    assert.deepEqual(unpackValue(g.header), { t: 'send', seq: i + 1, to: 'x', kind: 'k' });
    assert.deepEqual(unpackValue(g.body), { i });
  });
});

test('buffered reports the incomplete remainder', () => {
  const a = encodeFrame({ t: 'hb' }, packValue({ a: 1 }));
  const b = encodeFrame({ t: 'ready' }, packValue('0123456789'));
  const { reader, got } = collector();
  assert.equal(reader.buffered, 0);
  reader.push(Buffer.concat([a, b.subarray(0, 3)]));
  assert.equal(got.length, 1);
  assert.equal(reader.buffered, 3, 'less than a prefix is held');
  reader.push(b.subarray(3, b.length - 4));
  assert.equal(got.length, 1);
  assert.equal(reader.buffered, b.length - 4, 'a prefix and part of the frame is held');
  reader.push(b.subarray(b.length - 4));
  assert.equal(got.length, 2);
  assert.equal(reader.buffered, 0);
});

test('a frame announcing more than maxFrame throws ETOOBIG from the 6-byte prefix alone', () => {
  const maxFrame = 1024;
  const { reader, got } = collector(maxFrame);
  const prefix = Buffer.alloc(PREFIX);
  prefix.writeUInt32BE(2 + maxFrame + 1, 0); // header + body of maxFrame + 1 bytes
  prefix.writeUInt16BE(10, 4);
  // the first 5 bytes alone are not yet a prefix
  reader.push(prefix.subarray(0, 5));
  assert.equal(got.length, 0);
  expectFrameError(() => reader.push(prefix.subarray(5)), 'ETOOBIG');
  assert.equal(got.length, 0);

  // the same with a wildly large announcement in one go
  const { reader: r2 } = collector(maxFrame);
  const huge = Buffer.alloc(PREFIX);
  huge.writeUInt32BE(0xffffffff, 0);
  huge.writeUInt16BE(4, 4);
  expectFrameError(() => r2.push(huge), 'ETOOBIG');
});

test('a frame of exactly maxFrame bytes (header + body) is accepted', () => {
  const maxFrame = 256;
  const header = packValue({ t: 'hb' });
  const body = Buffer.alloc(maxFrame - header.length, 0xab);
  const { reader, got } = collector(maxFrame);
  reader.push(frameBytes(header, body));
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.body, body);
  const over = frameBytes(header, Buffer.alloc(body.length + 1));
  expectFrameError(() => collector(maxFrame).reader.push(over), 'ETOOBIG');
});

test('a header length of 0 throws EFRAME', () => {
  const bad = Buffer.alloc(PREFIX + 4);
  bad.writeUInt32BE(2 + 4, 0);
  bad.writeUInt16BE(0, 4);
  expectFrameError(() => collector().reader.push(bad), 'EFRAME');
  // and from the prefix alone
  expectFrameError(() => collector().reader.push(bad.subarray(0, PREFIX)), 'EFRAME');
});

test('a header length larger than the frame throws EFRAME', () => {
  const bad = Buffer.alloc(PREFIX + 4);
  bad.writeUInt32BE(2 + 4, 0);
  bad.writeUInt16BE(5, 4); // 5 > 4 bytes of header + body
  expectFrameError(() => collector().reader.push(bad.subarray(0, PREFIX)), 'EFRAME');
  // a length field smaller than the header-length field itself
  const tiny = Buffer.alloc(PREFIX);
  tiny.writeUInt32BE(1, 0);
  tiny.writeUInt16BE(1, 4);
  expectFrameError(() => collector().reader.push(tiny), 'EFRAME');
  // a header exactly filling the frame (empty body) is fine
  const ok = Buffer.alloc(PREFIX + 4);
  ok.writeUInt32BE(2 + 4, 0);
  ok.writeUInt16BE(4, 4);
  const c = collector();
  c.reader.push(ok);
  assert.equal(c.got.length, 1);
  assert.equal(c.got[0]!.header.length, 4);
  assert.equal(c.got[0]!.body.length, 0);
});

test('a bad frame after good ones in the same chunk: the good ones are delivered first', () => {
  const good = encodeFrame({ t: 'hb' });
  const bad = Buffer.alloc(PREFIX);
  bad.writeUInt32BE(2, 0);
  bad.writeUInt16BE(0, 4);
  const { reader, got } = collector();
  expectFrameError(() => reader.push(Buffer.concat([good, good, bad])), 'EFRAME');
  assert.equal(got.length, 2);
});

test('frameBytes refuses a header over 65535 bytes', () => {
  assert.throws(() => frameBytes(Buffer.alloc(0x10000)), RangeError);
  assert.equal(frameBytes(Buffer.alloc(0xffff)).readUInt16BE(4), 0xffff);
});

test('encodeFrame / packValue / unpackValue round-trip nested bodies', () => {
  for (const body of BODIES) {
    const header = { t: 'send', seq: 7, to: 'a', kind: 'k' };
    const bytes = encodeFrame(header, packValue(body));
    const { reader, got } = collector();
    reader.push(bytes);
    assert.equal(got.length, 1);
    assert.deepEqual(unpackValue(got[0]!.header), header);
    const back = unpackValue(got[0]!.body);
    if (body && typeof body === 'object' && 'bin' in body) {
      const { bin, ...rest } = body as { bin: Buffer };
      const { bin: bin2, ...rest2 } = back as { bin: Uint8Array };
      assert.deepEqual(rest2, rest);
      assert.deepEqual(Buffer.from(bin2), bin);
    } else {
      assert.deepEqual(back, body);
    }
  }
  // plain maps, not records: a header decodes as a plain object
  const h = unpackValue(packValue({ t: 'ack', ids: [1] }));
  assert.equal(Object.getPrototypeOf(h), Object.prototype);
});

test('the body handed to the sink is byte-identical to what was encoded (never re-encoded)', () => {
  // Bytes that a msgpack re-encode would NOT reproduce: a non-minimal encoding
  // (uint32 0xce for the value 1, str8 for a 1-char string, map16 for a 1-entry map),
  // and bytes after the first value. A router that decoded and re-encoded would change them.
  const nonCanonical = Buffer.from([0xde, 0x00, 0x01, 0xd9, 0x01, 0x61, 0xce, 0x00, 0x00, 0x00, 0x01, 0xc0, 0xff, 0x00]);
  const random = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff));
  for (const body of [nonCanonical, random, packValue(BODIES[3])]) {
    const { reader, got } = collector();
    const bytes = encodeFrame({ t: 'send', seq: 1, to: 'b', kind: 'k' }, body);
    for (let i = 0; i < bytes.length; i += 97) reader.push(bytes.subarray(i, i + 97));
    assert.equal(got.length, 1);
    assert.ok(got[0]!.body.equals(body), 'body bytes differ from what was encoded');
  }
});

// ---- agentHeaderSchema --------------------------------------------------------

test('agentHeaderSchema accepts each valid agent frame type', () => {
  const valid: object[] = [
    { t: 'ready' },
    { t: 'hb' },
    { t: 'send', seq: 0, to: 'a', kind: 'k' },
    { t: 'send', seq: 12, to: 'relay', kind: 'note', qos: 'interactive' },
    { t: 'send', seq: 13, to: 'relay', kind: 'ask', qos: 'background', req: true },
    { t: 'reply', corr: 5 },
    { t: 'reply', corr: 5, err: { code: 'EHANDLER', message: 'boom' } },
    { t: 'ack', ids: [1] },
    { t: 'ack', ids: [1, 2, 3, 4] },
  ];
  for (const h of valid) {
    const r = agentHeaderSchema.safeParse(h);
    assert.ok(r.success, `should accept ${JSON.stringify(h)}: ${r.success ? '' : r.error.message}`);
    assert.deepEqual(r.data, h);
  }
});

test('agentHeaderSchema rejects unknown types, forged fields, wrong types, bad seqs, empty acks', () => {
  const invalid: [string, unknown][] = [
    ['unknown t', { t: 'msg', id: 1, from: 'x', kind: 'k', qos: 'user' }],
    ['unknown t (acc)', { t: 'acc', seq: 1 }],
    ['missing t', { seq: 1, to: 'a', kind: 'k' }],
    ['not an object', 'ready'],
    ['null', null],
    ['forged from on send', { t: 'send', seq: 1, to: 'a', kind: 'k', from: 'root' }],
    ['forged id on send', { t: 'send', seq: 1, to: 'a', kind: 'k', id: 99 }],
    ['extra key on ready', { t: 'ready', from: 'x' }],
    ['extra key on hb', { t: 'hb', x: 1 }],
    ['extra key on ack', { t: 'ack', ids: [1], from: 'x' }],
    ['extra key in reply err', { t: 'reply', corr: 1, err: { code: 'EHANDLER', message: 'm', stack: 's' } }],
    ['seq as string', { t: 'send', seq: '1', to: 'a', kind: 'k' }],
    ['negative seq', { t: 'send', seq: -1, to: 'a', kind: 'k' }],
    ['fractional seq', { t: 'send', seq: 1.5, to: 'a', kind: 'k' }],
    ['to as number', { t: 'send', seq: 1, to: 5, kind: 'k' }],
    ['empty to', { t: 'send', seq: 1, to: '', kind: 'k' }],
    ['overlong to', { t: 'send', seq: 1, to: 'a'.repeat(65), kind: 'k' }],
    ['missing kind', { t: 'send', seq: 1, to: 'a' }],
    ['unknown qos', { t: 'send', seq: 1, to: 'a', kind: 'k', qos: 'realtime' }],
    ['req false', { t: 'send', seq: 1, to: 'a', kind: 'k', req: false }],
    ['negative corr', { t: 'reply', corr: -3 }],
    ['unknown error code', { t: 'reply', corr: 1, err: { code: 'EPERM', message: 'm' } }],
    ['empty ack list', { t: 'ack', ids: [] }],
    ['ack ids not a list', { t: 'ack', ids: 1 }],
    ['negative ack id', { t: 'ack', ids: [1, -2] }],
    ['ack id as string', { t: 'ack', ids: ['1'] }],
  ];
  for (const [what, h] of invalid) {
    assert.equal(agentHeaderSchema.safeParse(h).success, false, `should reject: ${what}`);
  }
});

test('FrameWriter: frames written in one tick leave in one write, byte-identical to encodeFrame', async () => {
  const writes: Buffer[] = [];
  const writer = new FrameWriter({ write: (chunk: Buffer) => writes.push(Buffer.from(chunk)) });
  const frames = Array.from({ length: 300 }, (_, i) => ({ header: { t: 'send', seq: i + 1, to: 'x', kind: 'k' }, body: packValue({ i, pad: 'y'.repeat(i) }) }));
  for (const f of frames) writer.write(f.header, f.body);
  assert.equal(writes.length, 0, 'nothing leaves before the tick ends');
  assert.ok(writer.pending > 0);
  await new Promise((r) => process.nextTick(r));
  assert.equal(writes.length, 1, 'one write for the whole burst');
  assert.equal(writer.pending, 0);
  assert.deepEqual(writes[0], Buffer.concat(frames.map((f) => encodeFrame(f.header, f.body))));
  writer.write({ t: 'hb' });
  writer.flush();
  assert.equal(writes.length, 2, 'flush() hands over at once');
  assert.deepEqual(writes[1], encodeFrame({ t: 'hb' }));
});

test('FrameReader: a large frame arriving in many chunks is reassembled byte for byte', () => {
  const got: Buffer[] = [];
  const reader = new FrameReader(8 << 20, { frame: (_h, b) => got.push(Buffer.from(b)) });
  const body = Buffer.alloc(5 << 20);
  for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
  const bytes = Buffer.concat([encodeFrame({ t: 'hb' }, body), encodeFrame({ t: 'ready' }, packValue(7))]);
  const step = 65536 - 3; // chunk edges fall everywhere, prefix included
  for (let off = 0; off < bytes.length; off += step) {
    reader.push(bytes.subarray(off, off + step));
    if (got.length === 0) assert.equal(reader.buffered, Math.min(off + step, bytes.length), 'buffered counts what has arrived');
  }
  assert.equal(got.length, 2);
  assert.ok(got[0]!.equals(body));
  assert.equal(unpackValue(got[1]!), 7);
  assert.equal(reader.buffered, 0);
});

test('FrameWriter: a delivered message\'s header (written key by key) decodes to what was written, with and without its flags', async () => {
  const headers = [
    { t: 'msg', id: 1, from: 'a', kind: 'k', qos: 'user' },
    { t: 'msg', id: 2 ** 32 + 5, from: 'producer-ü', kind: 'x'.repeat(128), qos: 'background', req: true },
    { t: 'msg', id: 70000, from: 'b', kind: 'k', qos: 'interactive', req: true, redelivered: true },
    { t: 'msg', id: 3, from: 'b', kind: 'k', qos: 'utility', redelivered: true },
  ];
  const got: { header: unknown; body: Buffer }[] = [];
  const reader = new FrameReader(1 << 20, { frame: (h, b) => got.push({ header: unpackValue(h), body: Buffer.from(b) }) });
  const writer = new FrameWriter({ write: (chunk: Buffer) => reader.push(chunk) });
  headers.forEach((h, i) => writer.write(h, packValue({ i })));
  writer.flush();
  assert.deepEqual(got.map((g) => g.header), headers);
  assert.deepEqual(got.map((g) => unpackValue(g.body)), headers.map((_, i) => ({ i })));
});
