// Lazy records (the router's deliver and ack: losing the last few to a crash costs a
// redelivery, nothing more) need no fsync of their own under `batch`: a group made
// only of them is written, and fsynced by the next group that needs it, a roll, or
// close. Counted with a counting fsync, never timed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fsync as fsyncCb } from 'node:fs';
import { promisify } from 'node:util';
import { JournalWriter, type FsyncPolicy } from '../logs/journal/writer.js';
import { readRecords } from '../logs/journal/recover.js';
import { scratchDirs } from './helpers/scratch.js';

const realFsync = promisify(fsyncCb);
const scratch = scratchDirs('outheis-lazy-');

async function counted(policy: FsyncPolicy) {
  const dir = scratch();
  let fsyncs = 0;
  const w = await JournalWriter.open(dir, { fsync: policy, fsyncFn: async (fd) => { fsyncs++; await realFsync(fd); } });
  const put = (lazy: boolean) => new Promise<void>((resolve, reject) =>
    w.enqueue([{ type: 'ack', agent: 'a', ids: [1] }], (err) => (err ? reject(err) : resolve()), false, lazy));
  return { dir, w, put, fsyncs: () => fsyncs };
}

test('batch: a group of lazy records is written without an fsync; the next group that needs one fsyncs them too', async () => {
  const { dir, w, put, fsyncs } = await counted('batch');
  await put(true);
  await put(true);
  assert.equal(fsyncs(), 0, 'lazy groups fsync nothing');
  assert.equal(w.stats.writes, 2, 'but each was written');
  await put(false);
  assert.equal(fsyncs(), 1, 'a non-lazy group fsyncs (the file, lazy records before it included)');
  await put(true);
  await w.close();
  assert.equal(fsyncs(), 2, 'close fsyncs what a lazy group left unsynced');
  let n = 0;
  for await (const _ of readRecords(dir)) n++;
  assert.equal(n, 4, 'every record is in the journal');
});

test('batch: a group that mixes lazy and non-lazy entries is fsynced', async () => {
  const { w, fsyncs } = await counted('batch');
  await new Promise<void>((resolve) => {
    let left = 2;
    const done = () => { if (--left === 0) resolve(); };
    w.enqueue([{ type: 'ack', agent: 'a', ids: [1] }], done, false, true);
    w.enqueue([{ type: 'spawn', agent: 'a', pid: 1 }], done, false, false);
  });
  assert.equal(w.stats.commits, 1, 'one group');
  assert.equal(fsyncs(), 1);
  await w.close();
});

test('always: lazy records are fsynced like any other', async () => {
  const { w, put, fsyncs } = await counted('always');
  await put(true);
  assert.equal(fsyncs(), 1);
  await w.close();
});
