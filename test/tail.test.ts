// readLastLines over real files: the newest n lines across a log and its rotated
// predecessors, in order; missing files skipped; a last line without a newline
// counted; lines longer than the read chunk and multi-byte characters across chunk
// edges intact; a 20 MB log, and a 64 GiB sparse one, answered from their end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, closeSync, writeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLastLines } from '../logs/tail.js';
import { scratchDirs } from './helpers/scratch.js';

const tmp = scratchDirs('outheis-tail-');
const lines = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `line ${from + i}`);
const text = (ls: string[]): string => ls.map((l) => `${l}\n`).join('');

/** x.log.2, x.log.1, x.log holding lines 0-9, 10-19, 20-29. */
function rotatedSet(dir: string): string[] {
  const files = [join(dir, 'x.log.2'), join(dir, 'x.log.1'), join(dir, 'x.log')];
  files.forEach((f, i) => writeFileSync(f, text(lines(i * 10, i * 10 + 10))));
  return files;
}

test('the last n lines across rotated files, oldest to newest', async () => {
  const files = rotatedSet(tmp());
  assert.deepEqual(await readLastLines(files, 3), lines(27, 30));
  assert.deepEqual(await readLastLines(files, 10), lines(20, 30));
  assert.deepEqual(await readLastLines(files, 15), lines(15, 30));
  assert.deepEqual(await readLastLines(files, 25), lines(5, 30));
});

test('n larger than everything returns every line; n = 0 returns none', async () => {
  const files = rotatedSet(tmp());
  assert.deepEqual(await readLastLines(files, 1000), lines(0, 30));
  assert.deepEqual(await readLastLines(files, 0), []);
});

test('missing files (a missing middle one, or all) are skipped', async () => {
  const dir = tmp();
  const files = [join(dir, 'x.log.2'), join(dir, 'x.log.1'), join(dir, 'x.log')];
  writeFileSync(files[0]!, text(lines(0, 5)));
  writeFileSync(files[2]!, text(lines(20, 25)));
  assert.deepEqual(await readLastLines(files, 7), [...lines(3, 5), ...lines(20, 25)]);
  assert.deepEqual(await readLastLines([join(dir, 'nope.log.1'), join(dir, 'nope.log')], 5), []);
});

test('a final line without a newline is a line, and is not joined to the next file', async () => {
  const dir = tmp();
  const old = join(dir, 'x.log.1');
  const cur = join(dir, 'x.log');
  writeFileSync(old, 'a\nb'); // torn tail of the previous file
  writeFileSync(cur, 'c\nd');
  assert.deepEqual(await readLastLines([old, cur], 1), ['d']);
  assert.deepEqual(await readLastLines([old, cur], 3), ['b', 'c', 'd']);
  assert.deepEqual(await readLastLines([old, cur], 10), ['a', 'b', 'c', 'd']);
});

test('empty lines and empty files count as what they are', async () => {
  const dir = tmp();
  const empty = join(dir, 'x.log.1');
  const cur = join(dir, 'x.log');
  writeFileSync(empty, '');
  writeFileSync(cur, '\nmiddle\n\n');
  assert.deepEqual(await readLastLines([empty, cur], 10), ['', 'middle', '']);
  writeFileSync(cur, '\n');
  assert.deepEqual(await readLastLines([empty, cur], 10), ['']);
});

test('lines longer than a read chunk, and multi-byte characters split by chunk edges, come back intact', async () => {
  const path = join(tmp(), 'x.log');
  const long = 'ä'.repeat(100_000); // 200 kB of two-byte characters: chunk edges fall mid-character
  const ls = ['first', long, 'between', `${long}ö`, 'last'];
  writeFileSync(path, text(ls));
  assert.deepEqual(await readLastLines([path], 5), ls);
  assert.deepEqual(await readLastLines([path], 2), ls.slice(3));
});

test('a 20 MB log: the last lines are right (read from the end, not whole)', async (t) => {
  const path = join(tmp(), 'big.log');
  const fd = openSync(path, 'w');
  const block = 10_000;
  for (let from = 0; from < 400_000; from += block) writeSync(fd, text(lines(from, from + block).map((l) => `${l} ${'.'.repeat(40)}`)));
  closeSync(fd);
  const started = process.hrtime.bigint();
  const got = await readLastLines([path], 5);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.deepEqual(got, lines(399_995, 400_000).map((l) => `${l} ${'.'.repeat(40)}`));
  // Informational only: no time threshold is asserted.
  t.diagnostic(`last 5 lines of a 20 MB file in ${ms.toFixed(2)} ms`);
});

test('a 64 GiB (sparse) log answers from its end: reading it whole could not finish', { timeout: 30_000 }, async () => {
  const path = join(tmp(), 'sparse.log');
  const fd = openSync(path, 'w');
  const end = 64 * 1024 ** 3;
  const tail = '\nsecond to last\nlast\n';
  writeSync(fd, tail, end - Buffer.byteLength(tail)); // everything before is a hole
  closeSync(fd);
  assert.deepEqual(await readLastLines([path], 2), ['second to last', 'last']);
});

test('a bad n is refused with the value received', async () => {
  await assert.rejects(readLastLines([], -1), /n must be a whole number >= 0, received -1/);
  await assert.rejects(readLastLines([], 1.5), /received 1.5/);
});
