// issue 12, item 5: under journald (JOURNAL_STREAM names stdout's dev:ino), every
// console line starts with its syslog priority, so `journalctl -p warning` works;
// with stdout anywhere else, lines stay plain JSON.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, fixture, tempDir, until } from './helpers/harness.js';

/** A supervisor whose stdout is a file; `journal`: JOURNAL_STREAM names that file (or, 'other', some other file). */
async function run(journal: 'this' | 'other' | 'none'): Promise<string[]> {
  const dir = tempDir('outheis-journald-');
  const file = join(dir, 'outheis.yaml');
  writeFileSync(file, [
    'agents:',
    `  ok: { run: ${fixture('echo.js')} }`,
    `  broken: { run: ${fixture('echo.js')}, args: [--crash-on-start], start_limit: { burst: 1, interval: 30s } }`,
  ].join('\n') + '\n');
  const outFile = join(dir, 'stdout');
  const fd = openSync(outFile, 'w');
  const st = fstatSync(fd, { bigint: true });
  const other = fstatSync(openSync(file, 'r'), { bigint: true });
  const stream = journal === 'this' ? `${st.dev}:${st.ino}` : journal === 'other' ? `${other.dev}:${other.ino}` : undefined;
  const env = { ...process.env, JOURNAL_STREAM: stream };
  if (stream === undefined) delete env.JOURNAL_STREAM;
  const proc = spawn(process.execPath, [CLI, 'start', '-c', file], { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  const read = () => readFileSync(outFile, 'utf8');
  await until(() => `the start limit to be hit:\n${read()}`, () => (read().includes('start limit hit') && read().includes('"msg":"ready"') ? true : undefined));
  const r = spawnSync(process.execPath, [CLI, 'stop', '-c', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  await exited;
  return read().split('\n').filter(Boolean);
}

const levelOf = (line: string) => Number(/"level":(\d+)/.exec(line)![1]);

test('JOURNAL_STREAM naming stdout: <3> errors, <4> warnings, <6> info, <5> agents\' stderr, on every line', async () => {
  const lines = await run('this');
  for (const line of lines) assert.match(line, /^<[2-7]>\{"level":\d+/, `a line without its priority: ${line}`);
  const expected: Record<number, string> = { 60: '2', 50: '3', 40: '4', 30: '6', 20: '7' };
  for (const line of lines) {
    const agentStderr = line.includes('"stream":"stderr"');
    assert.equal(line.slice(1, 2), agentStderr ? '5' : expected[levelOf(line)], line);
  }
  assert.ok(lines.some((l) => l.startsWith('<3>') && l.includes('start limit hit')), 'the start limit is an error');
  assert.ok(lines.some((l) => l.startsWith('<4>') && l.includes('"msg":"exited"')), 'a crash is a warning');
  assert.ok(lines.some((l) => l.startsWith('<6>') && l.includes('"msg":"ready"')), 'ready is info');
});

test('stdout not journald\'s (no JOURNAL_STREAM, or one naming another file): plain JSON lines', async () => {
  for (const journal of ['none', 'other'] as const) {
    const lines = await run(journal);
    assert.ok(lines.some((l) => l.includes('start limit hit')));
    for (const line of lines) assert.match(line, /^\{"level":\d+/, `${journal}: ${line}`);
  }
});
