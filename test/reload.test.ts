// `outheis reload` and SIGHUP against a real `outheis start`: only the difference is
// applied (pids compared), a broken edit is refused with its key path while
// everything runs on, and a reload in the middle of a message stream loses nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, tempDir, until } from './helpers/harness.js';
import { agentOf, startDaemon, stop } from './helpers/daemon.js';
import type { StatusResult } from '../supervisor/control/protocol.js';
import { agents, journalOf, reload, rewrite } from './helpers/reload.js';

const echo = fixture('echo.js');

const FIVE = [
  'groups:',
  '  g: { strategy: one_for_one }',
  'agents:',
  `  keep: { run: ${echo} }`,
  `  changed: { run: ${echo} }`,
  `  b: { run: ${echo}, group: g }`,
  `  c: { run: ${echo}, group: g }`,
  `  gone: { run: ${echo} }`,
];

test('reload adds, removes and restarts only what changed; a group whose strategy changed is rebuilt in order; untouched agents keep their pids', async () => {
  const d = await startDaemon(FIVE, { waitReady: ['keep', 'changed', 'b', 'c', 'gone'] });
  try {
    const before = agents(d);
    rewrite(d, [
      'groups:',
      '  g: { strategy: rest_for_one }',
      'agents:',
      `  keep: { run: ${echo} }`,
      `  changed: { run: ${echo}, qos: background }`,
      `  b: { run: ${echo}, group: g }`,
      `  c: { run: ${echo}, group: g }`,
      `  added: { run: ${echo}, after: [changed] }`,
    ]);
    const { code, result } = reload(d);
    assert.equal(code, 0, JSON.stringify(result));
    assert.deepEqual(result.added, ['added']);
    assert.deepEqual(result.removed, ['gone']);
    assert.deepEqual(result.changed, [{ agent: 'changed', keys: ['qos'] }]);
    assert.deepEqual(result.rebuilt, ['g']);
    assert.deepEqual(result.restarted, ['changed', 'b', 'c']);
    assert.deepEqual(result.notReady, []);

    const after = agents(d);
    assert.deepEqual([...after.keys()], ['keep', 'changed', 'b', 'c', 'added'], 'status lists the new config in start order');
    const k0 = before.get('keep')!;
    const k1 = after.get('keep')!;
    assert.equal(k1.pid, k0.pid, 'the untouched agent keeps its process');
    assert.equal(k1.restarts, 0);
    assert.equal(k1.state, 'running');
    for (const name of ['changed', 'b', 'c']) {
      assert.notEqual(after.get(name)!.pid, before.get(name)!.pid, `${name} runs a new process`);
      assert.equal(after.get(name)!.state, 'running');
      assert.equal(after.get(name)!.restarts, 1);
    }
    assert.equal(after.get('changed')!.qos, 'background', 'the new manifest is the one in force');
    assert.equal(after.get('added')!.state, 'running');

    // Stopped in reverse start order, one by one; started in the new start order (added after changed, its `after`).
    const records = await journalOf(d);
    const from = records.map((r, i) => (r.type === 'ready' ? i : -1)).filter((i) => i >= 0)[4]! + 1;
    const during = records.slice(from, records.findIndex((r) => r.type === 'reload'));
    const of = (type: string) => during.filter((r) => r.type === type).map((r) => (r as { agent: string }).agent);
    assert.deepEqual(of('exit'), ['gone', 'c', 'b', 'changed']);
    assert.deepEqual(of('spawn'), ['changed', 'b', 'c', 'added']);
    assert.deepEqual(of('restart'), ['changed', 'b', 'c']);
    const rec = records.find((r) => r.type === 'reload');
    assert.ok(rec && rec.type === 'reload' && rec.ok);
    assert.deepEqual(rec.agents, ['keep', 'changed', 'b', 'c', 'added']);

    // `outheis journal` and `replay` show it.
    const j = d.cli(['journal', '--kind', 'reload']);
    assert.equal(j.code, 0, j.stderr);
    assert.match(j.stdout, /reload\s+added added; removed gone; restarted changed \(qos\); rebuilt g \(b, c\)/);
    const rp = d.cli(['replay']);
    assert.equal(rp.code, 0, rp.stderr);
    assert.match(rp.stdout, /last reload: seq \d+ .*applied; agents: keep, changed, b, c, added/);
    assert.doesNotMatch(rp.stdout, /^gone /m);

    // The CLI's words for the same.
    rewrite(d, FIVE.slice(0, -1));
    const r = d.cli(['reload'], { timeout: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /removed:\s+added/);
    assert.match(r.stdout, /restarted:\s+changed \(changed: qos\)/);
  } finally {
    await stop(d);
  }
});

test('a broken edit is refused with its key path (exit 2); everything keeps running with the same pids, and the journal has the refusal', async () => {
  const dir = tempDir('outheis-reload-');
  chmodSync(dir, 0o755);
  const lines = [
    'agents:',
    `  a: { run: ${echo}, owns: [a-data] }`,
    `  b: { run: ${echo} }`,
  ];
  const d = await startDaemon(lines, { dir, waitReady: ['a', 'b'] });
  try {
    const before = agents(d);
    rewrite(d, [...lines, `  c: { run: ${echo}, colour: red }`]);
    const typo = d.cli(['reload'], { timeout: 60_000 });
    assert.equal(typo.code, 2, typo.stderr + typo.stdout);
    assert.match(typo.stderr, /agents\.c\.colour: unknown key "colour"/);
    assert.match(typo.stderr, /refused, the running config stays/);

    // Two owners of one path: a cross-check, its key path named.
    rewrite(d, ['agents:', `  a: { run: ${echo}, owns: [a-data] }`, `  b: { run: ${echo}, owns: [a-data] }`]);
    const twice = reload(d);
    assert.equal(twice.code, 2);
    assert.equal(twice.result.ok, false);
    assert.ok(twice.result.issues.some((i) => /^agents\.[ab]\.owns/.test(i.path)), JSON.stringify(twice.result.issues));
    assert.deepEqual(twice.result.agents, ['a', 'b'], 'the running config stays');

    const after = agents(d);
    for (const name of ['a', 'b']) {
      assert.equal(after.get(name)!.pid, before.get(name)!.pid, `${name} untouched`);
      assert.equal(after.get(name)!.state, 'running');
    }
    assert.equal(after.has('c'), false);
    const refusals = (await journalOf(d)).filter((r) => r.type === 'reload');
    assert.equal(refusals.length, 2);
    assert.ok(refusals.every((r) => r.type === 'reload' && !r.ok));
    const j = d.cli(['journal', '--kind', 'reload']);
    assert.match(j.stdout, /REFUSED, the running config stays: agents\.c\.colour: unknown key/);

    // Fixed, it applies.
    rewrite(d, [...lines, `  c: { run: ${echo} }`]);
    const fixed = reload(d);
    assert.equal(fixed.code, 0, JSON.stringify(fixed.result));
    assert.deepEqual(fixed.result.added, ['c']);
    assert.equal(agentOf(d, 'a').pid, before.get('a')!.pid);
  } finally {
    await stop(d);
  }
});

test('SIGHUP reloads (no longer stops): journal settings are reported as not applied, and replay shows the reload', async () => {
  const lines = ['agents:', `  a: { run: ${echo} }`];
  const d = await startDaemon(lines, { waitReady: ['a'] });
  try {
    const pid = agentOf(d, 'a').pid;
    rewrite(d, ['journal: { fsync: always, max_attempts: 9 }', 'state_dir: elsewhere', ...lines, `  b: { run: ${echo} }`]);
    d.kill('SIGHUP');
    await until('b to be running after SIGHUP', () => (agents(d).get('b')?.state === 'running' ? true : undefined));
    await d.printed(/"msg":"reloaded"/);
    assert.equal(d.proc.exitCode, null, 'SIGHUP does not stop the supervisor');
    assert.equal(agents(d).get('a')!.pid, pid);
    assert.match(d.out(), /"key":"journal.fsync".*cannot change while the supervisor runs/);
    const rec = (await journalOf(d)).find((r) => r.type === 'reload');
    assert.ok(rec && rec.type === 'reload');
    assert.deepEqual(rec.notApplied.map((s) => s.key).sort(), ['journal.fsync', 'journal.max_attempts', 'state_dir']);
    assert.ok(!existsSync(join(d.dir, 'elsewhere')), 'the state directory did not move');
    const j = d.cli(['journal', '--kind', 'reload', '--state-dir', d.stateDir]);
    assert.match(j.stdout, /added b; NOT APPLIED state_dir, journal\.fsync, journal\.max_attempts/);
    assert.match(d.cli(['replay', '--state-dir', d.stateDir]).stdout, /last reload: .*applied; agents: a, b/);
    assert.equal(d.cliJson<StatusResult>(['status', '--state-dir', d.stateDir]).supervisor.stateDir, d.stateDir, 'the state directory in force is the one it started with');
  } finally {
    await stop(d, 'SIGTERM');
  }
});

test('a reload in the middle of a message stream loses nothing: the consumer restarts with a new manifest, every message is handled and acked', async () => {
  const dir = tempDir('outheis-reload-stream-');
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'data'));
  const total = 6000;
  const log = join(dir, 'data/handled.log');
  const config = (work: string) => [
    'journal: { max_attempts: 1000 }',
    'agents:',
    `  consumer: { run: ${fixture('consumer.js')}, args: [${log}, "${work}"], owns: [data], unveil: { data: rw } }`,
    `  producer: { run: ${fixture('producer.js')}, args: [consumer, "${total}", "200"], pledge: ["send:consumer"], after: [consumer] }`,
  ];
  const handled = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => /^\d+ \d+ [01]$/.test(l)) : []);
  const d = await startDaemon(config('1000'), { dir, waitReady: ['consumer', 'producer'] });
  try {
    const producer = agentOf(d, 'producer').pid;
    const consumer = agentOf(d, 'consumer').pid;
    await until('the stream to be under way', () => (handled().length > 500 ? true : undefined), 60_000);
    rewrite(d, config('1001'));
    const { code, result } = reload(d);
    assert.equal(code, 0, JSON.stringify(result));
    assert.deepEqual(result.restarted, ['consumer']);
    assert.notEqual(agentOf(d, 'consumer').pid, consumer);
    await until(() => `all ${total} handled (have ${new Set(handled().map((l) => l.split(' ')[1])).size})`,
      () => (new Set(handled().map((l) => l.split(' ')[1])).size === total ? true : undefined), 120_000);
    assert.equal(agentOf(d, 'producer').pid, producer, 'the producer was not touched');
    // Every accepted message acked; none given up on.
    await until('every accepted message to be acked', async () => {
      const records = await journalOf(d);
      const accepted = new Set(records.filter((r) => r.type === 'accept').map((r) => (r as { id: number }).id));
      const acked = new Set(records.filter((r) => r.type === 'ack').flatMap((r) => (r as { ids: number[] }).ids));
      assert.equal(records.filter((r) => r.type === 'deadletter').length, 0);
      return accepted.size === total && [...accepted].every((id) => acked.has(id)) ? true : undefined;
    }, 30_000);
    // Mid-stream: the new consumer was delivered messages after the reload.
    const records = await journalOf(d);
    const at = records.findIndex((r) => r.type === 'reload');
    assert.ok(records.slice(at).some((r) => r.type === 'deliver' && r.agent === 'consumer'), 'the stream went on after the reload');
  } finally {
    await stop(d);
  }
});
