// followFile / followFiles on real files: appended lines arrive, a partial line waits
// for its newline, a file that appears later is read from its start, truncation
// starts over, and rotation by a real RotatingFile under a continuous writer loses
// and duplicates nothing. Aborting resolves the promise.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { followFile, followFiles } from '../logs/follow.js';
import { RotatingFile } from '../logs/rotating-file.js';
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

/** Resolves once `pred` holds; fails with `what` after timeoutMs. */
async function waitUntil(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

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
 * A follower has started once it delivers a marker line written after it began. On a
 * loaded machine its first cycle may take the file's end only after a marker was
 * written (that marker is then never delivered, rightly): write another until one
 * arrives. Lines arrive in order, so nothing written before the one seen comes later.
 */
async function started(f: { lines: string[] }, path: string): Promise<void> {
  for (let i = 1; ; i++) {
    await sleep(50); // let the first cycle open the file and take its end
    appendFileSync(path, `marker ${i}\n`);
    try {
      await waitUntil(() => f.lines.includes(`marker ${i}`), `marker ${i}`, 2_000);
      break;
    } catch (err) {
      if (i === 5) throw err;
    }
  }
  f.lines.length = 0;
}

test('lines appended after the start arrive; what was there before does not (by default)', async () => {
  const path = join(tmp(), 'x.log');
  writeFileSync(path, 'old 1\nold 2\n');
  const f = collect(path);
  await started(f, path);
  appendFileSync(path, 'new 1\nnew 2\n');
  appendFileSync(path, 'new 3\n');
  await waitUntil(() => f.lines.length === 3, 'three new lines');
  await f.stop();
  assert.deepEqual(f.lines, ['new 1', 'new 2', 'new 3']);
});

test('fromStart delivers what the file already holds, then what is appended', async () => {
  const path = join(tmp(), 'x.log');
  writeFileSync(path, 'old 1\nold 2\n');
  const f = collect(path, { fromStart: true });
  await waitUntil(() => f.lines.length === 2, 'the existing lines');
  appendFileSync(path, 'new\n');
  await waitUntil(() => f.lines.length === 3, 'the appended line');
  await f.stop();
  assert.deepEqual(f.lines, ['old 1', 'old 2', 'new']);
});

test('a partial line waits for its newline', async () => {
  const path = join(tmp(), 'x.log');
  writeFileSync(path, '');
  const f = collect(path);
  await started(f, path);
  appendFileSync(path, 'whole\nhal'); // one write: once "whole" is seen, "hal" has been read too
  await waitUntil(() => f.lines.length === 1, 'the whole line');
  await sleep(100);
  assert.deepEqual(f.lines, ['whole'], 'the partial line is held back');
  appendFileSync(path, 'f line\n');
  await waitUntil(() => f.lines.length === 2, 'the completed line');
  await f.stop();
  assert.deepEqual(f.lines, ['whole', 'half line']);
});

test('a file created after following starts is read from its start', async () => {
  const dir = join(tmp(), 'not-yet'); // not even the directory exists
  const path = join(dir, 'x.log');
  const f = collect(path, { pollMs: 20 });
  await sleep(60);
  mkdirSync(dir);
  writeFileSync(path, 'first\nsecond\n');
  await waitUntil(() => f.lines.length === 2, 'both lines of the new file');
  await f.stop();
  assert.deepEqual(f.lines, ['first', 'second']);
});

test('truncation in place starts over from the beginning', async () => {
  const path = join(tmp(), 'x.log');
  writeFileSync(path, 'a long line that was there before\n');
  const f = collect(path);
  await started(f, path);
  appendFileSync(path, 'before truncation\n');
  await waitUntil(() => f.lines.length === 1, 'the line before truncation');
  truncateSync(path, 0);
  appendFileSync(path, 'after\n');
  await waitUntil(() => f.lines.length === 2, 'the line after truncation');
  await f.stop();
  assert.deepEqual(f.lines, ['before truncation', 'after']);
});

test('rotation by hand: the old file is read to its end (its unterminated last line too), then the new one from its start', async () => {
  const path = join(tmp(), 'x.log');
  writeFileSync(path, '');
  const f = collect(path, { pollMs: 20 });
  await started(f, path);
  appendFileSync(path, 'old 1\n');
  await waitUntil(() => f.lines.length === 1, 'old 1');
  appendFileSync(path, 'old 2\nold torn'); // the writer adds more, then the file is rotated
  renameSync(path, `${path}.1`);
  writeFileSync(path, 'new 1\nnew 2\n');
  await waitUntil(() => f.lines.length === 5, 'all five lines');
  await sleep(100);
  await f.stop();
  assert.deepEqual(f.lines, ['old 1', 'old 2', 'old torn', 'new 1', 'new 2']);
});

test('a RotatingFile rotating under a continuous writer: every record seen exactly once, in order', { timeout: 60_000 }, async () => {
  const dir = join(tmp(), 'logs');
  const path = join(dir, 'notes.log');
  // The directory exists (the supervisor makes it at start), so fs.watch sees the file
  // appear; the file does not yet: the follower waits, then reads it from its start.
  mkdirSync(dir);
  const f = collect(path);
  await sleep(50);
  const file = new RotatingFile(path, { maxSize: 4096, keep: 3 });
  const total = 3000;
  const expected: string[] = [];
  for (let i = 0; i < total; i++) {
    const rec = JSON.stringify({ level: 30, time: 1732400000000 + i, agent: 'notes', stream: 'stdout', msg: `record ${i}` });
    expected.push(rec);
    file.write(`${rec}\n`);
    // Continuous, but paced like a real agent rather than a tight loop: a follower
    // that falls more than one rotation behind cannot see the skipped file (tail -F neither).
    if (i % 10 === 9) {
      await file.flush();
      await sleep(1);
    }
  }
  await file.close();
  await waitUntil(() => f.lines.length >= total, `${total} records (have ${f.lines.length})`, 30_000);
  await sleep(300); // time for duplicates, if there were any, to show up
  await f.stop();
  assert.ok(existsSync(`${path}.3`), 'the writer rotated more than keep times');
  assert.equal(f.lines.length, total);
  assert.deepEqual(f.lines, expected);
});

test('abort resolves the promise and stops delivery; an aborted signal resolves at once', async () => {
  const path = join(tmp(), 'x.log');
  writeFileSync(path, '');
  const f = collect(path);
  await started(f, path);
  await f.stop();
  appendFileSync(path, 'after abort\n');
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
  await sleep(50);
  appendFileSync(path, 'prompt\n');
  await waitUntil(() => f.lines.length === 1, 'the line, with polling every minute', 10_000);
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
  await sleep(60);
  appendFileSync(a, 'a 1\n');
  await waitUntil(() => got.length === 1, 'a 1');
  writeFileSync(b, 'b 1\n'); // b did not exist: read from its start
  await waitUntil(() => got.length === 2, 'b 1');
  appendFileSync(a, 'a 2\n');
  await waitUntil(() => got.length === 3, 'a 2');
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
