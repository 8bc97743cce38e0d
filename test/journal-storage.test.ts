// Journal storage layer on real files: framing, segments, group commit,
// torn-tail and mid-journal damage recovery, a full disk.
// (Long because framing, rolling and recovery share the segment fixtures.)
import { test } from 'node:test';
import { execFileSync, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { fsync as fsyncCb, mkdtempSync, readdirSync, statSync, readFileSync, writeFileSync, rmSync, existsSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeRecords, encodeRecord, RecordBatch, type JournalRecord } from '../logs/journal/record.js';
import { listSegments, segmentName, parseSegmentName } from '../logs/journal/segment.js';
import { JournalWriter } from '../logs/journal/writer.js';
import { readRecords, recover } from '../logs/journal/recover.js';
import { Journal } from '../logs/journal/journal.js';
import { seededRng } from './helpers/rng.js';
import { fullDisk } from './helpers/full-disk.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'outheis-journal-'));
const jdir = (root: string): string => join(root, 'journal');
const realFsync = promisify(fsyncCb);

async function all(dir: string, fromSeq?: number): Promise<JournalRecord[]> {
  const out: JournalRecord[] = [];
  for await (const r of readRecords(dir, fromSeq)) out.push(r);
  return out;
}

const PAD = 'x'.repeat(40); // ~100-byte records

test('record framing round-trips and segment names sort', () => {
  const rec: JournalRecord = { seq: 7, at: 123, type: 'accept', agent: 'a', body: { k: [1, 2] } };
  const bytes = encodeRecord(rec);
  assert.equal(bytes.readUInt32BE(0), bytes.length - 8);
  assert.deepEqual(decodeRecords(Buffer.concat([bytes, bytes])), [rec, rec]);
  assert.equal(segmentName(255), '00000000000000ff.seg');
  assert.equal(parseSegmentName('00000000000000ff.seg'), 255);
  assert.equal(parseSegmentName('ff.seg'), undefined);
});

test('many records round-trip across several segments, seq continues after reopen', async () => {
  const root = tmp();
  try {
    const dir = jdir(root);
    let w = await JournalWriter.open(dir, { fsync: 'none', segmentBytes: 8 * 1024 });
    const seqs: number[] = [];
    for (let c = 0; c < 3000; c += 50) seqs.push(...await Promise.all(Array.from({ length: 50 }, (_, k) => w.append({ type: 'accept', agent: `a${(c + k) % 5}`, i: c + k, pad: PAD }))));
    assert.deepEqual(seqs, Array.from({ length: 3000 }, (_, i) => i + 1));
    for (let i = 3000; i < 3500; i++) await w.append({ type: 'ack', i });
    await w.close();
    const segs = await listSegments(dir);
    assert.ok(segs.length > 5, `${segs.length} segments`);
    for (const s of segs.slice(0, -1)) assert.ok(statSync(s.path).size <= 8 * 1024 + 50 * 120);
    // Each segment is named after its first record.
    for (const s of segs) {
      const first = decodeRecords(readFileSync(s.path))[0]!;
      assert.equal(first.seq, s.firstSeq);
    }
    const recs = await all(dir);
    assert.equal(recs.length, 3500);
    recs.forEach((r, i) => { assert.equal(r.seq, i + 1); assert.equal(r.i, i); });
    assert.equal((await all(dir, 3201)).length, 300);
    w = await JournalWriter.open(dir, { fsync: 'batch', segmentBytes: 8 * 1024 });
    assert.equal(w.recovery.records, 3500);
    assert.equal(w.recovery.lastSeq, 3500);
    assert.equal(await w.append({ type: 'spawn', agent: 'x' }), 3501);
    await w.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('batch: 1000 concurrent appends share far fewer fsyncs', async () => {
  const root = tmp();
  try {
    let calls = 0;
    const w = await JournalWriter.open(jdir(root), {
      fsync: 'batch',
      // A slow disk (2 ms a sync) is the condition under test, not a wait: appends arrive while a commit is in flight.
      fsyncFn: async (fd) => { calls++; await new Promise((r) => setTimeout(r, 2)); await realFsync(fd); },
    });
    // 1000 appends arriving in 10 bursts while commits are in flight.
    const ps: Promise<number>[] = [];
    for (let b = 0; b < 10; b++) {
      for (let i = 0; i < 100; i++) ps.push(w.append({ type: 'accept', i: b * 100 + i }));
      await new Promise((r) => setImmediate(r));
    }
    const seqs = await Promise.all(ps);
    assert.deepEqual(seqs, Array.from({ length: 1000 }, (_, i) => i + 1));
    assert.equal(w.stats.fsyncs, calls);
    assert.ok(calls <= 20, `${calls} fsyncs for 1000 appends`);
    await w.close();
    assert.equal((await all(jdir(root))).length, 1000);
    // 'always' is one fsync per append.
    const w2 = await JournalWriter.open(jdir(root), { fsync: 'always' });
    const before = w2.stats.fsyncs;
    await Promise.all(Array.from({ length: 50 }, () => w2.append({ type: 'ack' })));
    assert.equal(w2.stats.fsyncs - before, 50);
    await w2.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('torn tail at random offsets: complete records kept, next append continues seq', async (t) => {
  const random = seededRng(t);
  const root = tmp();
  try {
    const dir = jdir(root);
    const w = await JournalWriter.open(dir, { fsync: 'none', segmentBytes: 16 * 1024 });
    await Promise.all(Array.from({ length: 1000 }, (_, i) => w.append({ type: 'deliver', i, pad: PAD })));
    await w.close();
    const segs = await listSegments(dir);
    const last = segs[segs.length - 1]!;
    const pristine = readFileSync(last.path);
    const frames = decodeRecords(pristine);
    // Record end offsets in the last segment.
    const ends: number[] = [];
    { let off = 0; for (const r of frames) { off += encodeRecord(r).length; ends.push(off); } }
    assert.equal(ends[ends.length - 1], pristine.length);
    const offsets = [1, 7, 8, 9, pristine.length - 1, ...Array.from({ length: 15 }, () => 1 + Math.floor(random() * (pristine.length - 1)))];
    for (const cut of offsets) {
      writeFileSync(last.path, pristine.subarray(0, cut));
      const completeInLast = ends.filter((e) => e <= cut).length;
      const expectedLast = last.firstSeq - 1 + completeInLast;
      const w2 = await JournalWriter.open(dir, { fsync: 'batch', segmentBytes: 16 * 1024 });
      const rep = w2.recovery;
      assert.deepEqual(rep.movedAside, [], `cut ${cut}`);
      assert.equal(rep.lastSeq, expectedLast, `cut ${cut}`);
      assert.equal(rep.truncatedBytes, cut - (ends.filter((e) => e <= cut).pop() ?? 0), `cut ${cut}`);
      assert.equal(await w2.append({ type: 'ack', after: cut }), expectedLast + 1);
      await w2.close();
      const recs = await all(dir);
      assert.equal(recs.length, expectedLast + 1);
      recs.forEach((r, i) => assert.equal(r.seq, i + 1));
      // Start the next round from the pristine state (drop any segment the writer may have made).
      for (const s of await listSegments(dir)) if (s.firstSeq > last.firstSeq) rmSync(s.path);
    }
    writeFileSync(last.path, pristine);
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('flipped byte in a middle segment is moved aside, later segments still read', async () => {
  const root = tmp();
  try {
    const dir = jdir(root);
    const w = await JournalWriter.open(dir, { fsync: 'none', segmentBytes: 8 * 1024 });
    for (let c = 0; c < 600; c += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => w.append({ type: 'accept', i: c + k, pad: PAD })));
    await w.close();
    const segs = await listSegments(dir);
    assert.ok(segs.length >= 4);
    const mid = segs[1]!;
    const buf = readFileSync(mid.path);
    const recsInMid = decodeRecords(buf);
    // Flip a byte inside the payload of the 3rd record of the middle segment.
    let off = 0;
    for (let k = 0; k < 2; k++) off += encodeRecord(recsInMid[k]!).length;
    const badOffset = off;
    buf[off + 8 + 5] = buf[off + 8 + 5]! ^ 0xff;
    writeFileSync(mid.path, buf);

    const rep = await recover(dir);
    assert.equal(rep.movedAside.length, 1);
    const moved = rep.movedAside[0]!;
    assert.equal(moved.file, mid.path);
    assert.equal(moved.offset, badOffset);
    assert.equal(moved.to, join(dir, 'damaged', `${mid.name}.${badOffset}`));
    assert.ok(existsSync(moved.to));
    assert.equal(readFileSync(moved.to).length, buf.length - badOffset);
    assert.equal(statSync(mid.path).size, badOffset);
    assert.equal(moved.recordsInside, recsInMid.length - 3);
    assert.equal(rep.lastSeq, 600);
    const recs = await all(dir);
    const seqs = new Set(recs.map((r) => r.seq));
    assert.ok(seqs.has(mid.firstSeq + 1) && !seqs.has(mid.firstSeq + 2));
    for (let s = segs[2]!.firstSeq; s <= 600; s++) assert.ok(seqs.has(s), `seq ${s} after the damage`);
    assert.equal(recs.length, 600 - recsInMid.length + 2);
    // A second recovery finds nothing more to do; appends continue after 600.
    const w2 = await JournalWriter.open(dir, { fsync: 'batch', segmentBytes: 8 * 1024 });
    assert.deepEqual(w2.recovery.movedAside, []);
    assert.equal(w2.recovery.truncatedBytes, 0);
    assert.equal(await w2.append({ type: 'ack' }), 601);
    await w2.close();
    assert.deepEqual(readdirSync(join(dir, 'damaged')), [`${mid.name}.${badOffset}`]);
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('full disk: the append rejects naming ENOSPC', async () => {
  const root = tmp();
  const disk = fullDisk(jdir(root));
  try {
    const dir = jdir(root);
    const w = await JournalWriter.open(dir, { fsync: 'batch' });
    await assert.rejects(w.append({ type: 'accept', agent: 'a' }), (err: Error) => {
      assert.match(err.message, /^journal write failed: ENOSPC/);
      return true;
    });
    assert.equal(w.lastSeq, 0);
    await w.close();
  } finally { disk.unmount(); rmSync(root, { recursive: true, force: true }); }
});

test('a new segment that cannot be created refuses that group only: the tail stays open, and the next roll works', async () => {
  assert.equal(process.getuid!(), 0, 'this test makes the journal directory immutable (chattr +i): it needs root (CI runs as root)');
  const root = tmp();
  const dir = jdir(root);
  try {
    const w = await JournalWriter.open(dir, { fsync: 'batch', segmentBytes: 4096 });
    for (let i = 1; i <= 30; i++) assert.equal(await w.append({ type: 'ack', i, pad: PAD }), i);
    // No new entries in the directory: the roll the next append needs fails.
    execFileSync('chattr', ['+i', dir]);
    let refused = 0;
    for (let i = 0; i < 40; i++) await w.append({ type: 'ack', big: 'y'.repeat(400) }).catch(() => refused++);
    assert.ok(refused > 0, 'a roll was needed and refused');
    execFileSync('chattr', ['-i', dir]);
    const next = await w.append({ type: 'ack', after: true });
    await w.close();
    const recs = await all(dir);
    assert.equal(recs[recs.length - 1]!.seq, next);
    assert.equal(recs[recs.length - 1]!.after, true);
    assert.deepEqual(recs.map((r) => r.seq), Array.from({ length: recs.length }, (_, k) => k + 1), 'refused groups took no seqs');
  } finally {
    spawnSync('chattr', ['-i', dir]);
    rmSync(root, { recursive: true, force: true });
  }
});

test('a failed write truncates back: acknowledged records survive', async () => {
  const root = tmp();
  try {
    const dir = jdir(root);
    let failNext = false;
    const w = await JournalWriter.open(dir, {
      fsync: 'batch',
      fsyncFn: async (fd) => { if (failNext) { failNext = false; throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }); } await realFsync(fd); },
    });
    await Promise.all(Array.from({ length: 10 }, (_, i) => w.append({ type: 'accept', i })));
    const size = w.tail.size;
    failNext = true;
    const failed = await Promise.allSettled(Array.from({ length: 5 }, () => w.append({ type: 'accept' })));
    assert.ok(failed.every((r) => r.status === 'rejected' && /journal write failed: EIO/.test(String(r.reason.message))));
    assert.equal(statSync(w.tail.path).size, size);
    assert.equal(await w.append({ type: 'ack' }), 11);
    await w.close();
    assert.deepEqual((await all(dir)).map((r) => r.seq), Array.from({ length: 11 }, (_, i) => i + 1));
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('records are encoded as plain msgpack: random flat records decode to what was written, nested values too', (t) => {
  const random = seededRng(t);
  const rnd = (n: number) => Math.floor(random() * n);
  const values = (): unknown[] => [
    rnd(128), rnd(256) + 128, rnd(65536), rnd(2 ** 32), 2 ** 32 + rnd(2 ** 20), Date.now(), -rnd(2 ** 31) - 1, random() * 1e6,
    'a'.repeat(rnd(40)), 'é€'.repeat(rnd(200)), 'x'.repeat(70_000), true, false, null,
    Buffer.from(Array.from({ length: rnd(300) }, () => rnd(256))), Buffer.alloc(70_000, 7),
    Array.from({ length: rnd(40) }, () => rnd(2 ** 31)), { nested: [1, { deep: 'yes' }] },
  ];
  const batch = new RecordBatch(16);
  const expected: JournalRecord[] = [];
  for (let i = 1; i <= 300; i++) {
    const rec: Record<string, unknown> = { type: 'accept' };
    const pool = values();
    for (let k = 0; k < rnd(20); k++) rec[`k${k}`] = pool[rnd(pool.length)];
    rec.skipped = undefined; // undefined keys are left out, as msgpackr's maps leave them
    const at = Date.now() + i;
    batch.add(rec, i, at);
    const { skipped: _s, ...kept } = rec;
    expected.push({ ...kept, seq: i, at } as JournalRecord);
  }
  assert.equal(batch.count, 300);
  const back = decodeRecords(batch.bytes());
  assert.equal(back.length, 300);
  back.forEach((r, i) => assert.deepEqual({ ...r }, expected[i]));
});

test('Journal.sweep: over max_size, settled segments go first, then a mostly settled segment has its live records carried forward and goes; a mostly live one stays; settled ones go once old', async () => {
  const root = tmp();
  try {
    const dir = jdir(root);
    // Written under a larger bound (max_size now refuses writes past it), then opened under 128 KiB.
    const opts = { fsync: 'none' as const, segmentBytes: 64 * 1024, retainMs: 3600_000 };
    let j = await Journal.open(dir, { ...opts, maxBytes: 1 << 30 });
    const body = Buffer.alloc(260, 1);
    let id = 0;
    // One group of 50 accept records (~15 KB), pinning `live` of them where it lands.
    const group = (live: number) => new Promise<number>((resolve, reject) => {
      const recs = Array.from({ length: 50 }, () => ({ type: 'accept' as const, id: ++id, from: 'a', to: 'b', kind: 'k', qos: 'user' as const, body }));
      j.stage(recs, live, (err, segment) => (err ? reject(err) : resolve(segment)));
    });
    const landed: number[] = [];
    while (new Set(landed).size < 5) landed.push(await group(50));
    const [a, b, c, d, tail] = [...new Set(landed)] as [number, number, number, number, number];
    await j.close();
    j = await Journal.open(dir, { ...opts, maxBytes: 128 * 1024 });
    // Segments a and d: all their messages still owed. Segment b: all but 3 acked. c and the tail: all acked.
    const settle = (segment: number, keep: number) => {
      const pinned = 50 * landed.filter((s) => s === segment).length;
      for (let k = 0; k < pinned - keep; k++) j.release(segment);
    };
    settle(b, 3);
    settle(c, 0);
    settle(tail, 0);
    assert.deepEqual([j.pinned(b), j.pinned(c), j.pinned(tail)], [3, 0, 0]);
    assert.ok(j.pinned(a) >= 150);
    const asked: number[] = [];
    let movedTo = -1;
    await j.sweep({
      live(segment) {
        asked.push(segment);
        const records = [1, 2, 3].map((n) => ({ type: 'accept' as const, id: n, from: 'a', to: 'b', kind: 'k', qos: 'user' as const, body }));
        return { records, moved: (to: number) => (movedTo = to) };
      },
    });
    assert.deepEqual(asked, [b], 'the oldest segment, mostly live, is not copied; the mostly settled one after it is');
    const left = (await listSegments(dir)).map((s) => s.firstSeq);
    // The settled c goes first (it needs no copies), young as it is; still over max_size, b goes with its 3 live records
    // carried; that is enough to be under max_size, so d, as live as a, is not even looked at.
    assert.deepEqual(left, [a, d, tail], 'c (settled) and b (carried) are removed; a and d (live) stay');
    assert.equal(movedTo, j.writer.tailSegment);
    assert.equal(j.pinned(movedTo), 3);
    const carried = (await all(dir)).filter((r) => r.carried !== undefined);
    assert.deepEqual(carried.map((r) => [r.id, r.carried]), [[1, b], [2, b], [3, b]]);
    // Settled and older than retain: a goes too, size or not; d, as young, stays.
    settle(a, 0);
    const past = new Date(Date.now() - 2 * 3600_000);
    utimesSync(join(dir, segmentName(a)), past, past);
    await j.sweep({ live: () => assert.fail('nothing is pinned') });
    assert.deepEqual((await listSegments(dir)).map((s) => s.firstSeq), [d, tail]);
    await j.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
