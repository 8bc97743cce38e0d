// The journal writer's urgent lane (issue 13, admission by class): an interactive or
// user send queued behind a flood's backlog commits next, in a group of its own, and
// the backlog goes as groups of at most MAX_GROUP_RECORDS, so the commit an urgent
// append waits out is a short one. Order, not time: a gated fsync holds the first
// commit in flight while the backlog and the urgent appends queue up behind it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fsync as fsyncCb, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { JournalWriter, MAX_GROUP_RECORDS, type CommitCallback } from '../logs/journal/writer.js';
import { readRecords } from '../logs/journal/recover.js';

const realFsync = promisify(fsyncCb);

/** A writer whose first fsync waits for `release`: appends made meanwhile queue behind the commit in flight. */
async function gated(dir: string) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let inFlight!: () => void;
  const started = new Promise<void>((r) => (inFlight = r));
  let first = true;
  const w = await JournalWriter.open(dir, {
    fsync: 'batch',
    fsyncFn: async (fd) => {
      if (first) { first = false; inFlight(); await gate; }
      await realFsync(fd);
    },
  });
  return { w, release, started };
}

const settle = (w: JournalWriter, rec: { type: string; n: number }, urgent = false): Promise<number> =>
  new Promise((resolve, reject) => {
    const done: CommitCallback = (err, at) => (err ? reject(err) : resolve(at!.firstSeq));
    w.enqueue([rec], done, urgent);
  });

test('urgent appends queued behind a backlog commit right after the group in flight, in their order; the backlog in capped groups', async () => {
  const root = mkdtempSync(join(tmpdir(), 'outheis-urgent-'));
  try {
    const { w, release, started } = await gated(join(root, 'journal'));
    const head = settle(w, { type: 'accept', n: -1 });
    await started; // the first commit is in flight, held at its fsync
    const backlog = Array.from({ length: 2000 }, (_, n) => settle(w, { type: 'accept', n }));
    const urgent = [0, 1, 2].map((n) => settle(w, { type: 'accept', n: 10_000 + n }, true));
    const commitsBefore = w.stats.commits;
    release();
    const headSeq = await head;
    const u = await Promise.all(urgent);
    const b = await Promise.all(backlog);
    assert.deepEqual(u, [headSeq + 1, headSeq + 2, headSeq + 3], 'the urgent ones next, together, in order');
    assert.deepEqual(b, Array.from({ length: 2000 }, (_, i) => headSeq + 4 + i), 'then the backlog, in its order');
    // 1 urgent group, then the backlog in groups of at most the cap.
    assert.equal(w.stats.commits - commitsBefore, 1 + Math.ceil(2000 / MAX_GROUP_RECORDS));
    await w.close();
    const seen: number[] = [];
    for await (const r of readRecords(join(root, 'journal'))) seen.push((r as unknown as { n: number }).n);
    assert.deepEqual(seen.slice(0, 4), [-1, 10_000, 10_001, 10_002], 'on disk as acknowledged');
    assert.equal(seen.length, 2004);
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('an urgent append does not pass a queued task (retention runs between commits, in its turn)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'outheis-urgent-'));
  try {
    const { w, release, started } = await gated(join(root, 'journal'));
    const order: string[] = [];
    const head = settle(w, { type: 'accept', n: 0 }).then(() => order.push('head'));
    await started;
    const before = settle(w, { type: 'accept', n: 1 }).then(() => order.push('before-task'));
    const task = w.exclusive(async () => { order.push('task'); });
    const urgent = settle(w, { type: 'accept', n: 2 }, true).then(() => order.push('urgent'));
    release();
    await Promise.all([head, before, task, urgent]);
    assert.deepEqual(order, ['head', 'before-task', 'task', 'urgent']);
    await w.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});
