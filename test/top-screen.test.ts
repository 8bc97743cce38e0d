// `outheis top`: a frame fits the terminal (80x24 with 40 agents), sorts as
// asked, and the screen redraws in place on a TTY (home, clear to end of line,
// clear below; never a full clear per frame), restores the terminal once, and
// writes plain frames into a pipe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { AgentStatusJson, StatusResult } from '../supervisor/control/protocol.js';
import { createPaint } from '../cli/render/color.js';
import { measureWidth } from '../cli/render/table.js';
import { cycleSort, renderTopFrame, TopScreen, type SortKey } from '../cli/render/top-screen.js';

const plain = createPaint(false);
const color = createPaint(true);
const ESC = '\x1b';
const NOW = 1_700_000_000_000;
const MiB = 1024 * 1024;
const STATES = ['running', 'starting', 'backoff', 'stopping', 'stopped', 'failed'] as const;

function agent(i: number): AgentStatusJson {
  const state = STATES[i % STATES.length]!;
  const up = state === 'running' || state === 'stopping';
  return {
    name: i % 5 === 0 ? `agent-${i}-${'x'.repeat(50)}` : `agent-${i}`,
    group: i % 4 === 0 ? 'core' : null,
    pid: up ? 2000 + i : null,
    state,
    uptimeMs: up ? i * 61_000 : 0,
    restarts: (i * 7) % 11,
    lastExit: i % 3 === 0 ? { code: 1, signal: null, at: NOW - 5_000, reason: 'exited with code 1', clean: false } : null,
    cpu: up ? (i * 13) % 97 + 0.5 : null,
    rss: up ? ((i * 37) % 300) * MiB : null,
    memoryLimit: i % 2 === 0 ? 256 * MiB : null,
    mailbox: i * 3,
    inflight: i % 2,
    qos: 'user',
    isolation: { layers: ['env', 'fds', 'rlimits'], weaker: i === 7 },
    deadLetters: 0,
  };
}

const status = (n: number): StatusResult => ({
  supervisor: {
    pid: 4242, version: '0.1.0', startedAt: NOW - 185_000, uptimeMs: 185_000, cpu: 0.4, rss: 71.2 * MiB,
    config: '/srv/outheis/outheis.yaml', stateDir: '/srv/outheis/.outheis', stopping: false, journal: null,
  },
  agents: Array.from({ length: n }, (_, i) => agent(i)),
});

/** The agent rows of a frame: the lines after the table header, up to the first line that is not a row. */
function rowsOf(frame: string[]): string[] {
  const header = frame.findIndex((l) => /^AGENT\s+PID/.test(l));
  assert.ok(header >= 0, `a table header in\n${frame.join('\n')}`);
  const rest = frame.slice(header + 1);
  const end = rest.findIndex((l) => !/^(core\/)?agent-/.test(l));
  return end < 0 ? rest : rest.slice(0, end);
}

// ---- renderTopFrame ----------------------------------------------------------

test('renderTopFrame: 40 agents fit 80x24, with "… N more", the summary and the key hint', () => {
  for (const paint of [plain, color]) {
    const frame = renderTopFrame(status(40), { now: NOW, width: 80, height: 24, paint });
    assert.ok(frame.length <= 24, `${frame.length} lines`);
    for (const line of frame) assert.ok(measureWidth(line) <= 80, `${measureWidth(line)}: ${line}`);
    const text = frame.join('\n').replace(/\x1b\[[0-9;]*m/g, '');
    const shown = rowsOf(text.split('\n')).length;
    assert.ok(shown >= 10, `${shown} rows shown`);
    assert.match(text, new RegExp(`^… ${40 - shown} more$`, 'm'));
    assert.match(text, /^outheis 0\.1\.0 · \d\d:\d\d:\d\d · pid 4242 · up 3m05s/m);
    assert.match(text, /^40 agents, 7 running, 7 starting, 7 backoff, 7 stopping, 6 stopped, 6 failed$/m);
    assert.match(text, /WEAKER/, 'the weaker agent is flagged even when its row is not shown');
    assert.match(frame.at(-1)!, /q quit · s sort/);
    const header = text.split('\n').find((l) => l.startsWith('AGENT'))!.split(/\s{2,}/);
    for (const c of ['AGENT', 'PID', 'STATE', '↺', 'CPU', 'MEM']) assert.ok(header.includes(c), `${c} in ${header.join('|')}`);
  }
});

test('renderTopFrame: few agents show in full, without "more", and without escape codes when plain', () => {
  const frame = renderTopFrame(status(5), { now: NOW, width: 120, height: 40, paint: plain });
  assert.equal(rowsOf(frame).length, 5);
  assert.ok(!frame.some((l) => l.includes('more')));
  assert.ok(!frame.join('').includes(ESC));
  assert.match(frame.join('\n'), /^all agents: cpu \d+% · rss [\d.]+[KMG] · 30 queued, 2 in flight · \d+ restarts$/m);
});

test('renderTopFrame: with a journal, its line (disk use, seq, a failing journal first) joins the summary', () => {
  const s = status(3);
  const journal = { dir: '/j', bytes: 3 * MiB, segments: 1, lastSeq: 812, fsync: 'batch', failures: 0, lastError: null as string | null, maxAttempts: 5, maxBytes: 1024 * MiB, retainMs: 1, damaged: [] };
  s.supervisor.journal = journal;
  const frame = renderTopFrame(s, { now: NOW, width: 120, height: 40, paint: plain });
  assert.equal(frame[3], 'journal 3.0M/1.0G in 1 segment · seq 812 · fsync batch');
  assert.equal(frame[4], '', 'then the blank line before the table');
  journal.failures = 2;
  journal.lastError = 'journal write failed: ENOSPC';
  assert.match(renderTopFrame(s, { now: NOW, width: 80, height: 24, paint: plain })[3]!, /^JOURNAL FAILING \(2\): journal write failed: ENOSPC/);
  assert.equal(renderTopFrame(status(3), { now: NOW, width: 120, height: 40, paint: plain })[3], '', 'no journal, no line');
});

test('renderTopFrame: a tiny terminal still gets no more lines or columns than it has', () => {
  for (const [width, height] of [[40, 10], [20, 5], [80, 3], [10, 1]] as const) {
    const frame = renderTopFrame(status(40), { now: NOW, width, height, paint: color });
    assert.ok(frame.length <= height, `${width}x${height}: ${frame.length} lines`);
    for (const line of frame) assert.ok(measureWidth(line) <= width, `${width}x${height}: ${line}`);
  }
  // The table keeps its rows before the summary keeps its lines.
  assert.ok(rowsOf(renderTopFrame(status(40), { now: NOW, width: 80, height: 8, paint: plain })).length >= 3);
});

test('renderTopFrame: sorts by cpu, mem and restarts (busiest first, no sample last), by name, or keeps start order', () => {
  const s = status(12);
  const order = (sortBy?: SortKey): string[] =>
    rowsOf(renderTopFrame(s, { now: NOW, width: 200, height: 50, paint: plain, sortBy })).map((l) => l.split(/\s+/)[0]!);
  const names = (agents: AgentStatusJson[]): string[] => agents.map((a) => (a.group ? `${a.group}/${a.name}` : a.name));
  const by = (pick: (a: AgentStatusJson) => number | null): string[] =>
    names([...s.agents].sort((a, b) => (pick(b) ?? -1) - (pick(a) ?? -1)));
  assert.deepEqual(order(), names(s.agents));
  assert.deepEqual(order('cpu'), by((a) => a.cpu));
  assert.deepEqual(order('mem'), by((a) => a.rss));
  assert.deepEqual(order('restarts'), by((a) => a.restarts));
  assert.deepEqual(order('name'), [...names(s.agents)].sort());
  assert.notDeepEqual(order('cpu'), order(), 'the fixture tells the orders apart');
  const cpus = order('cpu').map((n) => s.agents.find((a) => n.endsWith(a.name))!.cpu);
  assert.equal(cpus.at(-1), null, 'agents without a sample come last');
});

test('cycleSort: start order, cpu, mem, restarts, name, and round again; the hint marks the current one', () => {
  const seen: (SortKey | undefined)[] = [];
  let k: SortKey | undefined;
  for (let i = 0; i < 6; i++) seen.push((k = cycleSort(k)));
  assert.deepEqual(seen, ['cpu', 'mem', 'restarts', 'name', undefined, 'cpu']);
  const hint = (sortBy?: SortKey): string => renderTopFrame(status(3), { now: NOW, width: 80, height: 24, paint: plain, sortBy }).at(-1)!;
  assert.match(hint(), /\[start\] cpu/);
  assert.match(hint('mem'), /cpu \[mem\] restarts/);
});

// ---- TopScreen ---------------------------------------------------------------

interface Fake { out: Writable & { isTTY?: boolean; columns?: number; rows?: number }; writes: string[] }

function fakeOut(tty: { columns: number; rows: number } | null): Fake {
  const writes: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      writes.push(chunk.toString());
      cb();
    },
  });
  return { out: Object.assign(out, tty ? { isTTY: true, ...tty } : {}), writes };
}

test('TopScreen on a TTY: alternate screen once, then home, clear to end of line, clear below; never a full clear', () => {
  const { out, writes } = fakeOut({ columns: 80, rows: 24 });
  const screen = new TopScreen(out, { paint: plain });
  screen.draw(['one', 'two']);
  screen.draw(['three']);
  assert.equal(writes.length, 2);
  const [first, second] = writes as [string, string];
  assert.ok(first.startsWith('\x1b[?1049h'), 'enters the alternate screen');
  assert.ok(first.includes('\x1b[?25l'), 'hides the cursor');
  assert.ok(first.endsWith('\x1b[Hone\x1b[K\r\ntwo\x1b[K\x1b[J'), JSON.stringify(first));
  assert.equal(second, '\x1b[Hthree\x1b[K\x1b[J', 'later frames only go home and overwrite');
  for (const w of writes) assert.ok(!w.includes('\x1b[2J'), 'no full-screen clear per frame');
});

test('TopScreen on a TTY: lines clipped to the columns, frames to the rows; a full-width line gets no clear', () => {
  const { out, writes } = fakeOut({ columns: 10, rows: 3 });
  const screen = new TopScreen(out, { paint: color });
  screen.draw(['a'.repeat(30), color.red('b'.repeat(30)), '0123456789', 'four', 'five']);
  const body = writes[0]!.slice(writes[0]!.indexOf('\x1b[H') + 3, -'\x1b[J'.length);
  const lines = body.split('\r\n');
  assert.equal(lines.length, 3, 'only as many lines as rows, no newline after the last');
  for (const l of lines) assert.ok(measureWidth(l.replaceAll('\x1b[K', '')) <= 10, JSON.stringify(l));
  assert.equal(lines[0], `${'a'.repeat(9)}…`);
  assert.equal(lines[2], '0123456789', 'erasing after the last column would wipe its last cell');
  // Resizes are followed: the next frame uses the new width.
  out.columns = 5;
  screen.draw(['abcdefgh']);
  assert.equal(writes[1], '\x1b[Habcd…\x1b[J');
});

test('TopScreen.close: shows the cursor and leaves the alternate screen, once; later draws do nothing', () => {
  const { out, writes } = fakeOut({ columns: 80, rows: 24 });
  const screen = new TopScreen(out, { paint: plain });
  screen.draw(['x']);
  screen.close();
  assert.equal(writes.at(-1), '\x1b[?25h\x1b[?1049l');
  const n = writes.length;
  screen.close();
  screen.draw(['y']);
  assert.equal(writes.length, n, 'a second close and a draw after close write nothing');
});

test('TopScreen.close: nothing to restore before the first draw; no throw on a destroyed stream', () => {
  const { out, writes } = fakeOut({ columns: 80, rows: 24 });
  new TopScreen(out, { paint: plain }).close();
  assert.deepEqual(writes, []);
  const gone = fakeOut({ columns: 80, rows: 24 });
  const screen = new TopScreen(gone.out, { paint: plain });
  screen.draw(['x']);
  gone.out.destroy();
  assert.doesNotThrow(() => screen.close());
});

test('TopScreen into a pipe: each frame then a blank line, no escape codes at all', () => {
  const { out, writes } = fakeOut(null);
  const screen = new TopScreen(out, { paint: plain });
  screen.draw(['a', 'b']);
  // A line someone coloured anyway is stripped: without colour there are no escape codes.
  screen.draw([color.red('c')]);
  screen.close();
  assert.equal(writes.join(''), 'a\nb\n\nc\n\n');
});
