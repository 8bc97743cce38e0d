// RotatingFile on a real filesystem: rotation keeps exactly keep+1 files, each at
// most maxSize, holding the newest records whole and in order; a restart appends and
// counts the existing bytes; a full disk (a filled tmpfs), a blocked or deleted directory
// and a full queue drop data, count it and report once, without ever throwing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RotatingFile, rotatedPaths } from '../logs/rotating-file.js';
import { scratchDirs } from './helpers/scratch.js';
import { fullDisk } from './helpers/full-disk.js';

const tmp = scratchDirs('outheis-rotating-');

/** Records of varying length, each a whole line. */
const record = (i: number): string => `{"seq":${i},"pad":"${'x'.repeat((i * 7) % 41)}"}\n`;

/** The kept files, oldest first, as they are on disk (missing ones left out). */
const readKept = (path: string, keep: number): string[] => rotatedPaths(path, keep).filter((p) => existsSync(p)).map((p) => readFileSync(p, 'utf8'));

test('rotatedPaths lists the oldest kept file first and the current file last', () => {
  assert.deepEqual(rotatedPaths('/l/x.log', 3), ['/l/x.log.3', '/l/x.log.2', '/l/x.log.1', '/l/x.log']);
  assert.deepEqual(rotatedPaths('/l/x.log', 0), ['/l/x.log']);
});

test('many writes over several maxSize: keep+1 files, each <= maxSize, holding the newest records whole and in order', async () => {
  const dir = join(tmp(), 'logs'); // missing: the writer creates it
  const path = join(dir, 'notes.log');
  const maxSize = 1000;
  const keep = 3;
  const file = new RotatingFile(path, { maxSize, keep });
  const all: string[] = [];
  for (let i = 0; i < 600; i++) {
    all.push(record(i));
    assert.equal(file.write(record(i)), true);
    // Mix synchronous bursts (coalesced writes) with writes one at a time.
    if (i % 50 === 0) await file.flush();
  }
  await file.close();

  assert.deepEqual(readdirSync(dir).sort(), ['notes.log', 'notes.log.1', 'notes.log.2', 'notes.log.3']);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  for (const p of rotatedPaths(path, keep)) {
    assert.ok(statSync(p).size <= maxSize, `${p} is ${statSync(p).size} bytes, over ${maxSize}`);
    assert.equal(statSync(p).mode & 0o777, 0o600);
  }
  const files = readKept(path, keep);
  const kept = files.join('');
  const expected = all.slice(all.length - kept.split('\n').length + 1).join('');
  assert.equal(kept, expected, 'the kept files are exactly the newest records, in order');
  // Each rotated file was rotated only because the next record did not fit: nothing wasted.
  for (let k = 0; k < files.length - 1; k++) {
    const nextRecord = files[k + 1]!.slice(0, files[k + 1]!.indexOf('\n') + 1);
    assert.ok(Buffer.byteLength(files[k]!) + Buffer.byteLength(nextRecord) > maxSize, `file ${k} rotated before it was full`);
  }
  assert.equal(file.droppedBytes, 0);
});

test('a record larger than maxSize fills a file alone', async () => {
  const path = join(tmp(), 'big.log');
  const file = new RotatingFile(path, { maxSize: 100, keep: 5 });
  const big = `${'B'.repeat(250)}\n`;
  file.write('small one\n');
  file.write(big);
  file.write('small two\n');
  await file.close();
  assert.deepEqual(readKept(path, 5), ['small one\n', big, 'small two\n']);
});

test('keep = 0 replaces the current file instead of keeping rotated ones', async () => {
  const dir = tmp();
  const path = join(dir, 'only.log');
  const file = new RotatingFile(path, { maxSize: 200, keep: 0 });
  const all: string[] = [];
  for (let i = 0; i < 100; i++) {
    all.push(record(i));
    file.write(record(i));
  }
  await file.close();
  assert.deepEqual(readdirSync(dir), ['only.log']);
  const text = readFileSync(path, 'utf8');
  assert.ok(text.length <= 200 && text.length > 0);
  assert.ok(all.join('').endsWith(text) && text.startsWith('{"seq":'), 'the file holds the newest whole records');
});

test('reopening appends to the existing file and counts its size toward maxSize', async () => {
  const path = join(tmp(), 'restart.log');
  writeFileSync(path, 'a'.repeat(899) + '\n'); // 900 bytes left by the previous supervisor
  const file = new RotatingFile(path, { maxSize: 1000, keep: 2 });
  const fifty = 'b'.repeat(49) + '\n';
  const sixty = 'c'.repeat(59) + '\n';
  file.write(fifty); // 950: fits
  await file.flush();
  assert.equal(readFileSync(path, 'utf8'), 'a'.repeat(899) + '\n' + fifty);
  file.write(sixty); // 1010 would exceed: rotate first
  await file.close();
  assert.equal(readFileSync(`${path}.1`, 'utf8'), 'a'.repeat(899) + '\n' + fifty);
  assert.equal(readFileSync(path, 'utf8'), sixty);
});

test('a full disk (a filled tmpfs): write() never throws, onError once per episode, dropped bytes counted and taken', async (t) => {
  const dir = join(tmp(), 'logs');
  const disk = fullDisk(dir);
  t.after(() => disk.unmount());
  const path = join(dir, 'full.log');
  const errors: NodeJS.ErrnoException[] = [];
  const file = new RotatingFile(path, { maxSize: 1 << 20, keep: 1, onError: (err) => errors.push(err) });
  let total = 0;
  for (let i = 0; i < 1000; i++) {
    total += Buffer.byteLength(record(i));
    file.write(record(i));
    if (i % 100 === 0) await file.flush(); // several separate failing writes, not one coalesced one
  }
  await file.flush();
  assert.equal(errors.length, 1, 'one report for the whole episode');
  assert.equal(errors[0]!.code, 'ENOSPC');
  assert.equal(file.droppedBytes, total);

  // The disk has room again: writing resumes.
  disk.free();
  file.write('back\n');
  await file.flush();
  assert.equal(readFileSync(path, 'utf8'), 'back\n');
  assert.equal(file.takeDropped(), total);
  assert.equal(file.droppedBytes, 0);
  assert.equal(errors.length, 1);

  // A new failure after a success is a new episode.
  await file.close();
  disk.fill();
  const again = new RotatingFile(join(dir, 'again.log'), { maxSize: 1 << 20, keep: 1, onError: (err) => errors.push(err) });
  again.write('lost\n');
  await again.close();
  assert.equal(errors.length, 2);
  assert.equal(again.droppedBytes, 5);
});

test('an unusable directory drops and reports; once it is fixed, a later write reopens and succeeds', async () => {
  const root = tmp();
  const dir = join(root, 'logs');
  writeFileSync(dir, 'not a directory');
  const errors: NodeJS.ErrnoException[] = [];
  const file = new RotatingFile(join(dir, 'x.log'), { maxSize: 1000, keep: 1, onError: (err) => errors.push(err) });
  file.write('one\n');
  await file.flush();
  file.write('two\n');
  await file.flush();
  assert.equal(errors.length, 1);
  assert.ok(['EEXIST', 'ENOTDIR'].includes(errors[0]!.code ?? ''), `got ${errors[0]!.code}`);
  assert.equal(file.droppedBytes, 8);

  rmSync(dir);
  mkdirSync(dir);
  file.write('three\n');
  await file.close();
  assert.equal(readFileSync(join(dir, 'x.log'), 'utf8'), 'three\n');
  assert.equal(file.takeDropped(), 8);
});

test('a directory deleted under an open file is recreated on the next write', async () => {
  const dir = join(tmp(), 'logs');
  const path = join(dir, 'x.log');
  const file = new RotatingFile(path, { maxSize: 1000, keep: 1 });
  file.write('before\n');
  await file.flush();
  rmSync(dir, { recursive: true });
  file.write('after\n');
  await file.close();
  assert.equal(readFileSync(path, 'utf8'), 'after\n');
  assert.equal(file.droppedBytes, 0);
});

test('a rotation that fails keeps every record in the current file, reports, and is retried after another maxSize', async () => {
  const dir = tmp();
  const path = join(dir, 'x.log');
  mkdirSync(`${path}.1`); // a non-empty directory where the rotated file must go: rename fails
  writeFileSync(join(`${path}.1`, 'blocker'), '');
  const errors: NodeJS.ErrnoException[] = [];
  const file = new RotatingFile(path, { maxSize: 100, keep: 1, onError: (err) => errors.push(err) });
  const rec = 'r'.repeat(19) + '\n'; // 20 bytes: 5 fill a file
  for (let i = 0; i < 6; i++) file.write(rec); // the 6th triggers the failed rotation
  await file.flush();
  assert.equal(errors.length, 1);
  assert.equal(readFileSync(path, 'utf8'), rec.repeat(6), 'nothing lost');
  for (let i = 0; i < 4; i++) file.write(rec); // 200 bytes: up to the new limit, no retry yet
  await file.flush();
  assert.equal(errors.length, 1, 'not retried on every write');
  rmSync(`${path}.1`, { recursive: true });
  file.write(rec); // over the new limit: the retry succeeds
  await file.close();
  assert.equal(readFileSync(`${path}.1`, 'utf8'), rec.repeat(10));
  assert.equal(readFileSync(path, 'utf8'), rec);
  assert.equal(file.droppedBytes, 0);
});

test('over maxBuffer, write() returns false and counts the bytes; what was queued is written', async () => {
  const path = join(tmp(), 'slow.log');
  const file = new RotatingFile(path, { maxSize: 1 << 20, keep: 1, maxBuffer: 1000 });
  const line = 'y'.repeat(99) + '\n';
  // All synchronous: nothing reaches the disk before the burst ends.
  const accepted = Array.from({ length: 100 }, () => file.write(line));
  assert.deepEqual(accepted, [...Array(10).fill(true), ...Array(90).fill(false)]);
  assert.equal(file.droppedBytes, 9000);
  await file.flush();
  assert.equal(readFileSync(path, 'utf8'), line.repeat(10));
  // The queue drained, so there is room again.
  assert.equal(file.write(line), true);
  await file.close();
  assert.equal(readFileSync(path, 'utf8'), line.repeat(11));
});

test('flush resolves with the data on disk; close is idempotent; writes after close are ignored', async () => {
  const path = join(tmp(), 'fc.log');
  const file = new RotatingFile(path, { maxSize: 1000, keep: 1 });
  await file.flush(); // nothing queued: resolves at once
  assert.equal(existsSync(path), false, 'the file is created lazily, by the first write');
  file.write('a\n');
  file.write(Buffer.from('b\n'));
  await file.flush();
  assert.equal(readFileSync(path, 'utf8'), 'a\nb\n');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  file.write('c\n');
  await Promise.all([file.close(), file.close()]);
  assert.equal(file.write('d\n'), false);
  await file.flush();
  await file.close();
  assert.equal(readFileSync(path, 'utf8'), 'a\nb\nc\n');
  assert.equal(file.droppedBytes, 0);
});

test('invalid options are refused with the value received', () => {
  assert.throws(() => new RotatingFile('/tmp/x.log', { maxSize: 0, keep: 1 }), /maxSize must be an integer >= 1, received 0/);
  assert.throws(() => new RotatingFile('/tmp/x.log', { maxSize: 10, keep: -1 }), /keep must be an integer >= 0, received -1/);
  assert.throws(() => new RotatingFile('/tmp/x.log', { maxSize: 10, keep: 1, maxBuffer: 1.5 }), /maxBuffer must be an integer >= 1, received 1.5/);
});
