// `outheis journal` and `outheis replay` on real journal files written by the
// JournalWriter, with no supervisor running: filters, --since, --json, damage,
// --follow across segments, and replay's state at a seq, a time and the end;
// then both beside a real supervisor, and replay --live.
// (Long because the verbs share one set of journal files written up front.)
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { replay } from '../logs/journal/replay.js';
import type { JournalRecord, NewRecord } from '../logs/journal/record.js';
import type { AnyNewRecord } from '../logs/journal/schema.js';
import { listSegments } from '../logs/journal/segment.js';
import { followRecords } from '../logs/journal/tail.js';
import { JournalWriter } from '../logs/journal/writer.js';
import { packValue } from '../protocol/frame.js';
import { startDaemon, stop } from './helpers/daemon.js';
import { CLI, cliReadableBy, fixture, until } from './helpers/harness.js';
import { scratchDirs } from './helpers/scratch.js';

const scratch = scratchDirs('outheis-journal-cli-');

/** A state directory `<tmp>/.outheis` and its journal directory. */
function stateDir(): { state: string; journal: string } {
  const state = join(scratch(), '.outheis');
  return { state, journal: join(state, 'journal') };
}

const env = (): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete e.FORCE_COLOR;
  return e;
};

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: env(), timeout: 30000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** HH:MM:ss.mmm in local time, as the journal prints it. */
function clockOf(at: number): string {
  const d = new Date(at);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':') + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

/** The seq at the start of each output line. */
const seqsOf = (stdout: string): number[] => stdout.split('\n').filter(Boolean).map((l) => Number(l.split(' ')[0]));

async function write(dir: string, records: AnyNewRecord[], opts: { segmentBytes?: number } = {}): Promise<void> {
  const w = await JournalWriter.open(dir, { fsync: 'none', ...opts });
  for (const r of records) await w.append(r as NewRecord);
  await w.close();
}

// The story the main fixture tells, at fixed times: an old run three hours ago,
// then two records a minute ago.
const T0 = Date.now() - 3 * 3600_000;
const RECENT = Date.now() - 60_000;
const body = (i: number) => packValue({ name: `n${i}` });
const STORY: AnyNewRecord[] = [
  /* 1 */ { type: 'start', pid: 100, config: '/etc/outheis.yaml', version: '0.1.0', at: T0 },
  /* 2 */ { type: 'spawn', agent: 'bob', pid: 200, at: T0 + 1000 },
  /* 3 */ { type: 'ready', agent: 'bob', pid: 201, at: T0 + 1001 },
  /* 4-8: messages 1..5 to bob */
  ...[1, 2, 3, 4, 5].map((i): AnyNewRecord => ({ type: 'accept', id: i, from: 'alice', to: 'bob', kind: 'greet', qos: 'user', body: body(i), at: T0 + 10_000 + i })),
  /* 9 */ { type: 'accept', id: 6, from: 'alice', to: 'carol', kind: 'ping', qos: 'interactive', body: packValue({ x: 1 }), at: T0 + 10_010 },
  /* 10 */ { type: 'deliver', agent: 'bob', ids: [1, 2, 3, 4, 5], at: T0 + 11_000 },
  /* 11 */ { type: 'ack', agent: 'bob', ids: [1, 2], at: T0 + 12_000 },
  /* 12 */ { type: 'deadletter', agent: 'bob', id: 3, from: 'alice', kind: 'greet', attempts: 5, reason: 'too many attempts', at: T0 + 13_000 },
  /* 13 */ { type: 'checkpoint', agent: 'bob', state: packValue({ n: 7 }), at: T0 + 14_000 },
  /* 14 */ { type: 'exit', agent: 'bob', code: null, signal: 'SIGKILL', reason: 'killed by SIGKILL', clean: false, at: T0 + 20_000 },
  /* 15 */ { type: 'restart', agent: 'bob', delayMs: 100, reason: 'killed by SIGKILL', at: T0 + 20_001 },
  /* 16 */ { type: 'spawn', agent: 'bob', pid: 300, at: RECENT },
  /* 17 */ { type: 'ack', agent: 'carol', ids: [6], at: RECENT + 1 },
];

let story: Promise<{ state: string; journal: string }> | undefined;
/** The story's journal, written once and only read by the tests that share it. */
function storyJournal(): Promise<{ state: string; journal: string }> {
  story ??= (async () => {
    const d = stateDir();
    await write(d.journal, STORY);
    return d;
  })();
  return story;
}

test('journal prints one line per record: seq, local time, type, details', async () => {
  const { state } = await storyJournal();
  const r = cli('journal', '--state-dir', state);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.deepEqual(seqsOf(r.stdout), Array.from({ length: 17 }, (_, i) => i + 1));
  assert.match(lines[3]!, new RegExp(`^4 ${clockOf(T0 + 10_001)} accept +#1 alice → bob  kind=greet qos=user  \\{"name":"n1"\\}$`));
  assert.match(lines[9]!, /^10 \S+ deliver +bob #1 #2 #3 #4 #5$/);
  assert.match(lines[11]!, /^12 \S+ deadletter bob #3 from alice kind=greet after 5 attempts: too many attempts$/);
  assert.match(lines[12]!, /^13 \S+ checkpoint bob \{"n":7\}$/);
  assert.match(lines[13]!, /^14 \S+ exit +bob killed by SIGKILL \(FAILED\)$/);
  assert.match(lines[14]!, /^15 \S+ restart +bob in 100ms: killed by SIGKILL$/);
  assert.match(lines[0]!, /^1 \S+ start +pid 100 config \/etc\/outheis\.yaml version 0\.1\.0$/);
  assert.ok(!r.stdout.includes('\x1b'), 'NO_COLOR: no escape codes');
  // Colour when forced: the failed exit in red.
  const forced = spawnSync(process.execPath, [CLI, 'journal', '--state-dir', state, '--kind', 'exit'], { encoding: 'utf8', env: { ...env(), NO_COLOR: '', FORCE_COLOR: '1' } });
  assert.match(forced.stdout, /\x1b\[31mbob killed by SIGKILL \(FAILED\)\x1b\[39m/);
});

test('journal --agent matches the agent, a message\'s sender or recipient; --kind a record type or a message kind', async () => {
  const { state } = await storyJournal();
  const seqs = (...args: string[]) => {
    const r = cli('journal', '--state-dir', state, ...args);
    assert.equal(r.code, 0, r.stderr);
    return seqsOf(r.stdout);
  };
  assert.deepEqual(seqs('--agent', 'carol'), [9, 17]);
  assert.deepEqual(seqs('--agent', 'alice'), [4, 5, 6, 7, 8, 9, 12]);
  assert.deepEqual(seqs('--kind', 'exit'), [14]);
  assert.deepEqual(seqs('--kind', 'greet'), [4, 5, 6, 7, 8, 12]);
  assert.deepEqual(seqs('--kind', 'ping,restart'), [9, 15]);
  assert.deepEqual(seqs('--kind', 'ack', '--kind', 'spawn', '--agent', 'bob'), [2, 11, 16]);
  assert.deepEqual(seqs('--kind', 'no-such-kind'), []);
  assert.deepEqual(seqs('--agent', 'bob', '-n', '2'), [15, 16]);
  assert.deepEqual(seqs('-n', '0'), []);
});

test('journal --since takes a seq, a duration ago or a time; -n then keeps the last of the range', async () => {
  const { state } = await storyJournal();
  const seqs = (...args: string[]) => {
    const r = cli('journal', '--state-dir', state, ...args);
    assert.equal(r.code, 0, r.stderr);
    return seqsOf(r.stdout);
  };
  assert.deepEqual(seqs('--since', '15'), [15, 16, 17]);
  assert.deepEqual(seqs('--since', '30m'), [16, 17]);
  assert.deepEqual(seqs('--since', '30m', '-n', '1'), [17]);
  assert.deepEqual(seqs('--since', '4h', '--agent', 'carol'), [9, 17]);
  assert.deepEqual(seqs('--since', new Date(T0 + 14_000).toISOString()), [13, 14, 15, 16, 17]);
  // A time of day as the journal prints it: the last such time (three hours ago, maybe yesterday).
  assert.deepEqual(seqs('--since', clockOf(T0 + 14_000)), [13, 14, 15, 16, 17]);
  assert.deepEqual(seqs('--since', '3', '-n', '2', '--kind', 'accept'), [8, 9]);
  const bad = cli('journal', '--state-dir', state, '--since', 'yesterday-ish');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--since expects a seq .*got "yesterday-ish"/);
  assert.equal(cli('journal', '--state-dir', state, '-n', '-3').code, 2);
});

test('journal --json: one object per line, bodies and checkpoints decoded, with their size', async () => {
  const { state } = await storyJournal();
  const r = cli('journal', '--state-dir', state, '--json', '--kind', 'ping,checkpoint');
  assert.equal(r.code, 0, r.stderr);
  const [accept, checkpoint, ...rest] = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(rest.length, 0);
  assert.deepEqual(accept, {
    seq: 9, at: T0 + 10_010, type: 'accept', id: 6, from: 'alice', to: 'carol', kind: 'ping', qos: 'interactive',
    body: { x: 1 }, bodyBytes: packValue({ x: 1 }).length,
  });
  assert.deepEqual(checkpoint, { seq: 13, at: T0 + 14_000, type: 'checkpoint', agent: 'bob', state: { n: 7 }, stateBytes: packValue({ n: 7 }).length });
});

test('journal shows a record that fails its schema as unreadable, and reports a damaged segment, without stopping', async () => {
  const { state, journal } = stateDir();
  const notMsgpack = Buffer.from([0x92, 0x01]); // an array of two that ends after one
  await write(journal, [
    { type: 'spawn', agent: 'bob', pid: 1 },
    { type: 'accept', id: 9, from: 'alice' } as unknown as AnyNewRecord,
    { type: 'bogus', agent: 'bob' } as unknown as AnyNewRecord,
    { type: 'accept', id: 10, from: 'alice', to: 'bob', kind: 'raw', qos: 'user', body: notMsgpack },
    { type: 'ready', agent: 'bob', pid: 2 },
  ]);
  const r = cli('journal', '--state-dir', state);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 5);
  assert.match(lines[1]!, /^2 \? unreadable record: .*to: .*body: expected bytes/);
  assert.match(lines[2]!, /^3 \? unreadable record: .*type/);
  assert.match(lines[3]!, /^4 \S+ accept +#10 alice → bob  kind=raw qos=user  <2 bytes>$/);
  assert.match(lines[4]!, /^5 \S+ ready +bob pid 2$/);
  // The filters read what a damaged record does say.
  assert.deepEqual(seqsOf(cli('journal', '--state-dir', state, '--agent', 'alice').stdout), [2, 4]);

  const json = cli('journal', '--state-dir', state, '--json').stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(json[1]!.seq, 2);
  assert.match(String(json[1]!.unreadable), /body: expected bytes/);
  assert.deepEqual(Object.keys(json[1]!).sort(), ['seq', 'unreadable']);
  assert.deepEqual(json[3]!.body, { base64: notMsgpack.toString('base64') });
  assert.equal(json[3]!.bodyBytes, 2);

  // A CRC-damaged record in an older segment: the rest of that segment is skipped and
  // said on stderr; the newer segment is still read.
  const torn = stateDir();
  await write(torn.journal, Array.from({ length: 40 }, (_, i): AnyNewRecord => ({ type: 'ack', agent: 'bob', ids: [i] })), { segmentBytes: 512 });
  const segs = await listSegments(torn.journal);
  assert.ok(segs.length >= 3, `${segs.length} segments`);
  const first = readFileSync(segs[0]!.path);
  first.writeUInt8(first.readUInt8(first.length - 3) ^ 0xff, first.length - 3); // inside the last record of the first segment
  writeFileSync(segs[0]!.path, first);
  const d = cli('journal', '--state-dir', torn.state, '-n', '100');
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stderr, new RegExp(`journal damaged in ${segs[0]!.path.replace(/[.]/g, '\\.')} at byte \\d+ \\(CRC mismatch\\)`));
  const shown = seqsOf(d.stdout);
  const lastOfFirst = segs[1]!.firstSeq - 1;
  assert.ok(!shown.includes(lastOfFirst), 'the damaged record is not shown');
  assert.deepEqual(shown.filter((s) => s < lastOfFirst), Array.from({ length: lastOfFirst - 1 }, (_, i) => i + 1));
  assert.deepEqual(shown.filter((s) => s >= segs[1]!.firstSeq), Array.from({ length: 40 - lastOfFirst }, (_, i) => lastOfFirst + 1 + i));
});

test('journal and replay on a state directory without a journal exit 1 and say so', () => {
  const { state } = stateDir();
  for (const verb of ['journal', 'replay']) {
    const r = cli(verb, '--state-dir', state);
    assert.equal(r.code, 1, verb);
    assert.match(r.stderr, /no journal at .*\.outheis\/journal/);
  }
});

test('another user is told the journal is not theirs to read, not that there is none', async () => {
  assert.equal(process.getuid!(), 0, 'this test reads as nobody through setpriv: it needs root (CI runs as root)');
  const d = await storyJournal();
  chmodSync(d.state, 0o700);
  const cliPath = cliReadableBy('nobody');
  for (const verb of ['journal', 'replay']) {
    const r = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, cliPath, verb, '--state-dir', d.state], { encoding: 'utf8', env: env() });
    assert.equal(r.status, 1, `${verb}: ${r.stderr}`);
    assert.match(r.stderr, /permission denied reading .*\.outheis\/journal: the journal holds message bodies and only the user that runs the supervisor may read it/);
  }
});

test('journal -f prints what is appended after it started, across new segments, until SIGINT', async (t) => {
  const { state, journal } = stateDir();
  const w = await JournalWriter.open(journal, { fsync: 'none', segmentBytes: 1024 });
  t.after(() => w.close());
  const ack = (i: number) => w.append({ type: 'ack', agent: i % 2 ? 'bob' : 'carol', ids: [i] });
  for (let i = 1; i <= 20; i++) await ack(i); // seq i holds id i
  const p = spawn(process.execPath, [CLI, 'journal', '--state-dir', state, '-f', '-n', '2', '--agent', 'bob'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => p.kill('SIGKILL'));
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await until('the last two records', () => (seqsOf(out).length === 2 ? true : undefined));
  assert.deepEqual(seqsOf(out), [17, 19]);
  const segsBefore = (await listSegments(journal)).length;
  for (let i = 21; i <= 120; i++) await ack(i);
  assert.ok((await listSegments(journal)).length > segsBefore + 2, 'the appends rolled into new segments');
  await until('the appended records', () => (seqsOf(out).includes(119) ? true : undefined));
  const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
  p.kill('SIGINT');
  assert.equal(await exited, 0, err);
  const odd = Array.from({ length: 50 }, (_, k) => 21 + 2 * k);
  assert.deepEqual(seqsOf(out), [17, 19, ...odd], 'each of bob\'s records once, in order, none of carol\'s');
  assert.equal(err, '');
});

test('followRecords picks up after a recovery cut a torn tail and the next writer appended in its place', async (t) => {
  const { journal } = stateDir();
  await write(journal, Array.from({ length: 5 }, (_, i): AnyNewRecord => ({ type: 'ack', agent: 'bob', ids: [i + 1] })));
  const [seg] = await listSegments(journal);
  // A write torn by a crash: a header promising 100 bytes, and 10 of them.
  const header = Buffer.alloc(8);
  header.writeUInt32BE(100, 0);
  appendFileSync(seg!.path, Buffer.concat([header, Buffer.alloc(10, 7)]));

  const got: JournalRecord[] = [];
  const abort = new AbortController();
  const following = followRecords(journal, { fromSeq: 2, signal: abort.signal, pollMs: 50, onRecord: (r) => got.push(r) });
  t.after(() => abort.abort());
  await until('the records before the torn tail', () => (got.length === 4 ? true : undefined));

  const w = await JournalWriter.open(journal, { fsync: 'none' });
  assert.equal(w.recovery.truncatedBytes, 18);
  for (let i = 6; i <= 8; i++) await w.append({ type: 'ack', agent: 'bob', ids: [i] });
  await w.close();
  await until('the records written after recovery', () => (got.length === 7 ? true : undefined));
  abort.abort();
  await following;
  assert.deepEqual(got.map((r) => r.seq), [2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(got.map((r) => (r.ids as number[])[0]), [2, 3, 4, 5, 6, 7, 8]);
});

interface View {
  seq: number;
  supervisor: { running: boolean; pid: number | null; runs: number };
  agents: Record<string, { up: boolean; pid: number | null; restarts: number; pending: number[]; checkpoint: unknown; deadLetters: number; lastExit: { signal: string | null; clean: boolean } | null }>;
  deadLetters: number;
}

function replayJson(state: string, ...args: string[]): View {
  const r = cli('replay', '--state-dir', state, '--json', ...args);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as View;
}

test('replay --until a seq: pending ids, checkpoint, up/down, restarts as the records say', async () => {
  const { state } = await storyJournal();
  const at11 = replayJson(state, '--until', '11');
  assert.equal(at11.seq, 11);
  assert.deepEqual(at11.agents.bob!.pending, [3, 4, 5]);
  assert.equal(at11.agents.bob!.checkpoint, null);
  assert.deepEqual(at11.agents.carol!.pending, [6]);

  const at13 = replayJson(state, '--until', '13');
  assert.deepEqual(at13.agents.bob, { up: true, pid: 201, restarts: 0, pending: [4, 5], checkpoint: { n: 7 }, deadLetters: 1, lastExit: null });
  assert.deepEqual(at13.supervisor, { running: true, pid: 100, runs: 1 });
  assert.equal(at13.deadLetters, 1);

  const at15 = replayJson(state, '--until', '15');
  assert.equal(at15.agents.bob!.up, false);
  assert.equal(at15.agents.bob!.pid, null);
  assert.equal(at15.agents.bob!.restarts, 1);
  assert.deepEqual(at15.agents.bob!.lastExit, { code: null, signal: 'SIGKILL', reason: 'killed by SIGKILL', clean: false });
});

test('replay --until a time or a duration ago stops at the last record at or before it', async () => {
  const { state } = await storyJournal();
  const iso = replayJson(state, '--until', new Date(T0 + 30_000).toISOString());
  assert.equal(iso.seq, 15);
  assert.equal(iso.agents.bob!.up, false);
  assert.deepEqual(iso.agents.carol!.pending, [6]);
  assert.deepEqual(replayJson(state, '--until', '30m'), iso);
  assert.equal(replayJson(state, '--until', new Date(T0 + 10_003).toISOString()).seq, 6);
});

test('replay without --until is the end of the journal, and --json is replay()\'s value unchanged', async () => {
  const { state, journal } = await storyJournal();
  const end = replayJson(state);
  assert.equal(end.seq, 17);
  assert.deepEqual(end.agents.bob, {
    up: true, pid: 300, restarts: 1, pending: [4, 5], checkpoint: { n: 7 }, deadLetters: 1,
    lastExit: { code: null, signal: 'SIGKILL', reason: 'killed by SIGKILL', clean: false },
  });
  assert.equal(end.agents.carol, undefined, 'carol is owed nothing and did nothing else');
  assert.deepEqual(end, JSON.parse(JSON.stringify(await replay(journal, { seq: Number.MAX_SAFE_INTEGER }))));
});

test('replay prints a header, a table of agents and who is owed what', async () => {
  const { state } = await storyJournal();
  const r = cli('replay', '--state-dir', state, '--until', '15');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^as of seq 15 \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\), supervisor running \(pid 100\), runs 1, dead letters 1$/);
  assert.match(lines[2]!, /^AGENT +UP +PID +↺ +PENDING +CHECKPOINT +DEAD +LAST EXIT$/);
  assert.match(lines[3]!, /^bob +down +- +1 +2 +\{"n":7\} +1 +SIGKILL$/);
  assert.match(lines[4]!, /^carol +down +- +0 +1 +- +0 +-$/);
  assert.deepEqual(lines.slice(6), ['pending for bob: #4 #5', 'pending for carol: #6']);
});

test('replay: a bad --until, or --until with --live, is a usage error (exit 2)', async () => {
  const { state } = await storyJournal();
  for (const args of [['--until', 'soonish'], ['--until', '5x'], ['--until', '3', '--live']]) {
    const r = cli('replay', '--state-dir', state, ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  }
  assert.match(cli('replay', '--state-dir', state, '--until', 'soonish').stderr, /--until expects .*got "soonish"/);
});

test('beside a running supervisor: replay --live asks it, journal and replay read its files, and after stop replay says so', async (t) => {
  const d = await startDaemon(['agents:', `  echo: { run: ${fixture('echo.js')} }`], { waitReady: ['echo'] });
  t.after(() => stop(d, 'SIGKILL'));
  const live = d.cliJson<View>(['replay', '--live']);
  assert.deepEqual(live.supervisor, { running: true, pid: d.proc.pid!, runs: 1 });
  assert.equal(live.agents.echo!.up, true);
  const livePid = live.agents.echo!.pid;
  assert.match(d.cli(['replay', '--live']).stdout, new RegExp(`supervisor running \\(pid ${d.proc.pid}\\)[^]*\\necho +up +${livePid ?? '-'} `));

  // The files, read while the supervisor writes them (the config in the cwd names the state directory).
  const fromFiles = d.cliJson<View>(['replay']);
  assert.equal(fromFiles.supervisor.running, true);
  assert.equal(fromFiles.agents.echo!.up, true);
  assert.equal(fromFiles.agents.echo!.pid, livePid);
  const spawns = d.cli(['journal', '--kind', 'spawn', '--agent', 'echo', '--json']);
  assert.equal(spawns.code, 0, spawns.stderr);
  const recs = spawns.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(recs.length, 1);
  assert.equal(recs[0]!.agent, 'echo');

  await stop(d); // `outheis stop` exits 0, and so does the supervisor
  const after = d.cliJson<View>(['replay']);
  assert.equal(after.supervisor.running, false);
  assert.equal(after.agents.echo!.up, false);
  assert.equal(d.cli(['replay', '--live']).code, 1, 'no supervisor to ask');
});
