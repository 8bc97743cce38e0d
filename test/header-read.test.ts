// The supervisor's fast header reader (protocol/header-read.ts) against the schema it
// stands in for: whatever it returns, agentHeaderSchema returns too, and whatever the
// schema refuses, it leaves to the schema (undefined). Valid headers of every type,
// the schema's own refusals, and seeded byte-level mutations of both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packValue, unpackValue, FrameWriter, FrameReader } from '../protocol/frame.js';
import { agentHeaderSchema } from '../protocol/header.js';
import { AgentHeaderReader } from '../protocol/header-read.js';
import { seededRng } from './helpers/rng.js';

const VALID: object[] = [
  { t: 'ready' },
  { t: 'hb' },
  { t: 'send', seq: 0, to: 'a', kind: 'k' },
  { t: 'send', seq: 12, to: 'relay', kind: 'note', qos: 'interactive' },
  { t: 'send', seq: 70000, to: 'relay', kind: 'ask', qos: 'background', req: true },
  { t: 'send', seq: 4294967295, to: 'x'.repeat(64), kind: 'k'.repeat(128), qos: 'utility' },
  { t: 'send', kind: 'k', to: 'a', seq: 3, qos: 'user' },
  { t: 'send', seq: 5, to: 'echo', kind: 'ask', req: true, timeout: 30000 },
  { t: 'send', seq: 6, to: 'echo', kind: 'ask', qos: 'interactive', req: true, timeout: 2147483647 },
  { t: 'reply', corr: 5 },
  { t: 'reply', corr: 1796229606849001 },
  { t: 'ack', ids: [1796229606849003, 4294967296, Number.MAX_SAFE_INTEGER] },
  { t: 'send', seq: 2 ** 40, to: 'a', kind: 'k' },
  { t: 'ckpt', seq: 9 },
  { t: 'ack', ids: [1] },
  { t: 'ack', ids: Array.from({ length: 300 }, (_, i) => i * 1000) },
];

const INVALID: unknown[] = [
  { t: 'msg', id: 1, from: 'x', kind: 'k', qos: 'user' },
  { seq: 1, to: 'a', kind: 'k' },
  { t: 'send', seq: 1, to: 'a', kind: 'k', from: 'root' },
  { t: 'ready', from: 'x' },
  { t: 'send', seq: -1, to: 'a', kind: 'k' },
  { t: 'send', seq: 1.5, to: 'a', kind: 'k' },
  { t: 'send', seq: 1, to: '', kind: 'k' },
  { t: 'send', seq: 1, to: 'a'.repeat(65), kind: 'k' },
  { t: 'send', seq: 1, to: 'a', kind: 'k'.repeat(129) },
  { t: 'send', seq: 1, to: 'a' },
  { t: 'send', seq: 1, to: 'a', kind: 'k', qos: 'realtime' },
  { t: 'send', seq: 1, to: 'a', kind: 'k', req: false },
  { t: 'send', seq: 1, to: 'a', kind: 'k', req: true, timeout: 0 },
  { t: 'send', seq: 1, to: 'a', kind: 'k', req: true, timeout: -5 },
  { t: 'send', seq: 1, to: 'a', kind: 'k', req: true, timeout: 1.5 },
  { t: 'send', seq: 1, to: 'a', kind: 'k', req: true, timeout: 2147483648 },
  { t: 'reply', corr: -3 },
  { t: 'reply', corr: 2 ** 53 },
  { t: 'reply', corr: 1e300 },
  { t: 'ack', ids: [1796229606849003.5] },
  { t: 'ack', ids: [-1796229606849003] },
  { t: 'ack', ids: [] },
  { t: 'ack', ids: [1, -2] },
  { t: 'ack', ids: ['1'] },
  { t: 'ckpt', seq: 1, to: 'a' },
  'ready',
  null,
];

/** What the schema makes of these bytes: the parsed header, or undefined when it (or msgpack) refuses them. */
function bySchema(bytes: Buffer): unknown {
  let decoded: unknown;
  try { decoded = unpackValue(bytes); } catch { return undefined; }
  const r = agentHeaderSchema.safeParse(decoded);
  return r.success ? r.data : undefined;
}

/** Encoded both ways a header arrives: msgpackr (any client), and the SDK's FrameWriter. */
function encodings(h: unknown): Buffer[] {
  const out = [packValue(h)];
  if (h !== null && typeof h === 'object') {
    let got: Buffer | undefined;
    const reader = new FrameReader(1 << 20, { frame: (header) => (got = Buffer.from(header)) });
    const writer = new FrameWriter({ write: (chunk: Buffer) => reader.push(chunk) });
    writer.write(h);
    writer.flush();
    out.push(got!);
  }
  return out;
}

test('every valid header reads fast, to exactly what the schema parses', () => {
  const reader = new AgentHeaderReader();
  for (const h of VALID) {
    for (const bytes of encodings(h)) {
      const fast = reader.read(bytes);
      assert.ok(fast, `the fast path should take ${JSON.stringify(h)}`);
      assert.deepEqual(fast, bySchema(bytes));
    }
  }
});

test('whatever the schema refuses, the fast path leaves to it', () => {
  const reader = new AgentHeaderReader();
  for (const h of INVALID) {
    for (const bytes of encodings(h)) {
      assert.equal(bySchema(bytes), undefined, `the schema should refuse ${JSON.stringify(h)}`);
      assert.equal(reader.read(bytes), undefined, `the fast path took ${JSON.stringify(h)}`);
    }
  }
});

test('mutated headers: the fast path never accepts what the schema refuses, nor reads differently', (t) => {
  const random = seededRng(t);
  const reader = new AgentHeaderReader();
  let fastTaken = 0;
  let schemaTaken = 0;
  const sources = [...VALID, ...INVALID.filter((h) => h !== null && typeof h === 'object')].flatMap(encodings);
  for (let i = 0; i < 20000; i++) {
    const bytes = Buffer.from(sources[Math.floor(random() * sources.length)]!);
    const edits = 1 + Math.floor(random() * 3);
    for (let e = 0; e < edits; e++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    const cut = random() < 0.2 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes;
    const fast = reader.read(cut);
    const schema = bySchema(cut);
    if (schema !== undefined) schemaTaken++;
    if (fast === undefined) continue;
    fastTaken++;
    assert.deepEqual(fast, schema, `mutated ${cut.toString('hex')}`);
  }
  t.diagnostic(`of 20000 mutations the schema took ${schemaTaken}, the fast path ${fastTaken}`);
  assert.ok(fastTaken > 0, 'some mutations stay valid and are read fast');
});

test('a stream to one target and kind reads them as the same strings, not new ones', () => {
  const reader = new AgentHeaderReader();
  const a = reader.read(packValue({ t: 'send', seq: 1, to: 'consumer', kind: 'm' })) as { to: string; kind: string };
  const b = reader.read(packValue({ t: 'send', seq: 2, to: 'consumer', kind: 'm' })) as { to: string; kind: string };
  const c = reader.read(packValue({ t: 'send', seq: 3, to: 'consumes', kind: 'm' })) as { to: string; kind: string };
  assert.equal(a.to, 'consumer');
  assert.equal(c.to, 'consumes', 'a changed byte is a new string');
  assert.equal(b.kind, 'm');
});

test('the reader holds no reference to the bytes it read (an idle link pins no read chunk)', () => {
  const reader = new AgentHeaderReader();
  const chunk = packValue({ t: 'send', seq: 1, to: 'consumer', kind: 'm' });
  reader.read(chunk);
  const held = Object.values(reader).flatMap((v) => (v && typeof v === 'object' ? Object.values(v) : [v]));
  assert.ok(!held.includes(chunk), 'the chunk is not kept');
});
