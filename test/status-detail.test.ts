// `outheis status <agent>` and `outheis logs <agent>` for finding out why an agent
// failed (issue 10, item 14): a crash-looping agent prints distinct stderr lines
// before each exit (tagged per incarnation, the exit code announced last), and the
// detail must show each exit with its reason and that incarnation's lines, the
// restarts in the window, the backoff it waits out, and its manifest with env names
// but never their values. `logs <agent>` carries the supervisor's events about it,
// merged by time, also when following.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { detailResultSchema, type DetailResult } from '../supervisor/control/protocol.js';
import { EventEmitter } from 'node:events';
import { ExitHistory, EXITS_KEPT, STDERR_BYTES, STDERR_LINES } from '../supervisor/exit-history.js';
import { startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { CLI, fixture, until } from './helpers/harness.js';

const SECRET = 'not-for-anyone-s3cr3t';

async function crashLoop(): Promise<Daemon> {
  return startDaemon([
    'supervisor: { intensity: 1000, period: 20s, backoff: { initial: 50ms, max: 200ms } }',
    'groups:',
    '  slow: { intensity: 1000, period: 1m, backoff: { initial: 30s, max: 30s } }',
    'agents:',
    `  crashy: { run: ${fixture('crashloop.js')}, env: [OUTHEIS_TEST_KEY], limits: { memory: 512MiB, nofile: 256 } }`,
    `  waits: { run: ${fixture('crashloop.js')}, args: [--long-line], group: slow }`,
    `  calm: { run: ${fixture('echo.js')} }`,
  ], { env: { ...process.env, OUTHEIS_TEST_KEY: SECRET } });
}

function detail(d: Daemon, agent: string): DetailResult {
  const r = d.cli(['status', agent, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes(SECRET), 'an env value showed in status --json');
  return detailResultSchema.parse(JSON.parse(r.stdout));
}

test('status <agent>: each exit with its reason and the stderr lines its own process printed before it', async (t) => {
  const d = await crashLoop();
  t.after(() => stop(d, 'SIGKILL'));
  const got = await until('crashy to have exited 4 times', () => {
    const x = detail(d, 'crashy');
    return x.exits.length >= 4 ? x : undefined;
  }, 30000);
  const tags = new Set<string>();
  for (const e of got.exits) {
    assert.equal(e.clean, false);
    assert.match(e.reason, /^exited with code \d$/);
    // The last STDERR_LINES lines, all of one incarnation, in order, ending with its announcement of this very code.
    assert.equal(e.stderr.length, STDERR_LINES, JSON.stringify(e.stderr));
    const tag = e.stderr[0]!.split(' ')[0]!;
    assert.deepEqual(e.stderr, [...[4, 5, 6, 7, 8, 9, 10, 11, 12].map((i) => `${tag} line ${i}`), `${tag} exiting with code ${e.code}`]);
    assert.ok(!tags.has(tag), 'each exit has its own lines');
    tags.add(tag);
  }
  // Newest first.
  for (let i = 1; i < got.exits.length; i++) assert.ok(got.exits[i - 1]!.at >= got.exits[i]!.at);
  assert.equal(got.restarts.windowMs, 20000);
  assert.equal(got.restarts.intensity, 1000);
  assert.equal(got.restarts.group, 'root');
  assert.ok(got.restarts.inWindow >= 3 && got.restarts.inWindow <= got.agent.restarts, JSON.stringify(got.restarts));
  // The manifest as configured; env by name only.
  assert.deepEqual(got.manifest.env, ['OUTHEIS_TEST_KEY']);
  assert.equal(got.manifest.limits.memory, 512 * 1024 * 1024);
  assert.equal(got.manifest.limits.nofile, 256);
  assert.equal(got.manifest.restart, 'permanent');
  assert.match(got.manifest.run, /crashloop\.js$/);
  assert.ok(got.agent.isolation.layers.length > 0);

  // The same, for people.
  const text = d.cli(['status', 'crashy']);
  assert.equal(text.code, 0, text.stderr);
  assert.ok(!text.stdout.includes(SECRET));
  assert.match(text.stdout, /^crashy {2}\w+/);
  assert.match(text.stdout, /env {9}OUTHEIS_TEST_KEY \(names only\)/);
  assert.match(text.stdout, /limits {6}memory 512M · nofile 256 · frame 1\.0M · mailbox 10000/);
  assert.match(text.stdout, /restarts {4}\d+ in the last 20s \(the root supervisor allows 1000 within 20s\)/);
  assert.match(text.stdout, /last exits, newest first\n {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} {2}exited with code \d/);
  assert.match(text.stdout, / {6}│ \w{8} exiting with code \d/);
  await stop(d);
});

test('status <agent> in a backoff: when it starts next; a long stderr line is cut; an unknown agent is ENOAGENT', async (t) => {
  const d = await crashLoop();
  t.after(() => stop(d, 'SIGKILL'));
  // The first crash restarts at once; the second waits out the group's 30 s backoff.
  const got = await until('waits to be in its backoff', () => {
    const x = detail(d, 'waits');
    return x.agent.state === 'backoff' ? x : undefined;
  }, 30000);
  assert.ok(got.backoff, 'a pending backoff is shown');
  assert.equal(got.backoff.delayMs, 30000);
  assert.ok(got.backoff.nextStartAt > got.exits[0]!.at, 'the next start comes after the last exit');
  assert.equal(got.restarts.group, 'slow');
  assert.equal(got.restarts.windowMs, 60000);
  assert.equal(got.restarts.inWindow, 2);
  const long = got.exits[0]!.stderr.find((l) => l.includes(' long '))!;
  assert.ok(Buffer.byteLength(long) <= 1024 + 3 && long.endsWith('…'), `cut: ${long.length}`);
  const text = d.cli(['status', 'waits']);
  assert.match(text.stdout, /backoff {5}next start in \d+(\.\d+)?s \(a delay of 30s\)/);
  // A calm agent: no exits, no backoff.
  const calm = detail(d, 'calm');
  assert.deepEqual(calm.exits, []);
  assert.equal(calm.backoff, null);
  assert.match(d.cli(['status', 'calm']).stdout, /none since the supervisor started/);
  const ghost = d.cli(['status', 'ghost']);
  assert.equal(ghost.code, 1);
  assert.match(ghost.stderr, /no agent named "ghost"/);
  await stop(d);
});

interface Rec { time: number; msg: string; agent?: string; agents?: string[]; stream?: string }
const records = (out: string): Rec[] => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);

test("logs <agent>: its own lines and the supervisor's events about it (and no other agent's), merged by time; also with -f", async (t) => {
  const d = await crashLoop();
  t.after(() => stop(d, 'SIGKILL'));
  await until('crashy to have exited twice', () => (detail(d, 'crashy').exits.length >= 2 ? true : undefined), 30000);
  const r = d.cli(['logs', 'crashy', '-n', '400', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const recs = records(r.stdout);
  const msgs = new Set(recs.filter((x) => x.stream === undefined).map((x) => x.msg));
  for (const m of ['spawned', 'ready', 'exited', 'restarting']) assert.ok(msgs.has(m), `no "${m}" event in logs crashy: ${[...msgs].join(', ')}`);
  assert.ok(recs.some((x) => x.stream === 'stderr'), 'its own lines too');
  assert.ok(recs.every((x) => x.agent === 'crashy' || x.agents?.includes('crashy')), 'only records about crashy');
  for (let i = 1; i < recs.length; i++) assert.ok(recs[i]!.time >= recs[i - 1]!.time, 'merged by time');
  // For people: the events are rendered among its lines.
  const text = d.cli(['logs', 'crashy', '-n', '400']);
  assert.match(text.stdout, /WARN +exited/);
  assert.match(text.stdout, /err {2}\w{8} exiting with code \d/);

  // Following: new exits and restarts arrive as they happen.
  const f = spawn(process.execPath, [CLI, 'logs', 'crashy', '-f', '-n', '0', '--json', '--state-dir', d.stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => f.kill('SIGKILL'));
  let out = '';
  f.stdout.on('data', (c) => (out += c));
  await until(() => `an exit and a restart followed:\n${out}`, () => {
    const m = records(out).map((x) => x.msg);
    return m.includes('exited') && m.includes('restarting') && m.includes('spawned') ? true : undefined;
  }, 30000);
  f.kill('SIGTERM');
  assert.ok(records(out).every((x) => x.agent === 'crashy' || x.agents?.includes('crashy')));
  await stop(d);
});

test('the exit history without processes: late lines, a failed start, and every bound', () => {
  const sup = new EventEmitter();
  let now = 0;
  const h = ExitHistory.listen(sup, () => 10_000, () => now);
  const exit = (code: number, at: number) => {
    now = at;
    sup.emit('exit', 'a', { code, signal: null, at, reason: `exited with code ${code}`, clean: false });
  };
  sup.emit('spawn', 'a', 1);
  sup.emit('output', 'a', 'stdout', 'not stderr', false);
  for (let i = 0; i < 15; i++) sup.emit('output', 'a', 'stderr', `one ${i}`, false);
  exit(3, 1000);
  // Read from its pipe after its exit, before the next start: still that exit's.
  sup.emit('output', 'a', 'stderr', 'one late', false);
  sup.emit('restart', 'a', 0, 'x');
  // A start that fails has no lines of its own.
  exit(1, 2000);
  sup.emit('restart', 'a', 400, 'x');
  let got = h.get('a', 2100);
  assert.deepEqual(got.exits.map((e) => e.stderr), [[], [...Array.from({ length: 9 }, (_, i) => `one ${i + 6}`), 'one late']]);
  assert.equal(got.nextStartAt, 2400);
  assert.equal(h.get('a', 2500).nextStartAt, undefined, 'a backoff that is over is not pending');
  assert.equal(got.lastDelayMs, 400);
  assert.equal(got.restarts.length, 2);
  // Bytes: long lines are cut, and an exit keeps at most STDERR_BYTES of them.
  sup.emit('spawn', 'a', 2);
  for (let i = 0; i < STDERR_LINES; i++) sup.emit('output', 'a', 'stderr', `${i} ${'é'.repeat(2000)}`, false);
  exit(4, 3000);
  got = h.get('a', 3000);
  const kept = got.exits[0]!.stderr;
  assert.ok(kept.length >= 1 && kept.length < STDERR_LINES, `${kept.length} lines kept`);
  assert.ok(kept.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0) <= STDERR_BYTES);
  assert.ok(kept.every((l) => l.endsWith('…') && !l.includes('\uFFFD')));
  assert.equal(kept.at(-1)!.split(' ')[0], String(STDERR_LINES - 1), 'the last lines are the ones kept');
  // At most EXITS_KEPT exits; restarts older than the window are not counted.
  for (let i = 0; i < 20; i++) exit(5, 4000 + i);
  assert.equal(h.get('a', 4100).exits.length, EXITS_KEPT);
  assert.equal(h.get('a', 30_000).restarts.length, 0);
  assert.deepEqual(h.get('unknown').exits, []);
});
