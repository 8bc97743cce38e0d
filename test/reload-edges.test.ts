// Reload's edges: what was owed to a removed agent is dead-lettered (journaled, and
// sent again by `outheis redrive` once the agent is back), a second reload while one
// runs is refused, an unchanged file changes nothing, and a manifest this machine
// cannot confine refuses the whole reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, fixture, tempDir, until } from './helpers/harness.js';
import { agentOf, startDaemon, stop } from './helpers/daemon.js';
import { agents, journalOf, reload, rewrite } from './helpers/reload.js';

const echo = fixture('echo.js');

test('a removed agent\'s owed messages become dead letters, said in the result; re-added, redrive hands them to it', async () => {
  const base = ['agents:', `  a: { run: ${echo} }`];
  // heartbeat 0: a wedged x must stay wedged however slow this machine is (else the watchdog restarts it, and the new x handles the three).
  const withX = [...base, `  x: { run: ${echo}, shutdown: 300ms, heartbeat: 0 }`];
  const d = await startDaemon(withX, { waitReady: ['a', 'x'] });
  try {
    // x answers the hang, then wedges: the three sent after the answer stay owed (sent
    // without waiting, they could arrive in hang's batch and be handled before the spin).
    assert.equal(d.cli(['send', 'x', 'hang', '--wait']).code, 0);
    for (const n of [1, 2, 3]) assert.equal(d.cli(['send', 'x', 'record', JSON.stringify({ n })]).code, 0);
    rewrite(d, base);
    const { code, result } = reload(d);
    assert.equal(code, 0, JSON.stringify(result));
    assert.deepEqual(result.removed, ['x']);
    assert.equal(result.deadLettered, 3, 'the three records');
    const dead = d.cli(['journal', 'deadletters', '--json']).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: number; kind: string; reason: string; to: string });
    assert.equal(dead.length, 3);
    assert.ok(dead.every((x) => x.to === 'x' && /removed from the config by a reload/.test(x.reason)), JSON.stringify(dead));
    const send = d.cli(['send', 'x', 'record', '{}']);
    assert.notEqual(send.code, 0, 'x is no agent any more');
    assert.match(send.stderr, /no agent named "x"/);

    rewrite(d, withX);
    assert.deepEqual(reload(d).result.added, ['x']);
    const records = dead.filter((x) => x.kind === 'record').map((x) => String(x.id));
    const redrive = d.cli(['redrive', ...records]);
    assert.equal(redrive.code, 0, redrive.stderr);
    await until('the three records to reach the new x', () => {
      const seen = JSON.parse(d.cli(['send', 'x', 'seen', '--wait']).stdout) as { body: { n: number } }[];
      return seen.length === 3 ? seen : undefined;
    });
  } finally {
    await stop(d);
  }
});

test('a reload while one is in progress is refused (exit 1), the first completes; an unchanged file changes nothing', async () => {
  const lines = (ms: string) => ['agents:', `  a: { run: ${echo} }`, `  slow: { run: ${echo}, args: ["--shutdown-ms=${ms}"], shutdown: 10s }`];
  // slow takes 6 s to stop: a window the status polls below see it in even on a loaded machine.
  const d = await startDaemon(lines('6000'), { waitReady: ['a', 'slow'] });
  try {
    const a = agentOf(d, 'a').pid;
    rewrite(d, lines('6001'));
    const first = spawn(process.execPath, [CLI, 'reload', '-c', d.file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    first.stdout.on('data', (b) => (out += b));
    const firstDone = new Promise<number | null>((resolve) => first.on('exit', resolve));
    await until('slow to be stopping for the first reload', () => (agents(d).get('slow')?.state === 'stopping' ? true : undefined));
    const second = d.cli(['reload']);
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, /a reload is in progress/);
    assert.equal(await firstDone, 0, out);
    assert.match(out, /restarted:\s+slow \(changed: args\)/);

    const again = d.cli(['reload']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /unchanged/);
    assert.equal(agentOf(d, 'a').pid, a);
    const reloads = (await journalOf(d)).filter((r) => r.type === 'reload');
    assert.equal(reloads.length, 2, 'the refused-as-busy one is not a reload; the unchanged one is');
    assert.match(d.cli(['journal', '--kind', 'reload']).stdout, /reload\s+unchanged; agents: a, slow/);
  } finally {
    await stop(d);
  }
});

test('a new manifest this machine cannot confine refuses the whole reload: nothing starts, nothing is created on the host', async () => {
  const dir = tempDir('outheis-reload-iso-');
  chmodSync(dir, 0o755);
  const locked = join(dir, 'locked');
  mkdirSync(locked, { mode: 0o700 });
  copyFileSync(echo, join(locked, 'agent.js'));
  const base = ['agents:', `  a: { run: ${echo} }`];
  const d = await startDaemon(base, { dir, waitReady: ['a'] });
  try {
    const pid = agentOf(d, 'a').pid;
    rewrite(d, [...base, `  b: { run: ${echo}, qos: background }`, `  c: { run: ${join(locked, 'agent.js')}, owns: [c-data] }`]);
    const { code, result } = reload(d);
    assert.equal(code, 2, JSON.stringify(result));
    assert.equal(result.ok, false);
    assert.ok(result.issues.some((i) => i.path === 'agents.c' && /locked is mode 0700.*needs o\+rx/.test(i.message)), JSON.stringify(result.issues));
    assert.deepEqual([...agents(d).keys()], ['a'], 'b, which could be confined, did not start either');
    assert.equal(agentOf(d, 'a').pid, pid);
    assert.equal(existsSync(join(dir, 'c-data')), false, 'no domain was created for the refused agent');
  } finally {
    await stop(d);
  }
});

test('a changed env_file value restarts its agent (the values never leave the supervisor); an env file gone loose refuses the reload', async () => {
  const dir = tempDir('outheis-reload-env-');
  chmodSync(dir, 0o755);
  const envFile = join(dir, 'secrets/a.env');
  mkdirSync(join(dir, 'secrets'));
  writeFileSync(envFile, 'TOKEN=first\n', { mode: 0o600 });
  const out = join(dir, 'a/env.json');
  const lines = ['agents:', `  a: { run: ${fixture('env.js')}, args: [--out=${out}], owns: [a], unveil: { a: rw }, env_file: secrets/a.env }`, `  b: { run: ${echo} }`];
  const d = await startDaemon(lines, { dir, waitReady: ['a', 'b'] });
  const token = () => (JSON.parse(readFileSync(out, 'utf8')) as { env: Record<string, string> }).env.TOKEN;
  try {
    assert.equal(token(), 'first');
    const before = agents(d);
    writeFileSync(envFile, 'TOKEN=second\n');
    const { code, result } = reload(d);
    assert.equal(code, 0, JSON.stringify(result));
    assert.deepEqual(result.changed, [{ agent: 'a', keys: ['env_file (its values)'] }]);
    assert.doesNotMatch(JSON.stringify(result), /second/, 'no value in the answer');
    assert.equal(token(), 'second');
    assert.notEqual(agentOf(d, 'a').pid, before.get('a')!.pid);
    assert.equal(agentOf(d, 'b').pid, before.get('b')!.pid);
    const again = reload(d);
    assert.deepEqual(again.result.restarted, [], 'read again, the same values restart nothing');

    chmodSync(envFile, 0o644);
    const loose = reload(d);
    assert.equal(loose.code, 2);
    assert.ok(loose.result.issues.some((i) => i.path === 'agents.a.env_file' && /chmod 600/.test(i.message)), JSON.stringify(loose.result.issues));
    assert.equal(agentOf(d, 'a').state, 'running');
    assert.doesNotMatch(readFileSync(join(d.stateDir, 'logs/supervisor.log'), 'utf8'), /second/, 'no value in the log');
  } finally {
    await stop(d);
  }
});
