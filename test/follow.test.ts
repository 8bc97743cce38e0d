// followFile / followFiles on real files: appended lines arrive, a partial line waits
// for its newline, a file that appears later is read from its start, truncation
// starts over, and rotation by a real RotatingFile under a continuous writer loses
// and duplicates nothing. Aborting resolves the promise.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { followFile, followFiles } from '../logs/follow.js';
import { RotatingFile } from '../logs/rotating-file.js';
import { sleep, until } from './helpers/harness.js';
import { scratchDirs } from './helpers/scratch.js';

const tmp = scratchDirs('outheis-follow-');

// A test that fails before its stop() must not leave a follower polling forever
// (the file would hang instead of failing).
const running: AbortController[] = [];
afterEach(() => running.splice(0).forEach((ac) => ac.abort()));
/** An AbortController aborted after the test, whatever its outcome. */
const controller = (): AbortController => {
  const ac = new AbortController();
  running.push(ac);
  return ac;
};

/** Follows `path`, collecting lines; stop() aborts and waits for the promise. */
function collect(path: string, opts: { fromStart?: boolean; pollMs?: number } = {}) {
  const lines: string[] = [];
  const ac = controller();
  const done = followFile(path, { ...opts, onLine: (l) => lines.push(l), signal: ac.signal });
  return {
    lines,
    done,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

/**
 * A follower has started once it delivers a marker line written after it began. Its
 * first cycle takes the file's end at a moment nothing shows, and a marker written
 * before that is never delivered (rightly): write another at each poll until one
 * arrives. Lines arrive in order, so once the last marker written is in, nothing
 * written before it comes later; then what was delivered so far is dropped.
 */
async function started<T>(got: T[], path: string, line: (x: T) => string = String): Promise<void> {
  let written = 0;
  await until('the follower to deliver a marker', () => {
    if (got.some((x) => line(x).startsWith('marker '))) return true;
    appendFileSync(path, `marker ${++written}\n`);
    return undefined;
  });
  await until(`marker ${written}`, () => (got.some((x) => line(x) === `marker ${written}`) ? true : undefined));
  got.length = 0;
}

test('lines appended after the start arrive; what was there before does not (by default)', async () => {
  const path = join(tmp(), 'x.log');
  writeFileSync(path, 'old 1\nold 2\n');
  const f = collect(path);
  await started(f.lines, path);
  appendFileSync(path, 'new 1\nnew 2\n');
  appendFileSync(path, 'new 3\n');
  await until('three new lines', () => (f.lines.length === 3 ? true : undefined));
  await f.stop();
  assert.deepEqual(f.lines, ['new 1', 'new 2', 'new 3']);
});

test('fromStart delivers what the file already holds, then what is appended', async () => {
  const path = join(tmp(), 'x.log');
  writeFileSync(path, 'old 1\nold 2\n');
  const f = collect(path, { fromStart: true });
  await until('the existing lines', () => (f.lines.length === 2 ? true : undefined));
  appendFileSync(path, 'new\n');
  await until('the appended line', () => (f.lines.length === 3 ? true : undefined));
  await f.stop();
  assert.deepEqual(f.lines, ['old 1', 'old 2', 'new']);
});

test('a partial line waits for its newline', async () => {
  const path = join(tmp(), 'x.log');
  writeFileSync(path, '');
  const f = collect(path);
  await started(f.lines, path);
  appendFileSync(path, 'whole\nhal'); // one write: once "whole" is seen, "hal" has been read too
  await until('the whole line', () => (f.lines.length === 1 ? true : undefined));
  assert.deepEqual(f.lines, ['whole'], 'the partial line is held back');
  appendFileSync(path, 'f line\n');
  await until('the completed line', () => (f.lines.length >= 2 ? true : undefined));
  await f.stop();
  // Lines only ever grow: "hal" delivered on its own at any time before would stand here.
  assert.deepEqual(f.lines, ['whole', 'half line'], 'the partial line is held back until its newline');
});

test('a file created after following starts is read from its start', async () => {
  const dir = join(tmp(), 'not-yet'); // not even the directory exists
  const path = join(dir, 'x.log');
  const f = collect(path, { pollMs: 20 });
  // The behaviour is a follower that was already looking (every 20 ms) before the file was
  // there, and a look that finds nothing leaves no trace to wait for. A first look after
  // the file appeared would begin at its end: the test would fail, never pass wrongly.
  await sleep(60);
  mkdirSync(dir);
  writeFileSync(path, 'first\nsecond\n');
  await until('both lines of the new file', () => (f.lines.length === 2 ? true : undefined));
  await f.stop();
  assert.deepEqual(f.lines, ['first', 'second']);
});

test('truncation in place starts over from the beginning', async () => {
  const path = join(tmp(), 'x.log');
  writeFileSync(path, 'a long line that was there before\n');
  const f = collect(path);
  await started(f.lines, path);
  appendFileSync(path, 'before truncation\n');
  await until('the line before truncation', () => (f.lines.length === 1 ? true : undefined));
  truncateSync(path, 0);
  appendFileSync(path, 'after\n');
  await until('the line after truncation', () => (f.lines.length === 2 ? true : undefined));
  await f.stop();
  assert.deepEqual(f.lines, ['before truncation', 'after']);
});

test('rotation by hand: the old file is read to its end (its unterminated last line too), then the new one from its start', async () => {
  const path = join(tmp(), 'x.log');
  writeFileSync(path, '');
  const f = collect(path, { pollMs: 20 });
  await started(f.lines, path);
  appendFileSync(path, 'old 1\n');
  await until('old 1', () => (f.lines.length === 1 ? true : undefined));
  appendFileSync(path, 'old 2\nold torn'); // the writer adds more, then the file is rotated
  renameSync(path, `${path}.1`);
  writeFileSync(path, 'new 1\nnew 2\n');
  await until('all five lines', () => (f.lines.length >= 5 ? true : undefined));
  // One more line: delivering it takes the follower round again, and lines come in
  // order, so a line read twice (either file again) would stand before it.
  appendFileSync(path, 'new 3\n');
  await until('new 3', () => (f.lines.includes('new 3') ? true : undefined));
  await f.stop();
  assert.deepEqual(f.lines, ['old 1', 'old 2', 'old torn', 'new 1', 'new 2', 'new 3']);
});

test('a RotatingFile rotating under a continuous writer: every record seen exactly once, in order', { timeout: 60_000 }, async () => {
  const dir = join(tmp(), 'logs');
  const path = join(dir, 'notes.log');
  // The directory exists (the supervisor makes it at start), so fs.watch sees the file
  // appear; the file does not yet: the follower waits, then reads it from its start.
  mkdirSync(dir);
  const f = collect(path);
  // As above: the follower is to look before the file is there, and nothing shows that it has.
  await sleep(50);
  const file = new RotatingFile(path, { maxSize: 4096, keep: 3 });
  const total = 3000;
  const record = (i: number | string) => JSON.stringify({ level: 30, time: 1732400000000 + Number(i), agent: 'notes', stream: 'stdout', msg: `record ${i}` });
  const expected: string[] = [];
  for (let i = 0; i < total; i++) {
    expected.push(record(i));
    file.write(`${record(i)}\n`);
    // Continuous, but never more than 20 records (under half a file) ahead of the
    // follower: one that falls more than one rotation behind cannot see the skipped
    // file (tail -F neither). The follower sets the pace, not the clock.
    if (i % 10 === 9) {
      await file.flush();
      await until(() => `the follower to be within 20 records of ${i + 1} (has ${f.lines.length})`, () => (f.lines.length >= i + 1 - 20 ? true : undefined), 30_000, 5);
    }
  }
  await until(() => `${total} records (have ${f.lines.length})`, () => (f.lines.length >= total ? true : undefined), 30_000);
  // One more record once all are in: delivering it takes the follower round again, and
  // lines come in order, so a record read twice would stand before it.
  file.write(`${record('last')}\n`);
  await file.close();
  await until('the last record', () => (f.lines.length > total ? true : undefined));
  await f.stop();
  assert.ok(existsSync(`${path}.3`), 'the writer rotated more than keep times');
  assert.equal(f.lines.length, total + 1);
  assert.deepEqual(f.lines, [...expected, record('last')]);
});

test('abort resolves the promise and stops delivery; an aborted signal resolves at once', async () => {
  const path = join(tmp(), 'x.log');
  writeFileSync(path, '');
  const f = collect(path);
  await started(f.lines, path);
  await f.stop();
  appendFileSync(path, 'after abort\n');
  // The behaviour is that nothing comes: no event marks the moment a line would have
  // come by, so the follower, stopped, is given the time a live one takes (fs.watch wakes it).
  await sleep(100);
  assert.deepEqual(f.lines, []);

  const ac = new AbortController();
  ac.abort();
  await followFile(join(tmp(), 'missing.log'), { onLine: () => assert.fail('no line expected'), signal: ac.signal });
});

test('fs.watch wakes the follower: a line arrives long before the poll interval', async () => {
  const path = join(tmp(), 'x.log');
  writeFileSync(path, '');
  const f = collect(path, { pollMs: 60_000 });
  await started(f.lines, path);
  appendFileSync(path, 'prompt\n');
  await until('the line, with polling every minute', () => (f.lines.length === 1 ? true : undefined), 10_000);
  await f.stop();
  assert.deepEqual(f.lines, ['prompt']);
});

test('followFiles merges several files as lines come, tagged with their path', async () => {
  const dir = tmp();
  const a = join(dir, 'a.log');
  const b = join(dir, 'b.log');
  writeFileSync(a, 'a old\n');
  const got: [string, string][] = [];
  const ac = controller();
  const done = followFiles([a, b], { onLine: (line, p) => got.push([line, p]), signal: ac.signal, pollMs: 20 });
  await started(got, a, ([line]) => line);
  appendFileSync(a, 'a 1\n');
  await until('a 1', () => (got.length === 1 ? true : undefined));
  writeFileSync(b, 'b 1\n'); // b did not exist: read from its start
  await until('b 1', () => (got.length === 2 ? true : undefined));
  appendFileSync(a, 'a 2\n');
  await until('a 2', () => (got.length === 3 ? true : undefined));
  ac.abort();
  await done;
  assert.deepEqual(got, [
    ['a 1', a],
    ['b 1', b],
    ['a 2', a],
  ]);
});

test('an error other than absence rejects, and followFiles stops the others', async () => {
  const dir = tmp();
  const blocker = join(dir, 'file');
  writeFileSync(blocker, 'not a directory');
  const ok = join(dir, 'ok.log');
  writeFileSync(ok, '');
  await assert.rejects(followFiles([ok, join(blocker, 'x.log')], { onLine: () => undefined }), { code: 'ENOTDIR' });
  await assert.rejects(followFile(ok, { onLine: () => undefined, pollMs: 0 }), /pollMs must be a positive number of milliseconds, received 0/);
});
