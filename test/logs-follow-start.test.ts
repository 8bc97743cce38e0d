// `outheis logs -f` loses no line at the start of following (issue 10, item 11): a
// writer appends numbered lines as fast as it can while `logs -f` starts, and the
// numbers printed must run on without a gap or a repeat, across the tail and the
// follow. Before the fix the tail was read, then the file opened again "at its end",
// and whatever was written in between was skipped (most runs). Variants: the file
// rotates every few hundred lines while following starts; every log merged (no
// agent named); and a real agent printing through a real supervisor.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDaemon, stop } from './helpers/daemon.js';
import { CLI, fixture, until } from './helpers/harness.js';
import { scratchDirs } from './helpers/scratch.js';

const scratch = scratchDirs('outheis-logs-follow-');
const RUNS = 8;

/** Appends agent records `n <i>` to logs/x.log as fast as it can; with `rotateEvery`, renames it to x.log.1 that often. */
const WRITER = `
const fs = require('fs');
const [dir, rotateEvery] = [process.argv[1], Number(process.argv[2])];
// Rotating, it writes slower: a follower goes from the file it holds to the one that
// has the name now, so rotations must not outpace it (as with tail -F).
const [perBurst, pause] = rotateEvery ? [10, 1] : [20, 1];
const path = dir + '/x.log';
let fd = fs.openSync(path, 'a');
let i = 0;
const burst = () => {
  for (let k = 0; k < perBurst; k++, i++) {
    fs.writeSync(fd, JSON.stringify({ level: 30, time: Date.now(), agent: 'x', stream: 'stdout', msg: 'n ' + i }) + '\\n');
    if (rotateEvery && i % rotateEvery === rotateEvery - 1) {
      fs.closeSync(fd);
      fs.renameSync(path, path + '.1');
      fd = fs.openSync(path, 'a');
    }
  }
  setTimeout(burst, pause);
};
burst();
`;

interface Run { cli: ChildProcess; out: () => string }

function logsF(args: string[]): Run {
  const cli = spawn(process.execPath, [CLI, 'logs', ...args, '-f', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  cli.stdout!.on('data', (d) => (out += d));
  cli.stderr!.on('data', (d) => (out += d));
  return { cli, out: () => out };
}

/** The `n <i>` numbers printed, in order. */
function numbers(out: string, agent = 'x'): number[] {
  const got: number[] = [];
  for (const line of out.split('\n')) {
    if (!line) continue;
    const rec = JSON.parse(line) as { agent?: string; msg?: string };
    const m = rec.agent === agent ? /^(?:n|line) (\d+)/.exec(rec.msg ?? '') : null;
    if (m) got.push(Number(m[1]));
  }
  return got;
}

/** The first gap or repeat in a run of numbers that must go up by one. */
function firstBreak(nums: number[]): string | undefined {
  for (let i = 1; i < nums.length; i++) {
    if (nums[i] !== nums[i - 1]! + 1) return `after ${nums[i - 1]} came ${nums[i]} (index ${i} of ${nums.length})`;
  }
  return undefined;
}

/** The current x.log (empty mid-rotation). */
function current(logs: string): string {
  try {
    return readFileSync(join(logs, 'x.log'), 'utf8');
  } catch {
    return '';
  }
}

async function writerRun(opts: { rotateEvery: number; agentArg: boolean }): Promise<void> {
  const state = scratch();
  const logs = join(state, 'logs');
  mkdirSync(logs, { recursive: true });
  const writer = spawn(process.execPath, ['-e', WRITER, logs, String(opts.rotateEvery)], { stdio: 'ignore' });
  try {
    // Lines are being written when following starts.
    await until('the writer to have written', () => (numbers(current(logs)).length > 20 ? true : undefined));
    const run = logsF([...(opts.agentArg ? ['x'] : []), '-n', '5', '--state-dir', state]);
    try {
      await until(() => `500 lines followed; got:\n${run.out().slice(-2000)}`, () => (numbers(run.out()).length >= 500 ? true : undefined), 30000);
    } finally {
      run.cli.kill('SIGTERM');
    }
    const nums = numbers(run.out());
    assert.equal(firstBreak(nums), undefined, `a gap or repeat where following began (rotating every ${opts.rotateEvery || 'never'})`);
  } finally {
    writer.kill('SIGKILL');
  }
}

test(`logs x -f: no line lost or repeated between the tail and following (${RUNS} runs)`, async () => {
  for (let i = 0; i < RUNS; i++) await writerRun({ rotateEvery: 0, agentArg: true });
});

test(`logs x -f: no line lost while the log rotates every 2000 lines as following starts (${RUNS} runs)`, async () => {
  for (let i = 0; i < RUNS; i++) await writerRun({ rotateEvery: 2000, agentArg: true });
});

test('logs -f of everything merged: no line lost at the start either', async () => {
  for (let i = 0; i < 3; i++) await writerRun({ rotateEvery: 0, agentArg: false });
});

test('a real agent printing fast through the supervisor: logs -f starts without a gap', async (t) => {
  const d = await startDaemon(['agents:', `  x: { run: ${fixture('noisy.js')}, args: [--lines-per-tick=20, --pad=4] }`], { waitReady: ['x'] });
  t.after(() => stop(d, 'SIGKILL'));
  for (let i = 0; i < 4; i++) {
    const run = logsF(['x', '-n', '3', '--state-dir', d.stateDir]);
    try {
      await until(() => `1500 lines followed; got:\n${run.out().slice(-2000)}`, () => (numbers(run.out()).length >= 1500 ? true : undefined), 30000);
    } finally {
      run.cli.kill('SIGTERM');
    }
    assert.equal(firstBreak(numbers(run.out())), undefined);
  }
  await stop(d);
});
