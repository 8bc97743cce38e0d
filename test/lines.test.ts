// forEachLine over a real stream: lines across chunks, overlong lines cut to
// exactly maxLine bytes and flagged, binary junk tolerated, a last line without
// a newline still emitted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { forEachLine } from '../logs/lines.js';

interface Line { line: string; truncated: boolean }

/** Write the chunks, end the stream, and collect what forEachLine emitted. */
async function run(chunks: (string | Buffer)[], maxLine: number): Promise<Line[]> {
  const stream = new PassThrough();
  const got: Line[] = [];
  forEachLine(stream, maxLine, (line, truncated) => got.push({ line, truncated }));
  const ended = once(stream, 'end');
  for (const c of chunks) stream.write(typeof c === 'string' ? Buffer.from(c) : c);
  stream.end();
  await ended;
  return got;
}

const plain = (...lines: string[]): Line[] => lines.map((line) => ({ line, truncated: false }));

test('whole lines in one chunk', async () => {
  assert.deepEqual(await run(['one\ntwo\nthree\n'], 100), plain('one', 'two', 'three'));
});

test('lines split across chunks at every position are reassembled', async () => {
  const text = 'alpha\nbeta gamma\n\ndelta\n';
  for (let cut = 0; cut <= text.length; cut++) {
    assert.deepEqual(await run([text.slice(0, cut), text.slice(cut)], 100), plain('alpha', 'beta gamma', '', 'delta'), `cut at ${cut}`);
  }
  // one byte per chunk
  assert.deepEqual(await run([...text], 100), plain('alpha', 'beta gamma', '', 'delta'));
});

test('a line longer than maxLine is cut to exactly maxLine bytes and flagged; the rest is skipped', async () => {
  const max = 8;
  const got = await run(['short\n', 'x'.repeat(30) + 'TAIL\n', 'after\n'], max);
  assert.deepEqual(got, [
    { line: 'short', truncated: false },
    { line: 'x'.repeat(max), truncated: true },
    { line: 'after', truncated: false },
  ]);
  assert.equal(Buffer.byteLength(got[1]!.line), max);
});

test('an overlong line spread over many chunks yields one truncated line and nothing of its tail', async () => {
  const max = 10;
  const chunks = ['0123', '4567', '89ab', 'cdef', 'ghij', 'kl\nnext', ' line\n'];
  const got = await run(chunks, max);
  assert.deepEqual(got, [
    { line: '0123456789', truncated: true },
    { line: 'next line', truncated: false },
  ]);
});

test('a line of exactly maxLine bytes is not truncated, one byte more is', async () => {
  assert.deepEqual(await run(['abcdefgh\n'], 8), plain('abcdefgh'));
  assert.deepEqual(await run(['abcdefgh', '\n'], 8), plain('abcdefgh'));
  assert.deepEqual(await run(['abcdefghi\nz\n'], 8), [{ line: 'abcdefgh', truncated: true }, { line: 'z', truncated: false }]);
  assert.deepEqual(await run(['abcdefgh', 'i\nz\n'], 8), [{ line: 'abcdefgh', truncated: true }, { line: 'z', truncated: false }]);
});

test('a huge line is never held whole: memory stays bounded by maxLine', async () => {
  const max = 1024;
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  const chunks: Buffer[] = Array.from({ length: 64 }, () => chunk); // 4 MiB without a newline
  const got = await run([...chunks, Buffer.from('\nok\n')], max);
  assert.equal(got.length, 2);
  assert.equal(got[0]!.truncated, true);
  assert.equal(got[0]!.line.length, max);
  assert.deepEqual(got[1], { line: 'ok', truncated: false });
});

test('binary junk does not throw and lines around it survive', async () => {
  const junk = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 197 + 13) & 0xff));
  const got = await run([Buffer.from('before\n'), junk, Buffer.from('\nafter\n')], 256);
  assert.deepEqual(got[0], { line: 'before', truncated: false });
  assert.deepEqual(got.at(-1), { line: 'after', truncated: false });
  for (const l of got) assert.ok(Buffer.byteLength(l.line, 'latin1') <= 256 * 3, 'bounded');
  // the junk contains newlines (0x0a), so it came out as several lines, none longer than maxLine bytes of input
  assert.ok(got.length > 2);
});

test('a final line without a newline is emitted at end', async () => {
  assert.deepEqual(await run(['first\nlast without newline'], 100), plain('first', 'last without newline'));
  assert.deepEqual(await run(['first\nla', 'st'], 100), plain('first', 'last'));
  // nothing extra for a stream ending in a newline, or an empty stream
  assert.deepEqual(await run(['first\n'], 100), plain('first'));
  assert.deepEqual(await run([], 100), []);
});

test('an overlong final line without a newline is emitted once, truncated', async () => {
  const got = await run(['ok\n', 'y'.repeat(50)], 10);
  assert.deepEqual(got, [{ line: 'ok', truncated: false }, { line: 'y'.repeat(10), truncated: true }]);
});
