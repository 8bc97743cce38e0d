// What `outheis status` prints: the compact number formats, when colour is on,
// the table's fitting rules, and the status screen at 80 columns, 200 columns
// and unlimited, with a fixture that has every state, a weaker isolation, a
// memory limit, a group, missing samples and 62-character names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentStatusJson, LastExitJson, StatusResult } from '../supervisor/control/protocol.js';
import { formatAgo, formatBytes, formatCount, formatDuration, formatExit, formatExitLong, formatPercent } from '../cli/render/format.js';
import { colorEnabled, createPaint, stripAnsi } from '../cli/render/color.js';
import { fitParts, measureWidth, renderTable, truncateText, type Column, type LinePart } from '../cli/render/table.js';
import { renderStatus } from '../cli/render/status.js';

const plain = createPaint(false);
const color = createPaint(true);
const ESC = '\x1b';
const NOW = 1_700_000_000_000;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

// ---- format ------------------------------------------------------------------

test('formatDuration: compact, rounded down, units stepping at 60s, 60m and 24h', () => {
  const cases: [number | null, string][] = [
    [0, '0s'], [999, '0s'], [45_000, '45s'], [59_900, '59s'], [59_999, '59s'], [60_000, '1m00s'],
    [185_000, '3m05s'], [3_599_999, '59m59s'], [3_600_000, '1h00m'], [2 * 3_600_000 + 4 * 60_000 + 59_000, '2h04m'],
    [86_399_999, '23h59m'], [86_400_000, '1d00h'], [3 * 86_400_000 + 4 * 3_600_000, '3d04h'],
    [1000 * 86_400_000, '1000d00h'], [-5_000, '0s'], [null, '-'], [Number.NaN, '-'], [Infinity, '-'],
  ];
  for (const [ms, want] of cases) assert.equal(formatDuration(ms), want, `formatDuration(${ms})`);
});

test('formatBytes: binary units, one decimal under 100, the unit steps up when rounding reaches 1024', () => {
  const cases: [number | null, string][] = [
    [0, '0B'], [512, '512B'], [1023, '1023B'], [1024, '1.0K'], [812 * KiB, '812K'], [99.94 * KiB, '99.9K'],
    [99.96 * KiB, '100K'], [1023.4 * KiB, '1023K'], [1023.97 * KiB, '1.0M'], [41.2 * MiB, '41.2M'], [256 * MiB, '256M'],
    [1.2 * GiB, '1.2G'], [5 * 1024 * GiB, '5.0T'], [Number.MAX_SAFE_INTEGER, '8.0P'], [2 ** 70, '1024E'],
    [null, '-'], [-1, '-'], [Number.NaN, '-'],
  ];
  for (const [n, want] of cases) assert.equal(formatBytes(n), want, `formatBytes(${n})`);
});

test('formatPercent: one decimal under 10, whole numbers above, - for no sample', () => {
  const cases: [number | null, string][] = [
    [0, '0%'], [0.04, '0.0%'], [0.3, '0.3%'], [9.94, '9.9%'], [9.96, '10%'], [12.4, '12%'], [101, '101%'],
    [1234.5, '1235%'], [null, '-'], [-1, '-'], [Number.NaN, '-'],
  ];
  for (const [p, want] of cases) assert.equal(formatPercent(p), want, `formatPercent(${p})`);
});

test('formatAgo: elapsed time, clamped at zero for a future timestamp', () => {
  assert.equal(formatAgo(NOW - 12_000, NOW), '12s ago');
  assert.equal(formatAgo(NOW - 125_000, NOW), '2m05s ago');
  assert.equal(formatAgo(NOW + 3_000, NOW), '0s ago');
});

test('formatCount: singular only for exactly one', () => {
  assert.equal(formatCount(0, 'agent'), '0 agents');
  assert.equal(formatCount(1, 'agent'), '1 agent');
  assert.equal(formatCount(40, 'restart'), '40 restarts');
});

const exit = (over: Partial<LastExitJson>): LastExitJson => ({ code: null, signal: null, at: NOW - 12_000, reason: '', clean: false, ...over });

test('formatExit: short forms for codes, signals, clean exits and supervisor kills; long forms keep the whole reason', () => {
  const cases: [LastExitJson, string, string][] = [
    [exit({ code: 3, reason: 'exited with code 3' }), 'code 3', 'exited with code 3, 12s ago'],
    [exit({ code: 0, reason: 'exited normally', clean: true }), 'ok', 'exited normally, 12s ago'],
    [exit({ signal: 'SIGKILL', reason: 'killed by SIGKILL' }), 'SIGKILL', 'killed by SIGKILL, 12s ago'],
    [exit({ signal: 'SIGTERM', reason: 'stopped', clean: true }), 'stopped', 'stopped, 12s ago'],
    [exit({ signal: 'SIGKILL', reason: 'memory limit: rss 301 MiB over 64 MiB' }), 'memory limit', 'memory limit: rss 301 MiB over 64 MiB, 12s ago'],
    [exit({ signal: 'SIGKILL', reason: 'hung: no heartbeat for 5200 ms (limit 5000 ms)' }), 'hung', 'hung: no heartbeat for 5200 ms (limit 5000 ms), 12s ago'],
    [exit({ signal: 'SIGKILL', reason: 'not reading its channel (9000000 bytes backlogged)' }), 'not reading its channel', 'not reading its channel (9000000 bytes backlogged), 12s ago'],
    [exit({ code: 1, reason: '' }), 'code 1', 'code 1, 12s ago'],
  ];
  for (const [e, short, long] of cases) {
    assert.equal(formatExit(e), short, e.reason);
    assert.equal(formatExitLong(e, NOW), long, e.reason);
  }
  assert.equal(formatExit(exit({ code: 3, reason: 'exited with code 3' }), NOW), 'code 3, 12s ago');
  assert.equal(formatExit(null), '-');
  assert.equal(formatExit(null, NOW), '-');
  assert.equal(formatExitLong(null, NOW), '-');
});

// ---- color -------------------------------------------------------------------

test('colorEnabled: a TTY only, NO_COLOR and TERM=dumb turn it off, FORCE_COLOR on, NO_COLOR wins', () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };
  const cases: [{ isTTY?: boolean }, NodeJS.ProcessEnv, boolean][] = [
    [tty, {}, true],
    [pipe, {}, false],
    [{}, {}, false],
    [tty, { TERM: 'xterm-256color' }, true],
    [tty, { TERM: 'dumb' }, false],
    [tty, { NO_COLOR: '1' }, false],
    [tty, { NO_COLOR: '' }, true], // no-color.org: only a non-empty value counts
    [pipe, { FORCE_COLOR: '1' }, true],
    [pipe, { FORCE_COLOR: '' }, true],
    [pipe, { FORCE_COLOR: '0' }, false],
    [pipe, { FORCE_COLOR: 'false' }, false],
    [tty, { TERM: 'dumb', FORCE_COLOR: '1' }, true],
    [pipe, { FORCE_COLOR: '1', NO_COLOR: '1' }, false],
    [tty, { FORCE_COLOR: '3', NO_COLOR: 'yes' }, false],
  ];
  for (const [stream, env, want] of cases) assert.equal(colorEnabled(stream, env), want, `${JSON.stringify(stream)} ${JSON.stringify(env)}`);
});

test('createPaint: disabled is the identity; enabled wraps in escape codes that stripAnsi removes', () => {
  for (const style of ['red', 'green', 'yellow', 'cyan', 'dim', 'bold', 'inverse'] as const) {
    assert.equal(plain[style]('text'), 'text');
    assert.notEqual(color[style]('text'), 'text');
    assert.ok(color[style]('text').includes(ESC));
    assert.equal(stripAnsi(color[style]('text')), 'text');
  }
  assert.equal(plain.enabled, false);
  assert.equal(color.enabled, true);
});

// ---- table -------------------------------------------------------------------

test('truncateText: cuts to the width with …, escape codes take no room and are closed', () => {
  assert.equal(truncateText('abcdef', 10), 'abcdef');
  assert.equal(truncateText('abcdef', 6), 'abcdef');
  assert.equal(truncateText('abcdef', 5), 'abcd…');
  assert.equal(truncateText('abcdef', 1), '…');
  assert.equal(truncateText('abcdef', 0), '');
  const red = color.red('abcdef');
  assert.equal(truncateText(red, 6), red);
  const cut = truncateText(red, 4);
  assert.equal(stripAnsi(cut), 'abc…');
  assert.equal(measureWidth(cut), 4);
  assert.ok(cut.endsWith('\x1b[0m'), 'a cut coloured string is reset');
});

const cols: Column[] = [
  { header: 'NAME', priority: 10, minWidth: 6 },
  { header: 'N', align: 'right', priority: 9 },
  { header: 'NOTE', priority: 1 },
];
const tableRows = [['alpha-beta-gamma', '7', 'low priority'], ['b', '1234', 'x']];

test('renderTable: natural widths without a limit, right alignment, colour not counted', () => {
  const lines = renderTable(cols, [...tableRows, [{ text: 'c', paint: color.red }, '5', 'y']], { paint: color });
  assert.deepEqual(lines.map(stripAnsi), [
    'NAME                 N  NOTE',
    'alpha-beta-gamma     7  low priority',
    'b                 1234  x',
    'c                    5  y',
  ]);
  assert.ok(lines[3]!.includes(color.red('c')), 'the style is applied to the cell');
});

test('renderTable: too narrow, truncatable columns shrink first, then the lowest priority column goes', () => {
  // 16 + 2 + 4 + 2 + 12 = 36 natural; at 30 NAME gives up 6 characters (to 10) and NOTE stays.
  assert.deepEqual(renderTable(cols, tableRows, { width: 30, paint: plain }), [
    'NAME           N  NOTE',
    'alpha-bet…     7  low priority',
    'b           1234  x',
  ]);
  // NAME's minimum (6) + N (4) + NOTE (12) + gaps (4) = 26: at 25 NOTE is dropped and NAME takes the room back.
  assert.deepEqual(renderTable(cols, tableRows, { width: 25, paint: plain }), [
    'NAME                 N',
    'alpha-beta-gamma     7',
    'b                 1234',
  ]);
  // Narrower than any layout: the lines are clipped, never longer than the width.
  for (const line of renderTable(cols, tableRows, { width: 5, paint: plain })) assert.ok(measureWidth(line) <= 5, line);
});

test('renderTable: spare room goes first to the cut columns that need the least to be whole', () => {
  const two: Column[] = [{ header: 'A', priority: 10, minWidth: 6 }, { header: 'B', priority: 5, minWidth: 4 }];
  // Minimums 6 + 2 + 4 = 12; at 16 the 4 spare make B whole rather than give A four more characters.
  assert.deepEqual(renderTable(two, [['a'.repeat(20), 'b'.repeat(8)]], { width: 16, paint: plain }), ['A       B', 'aaaaa…  bbbbbbbb']);
});

test('fitParts: whole parts left out by priority, each kept part joined by its own glue', () => {
  const parts: LinePart[] = [
    { text: '7 agents', priority: 100 },
    { text: '(2 running)', priority: 50, glue: ' ' },
    { text: 'cpu 1%', priority: 90 },
    { text: '/etc/outheis.yaml', priority: 1 },
  ];
  assert.equal(fitParts(parts, undefined), '7 agents (2 running) · cpu 1% · /etc/outheis.yaml');
  assert.equal(fitParts(parts, 29), '7 agents (2 running) · cpu 1%');
  assert.equal(fitParts(parts, 20), '7 agents · cpu 1%');
  assert.equal(fitParts(parts, 5), '7 ag…');
});

// ---- status ------------------------------------------------------------------

const long = (c: string): string => `${c}${'x'.repeat(61)}`;

function agent(over: Partial<AgentStatusJson> & { name: string }): AgentStatusJson {
  return {
    group: null, pid: 1000, state: 'running', uptimeMs: 185_000, restarts: 0, lastExit: null, cpu: 0.3, rss: 41.2 * MiB,
    memoryLimit: null, mailbox: 0, inflight: 0, qos: 'user', isolation: { layers: ['env', 'fds'], weaker: false }, deadLetters: 0, ...over,
  };
}

const fixture: StatusResult = {
  supervisor: {
    pid: 4242, version: '0.1.0', startedAt: NOW - 185_000, uptimeMs: 185_000, cpu: 0.4, rss: 71.2 * MiB,
    config: '/srv/outheis/outheis.yaml', stateDir: '/srv/outheis/.outheis', stopping: false,
    journal: { dir: '/srv/outheis/.outheis/journal', bytes: 3.5 * MiB, segments: 2, lastSeq: 48_213, fsync: 'batch', failures: 0, lastError: null, maxAttempts: 5, maxBytes: 1024 * MiB, retainMs: 86_400_000, damaged: [] },
  },
  agents: [
    agent({ name: 'data', group: 'core', pid: 31337, restarts: 2, memoryLimit: 256 * MiB, rss: 241 * MiB, mailbox: 3, inflight: 1, qos: 'utility', isolation: { layers: ['env', 'fds', 'rlimits'], weaker: false }, lastExit: exit({ signal: 'SIGKILL', reason: 'memory limit: rss 301 MiB over 256 MiB' }) }),
    agent({ name: 'notes', group: 'core', pid: 31338, state: 'starting', uptimeMs: 0, cpu: null, rss: null, isolation: { layers: ['env', 'fds'], weaker: true } }),
    agent({ name: long('r'), pid: 31340, cpu: 12.4, rss: 1.2 * GiB, qos: 'interactive', mailbox: 1200 }),
    agent({ name: long('b'), pid: null, state: 'backoff', uptimeMs: 0, cpu: null, rss: null, restarts: 7, lastExit: exit({ code: 3, reason: 'exited with code 3' }) }),
    agent({ name: 'janitor', pid: 31339, state: 'stopping', qos: 'background' }),
    agent({ name: 'mailer', pid: null, state: 'stopped', uptimeMs: 0, cpu: null, rss: null, lastExit: exit({ signal: 'SIGTERM', reason: 'stopped', clean: true }) }),
    agent({ name: 'crashy', pid: null, state: 'failed', uptimeMs: 0, cpu: null, rss: null, restarts: 5, lastExit: exit({ signal: 'SIGKILL', reason: 'hung: no heartbeat for 5200 ms (limit 5000 ms)' }) }),
  ],
};

const CORE = ['AGENT', 'PID', 'STATE', '↺', 'CPU', 'MEM'];
// Line 0: the supervisor; 1: the journal; 2: blank; 3: the table's header.
const headerOf = (out: string): string[] => stripAnsi(out.split('\n')[3]!).trim().split(/\s{2,}/);

test('renderStatus at 80 columns: every line fits, the core columns and the weaker marker are there', () => {
  for (const paint of [plain, color]) {
    const out = renderStatus(fixture, { now: NOW, width: 80, paint });
    for (const line of out.split('\n')) assert.ok(measureWidth(line) <= 80, `${measureWidth(line)}: ${line}`);
    // Whole parts give way, the least useful first (the state breakdown repeats the table), instead of a cut mid-word.
    assert.equal(stripAnsi(out.split('\n')[0]!), 'outheis 0.1.0 · pid 4242 · up 3m05s · 7 agents · cpu 0.4% · rss 71.2M');
    const header = headerOf(out);
    for (const c of CORE) assert.ok(header.includes(c), `${c} in ${header.join('|')}`);
    assert.ok(!header.includes('QOS'), 'QOS is the first to go');
    const text = stripAnsi(out);
    assert.match(text, /WEAKER/);
    assert.match(text, /^.*core\/notes.*WEAKER/m, 'the weaker agent is named on a marked line');
    assert.match(text, /241M\/256M!/, 'memory over 80% of the limit is marked in the text');
    for (const state of ['running', 'starting', 'backoff', 'stopping', 'stopped', 'failed']) assert.match(text, new RegExp(`\\b${state}\\b`));
  }
});

test('renderStatus at 200 columns and unlimited: every column, whole names, supervisor line first', () => {
  for (const width of [200, undefined]) {
    const out = renderStatus(fixture, { now: NOW, width, paint: plain });
    const lines = out.split('\n');
    if (width !== undefined) for (const line of lines) assert.ok(line.length <= width, `${line.length}: ${line}`);
    assert.equal(lines[0], 'outheis 0.1.0 · pid 4242 · up 3m05s · 7 agents (2 running, 1 starting, 1 backoff, 1 stopping, 1 stopped, 1 failed) · cpu 0.4% · rss 71.2M · /srv/outheis/outheis.yaml');
    assert.equal(lines[1], 'journal 3.5M/1.0G in 2 segments · seq 48213 · fsync batch');
    assert.equal(lines[2], '');
    assert.deepEqual(headerOf(out), ['AGENT', 'PID', 'STATE', 'UPTIME', '↺', 'LAST EXIT', 'CPU', 'MEM', 'MAILBOX', 'QOS', 'ISOLATION']);
    assert.ok(out.includes(long('r')) && out.includes(long('b')), 'a 62-character name is not cut');
    const row = (name: string): string => lines.find((l) => l.startsWith(name + ' '))!;
    assert.match(row('core/data'), /^core\/data\s+31337\s+running\s+3m05s\s+2\s+memory limit, 12s ago\s+0\.3%\s+241M\/256M!\s+3\+1\s+utility\s+env,fds,rlimits$/);
    assert.match(row('core/notes'), /\s+31338\s+starting\s+-\s+0\s+-\s+-\s+-\s+0\s+user\s+WEAKER env,fds$/);
    assert.match(row(long('b')), /\s+-\s+backoff\s+-\s+7\s+code 3, 12s ago\s+/);
    assert.match(row('crashy'), /failed .* hung, 12s ago /);
    assert.match(row('mailer'), /stopped .* stopped, 12s ago /);
    assert.match(row(long('r')), /12%\s+1\.2G\s+1200\s+interactive/);
  }
});

test('renderStatus --wide: whole exit reasons', () => {
  const out = renderStatus(fixture, { now: NOW, paint: plain, wide: true });
  assert.match(out, /memory limit: rss 301 MiB over 256 MiB, 12s ago/);
  assert.match(out, /hung: no heartbeat for 5200 ms \(limit 5000 ms\), 12s ago/);
});

test('renderStatus: no escape codes without colour; states coloured with it', () => {
  for (const width of [40, 80, 200, undefined]) assert.ok(!renderStatus(fixture, { now: NOW, width, paint: plain }).includes(ESC), `width ${width}`);
  const out = renderStatus(fixture, { now: NOW, width: 200, paint: color });
  assert.ok(out.includes(color.green('running')));
  assert.ok(out.includes(color.yellow('backoff')));
  assert.ok(out.includes(color.dim('stopped')));
  assert.ok(out.includes(color.red('failed')));
  assert.ok(out.includes(color.bold(color.red('WEAKER env,fds'))));
});

test('renderStatus: narrower than the core still fits every line', () => {
  for (const width of [60, 40, 20]) {
    for (const line of renderStatus(fixture, { now: NOW, width, paint: color }).split('\n')) {
      assert.ok(measureWidth(line) <= width, `${width}: ${line}`);
    }
  }
});

test('renderStatus: the journal line leads with a failing journal and names dead letters; none without a journal', () => {
  const failing: StatusResult = {
    supervisor: { ...fixture.supervisor, journal: { ...fixture.supervisor.journal!, failures: 3, lastError: 'journal write failed: ENOSPC (no space left on device)' } },
    agents: [agent({ name: 'a', deadLetters: 2 }), agent({ name: 'b' }), agent({ name: 'c', deadLetters: 1 })],
  };
  const lines = renderStatus(failing, { now: NOW, paint: plain }).split('\n');
  assert.equal(lines[1], 'JOURNAL FAILING (3): journal write failed: ENOSPC (no space left on device) · journal 3.5M/1.0G in 2 segments · seq 48213 · fsync batch · 3 dead letters (a 2, c 1)');
  const narrow = stripAnsi(renderStatus(failing, { now: NOW, width: 60, paint: color }).split('\n')[1]!);
  assert.match(narrow, /^JOURNAL FAILING/, 'the failure survives a narrow terminal');
  const damaged: StatusResult = { ...fixture, supervisor: { ...fixture.supervisor, journal: { ...fixture.supervisor.journal!, damaged: [{ file: '/j/0000000000000001.seg', movedTo: '/j/damaged/0000000000000001.seg.4096', bytes: 512, reason: 'CRC mismatch' }] } } };
  assert.match(renderStatus(damaged, { now: NOW, paint: plain }).split('\n')[1]!, /^DAMAGE MOVED ASIDE at start: \/j\/damaged\/0000000000000001\.seg\.4096 · journal /);
  const none = renderStatus({ ...fixture, supervisor: { ...fixture.supervisor, journal: null } }, { now: NOW, paint: plain }).split('\n');
  assert.equal(none[1], '');
});

test('renderStatus: no agents says so; a stopping supervisor is marked', () => {
  const empty: StatusResult = { supervisor: { ...fixture.supervisor, stopping: true }, agents: [] };
  const lines = renderStatus(empty, { now: NOW, width: 80, paint: plain }).split('\n');
  assert.deepEqual(lines.slice(1), ['journal 3.5M/1.0G in 2 segments · seq 48213 · fsync batch', '', 'no agents']);
  assert.equal(lines[0], 'outheis 0.1.0 · stopping · pid 4242 · up 3m05s · 0 agents · cpu 0.4% · rss 71.2M');
});
