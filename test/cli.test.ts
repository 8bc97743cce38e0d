// The real `outheis` binary: check's exit codes, and start in the foreground the
// way systemd runs it (stray inherited fds, SIGTERM to stop, nothing left behind).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDaemon, stop } from './helpers/daemon.js';
import { CLI, ROOT, fixture, processesMatching, tempDir, until } from './helpers/harness.js';

test('check: a valid file exits 0', () => {
  const r = spawnSync(process.execPath, [CLI, 'check', '-c', join(ROOT, 'examples/basics/outheis.yaml')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ok \(4 agents/);
});

test('check: an invalid file exits 2 and names each key path', () => {
  const dir = tempDir();
  const file = join(dir, 'outheis.yaml');
  writeFileSync(file, ['agents:', '  a:', '    run: a.js', '    pledge: [send:ghost]', '    colour: blue', '  b:', '    run: b.js', '    after: [a]', '  c:', '    run: c.js', '    heartbeat: soon', ''].join('\n'));
  const r = spawnSync(process.execPath, [CLI, 'check', '-c', file], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /agents\.a\.colour: unknown key/);
  assert.match(r.stderr, /agents\.c\.heartbeat: expected a duration/);
  writeFileSync(file, ['agents:', '  a:', '    run: a.js', '    pledge: [send:ghost]', '    after: [b]', '  b:', '    run: b.js', '    after: [a]', ''].join('\n'));
  const cross = spawnSync(process.execPath, [CLI, 'check', '-c', file], { encoding: 'utf8' });
  assert.equal(cross.status, 2);
  assert.match(cross.stderr, /agents\.a\.pledge\.0: .*ghost/);
  assert.match(cross.stderr, /cycle/);
  const json = spawnSync(process.execPath, [CLI, 'check', '--json', '-c', file], { encoding: 'utf8' });
  assert.equal(json.status, 2);
  assert.equal(JSON.parse(json.stdout).ok, false);
});

test('check and start: an entry file that does not exist is a config error, not a crash loop', () => {
  const dir = tempDir();
  const file = join(dir, 'outheis.yaml');
  writeFileSync(file, ['agents:', `  good: { run: ${fixture('echo.js')} }`, '  typo: { run: ./agnet.js }', ''].join('\n'));
  for (const verb of ['check', 'start']) {
    const r = spawnSync(process.execPath, [CLI, verb, '-c', file], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 2, `${verb}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /agents\.typo\.run: entry file .*agnet\.js does not exist/);
  }
});

test('usage errors exit 2', () => {
  const r = spawnSync(process.execPath, [CLI, 'frobnicate'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  const missing = spawnSync(process.execPath, [CLI, 'check', '-c', '/nonexistent/outheis.yaml'], { encoding: 'utf8' });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nonexistent/);
});

test('start: no stray fd reaches an agent, SIGTERM stops everything, exit 0', async (t) => {
  const marker = `outheis-cli-${process.pid}-${Date.now()}`;
  // fd 100 is opened by the shell without close-on-exec, as a careless parent would
  // (node itself already protects fds 0-15).
  const d = await startDaemon([
    'agents:',
    `  one: { run: ${fixture('echo.js')}, args: [${marker}, --print-fds] }`,
    `  two: { run: ${fixture('echo.js')}, args: [${marker}], after: [one] }`,
  ], { wrap: (argv) => ['bash', '-c', 'exec 100</etc/hostname && exec "$@"', 'bash', ...argv] });
  t.after(() => stop(d, 'SIGKILL')); // never leave a supervisor behind a failed assertion
  // Both agents' own "ready <name> <pid>" lines, and the fd listing printed before them.
  await until(() => `both agents to come up:\n${d.out()}`, () => ((d.out().match(/"msg":"ready \w+ \d+"/g) ?? []).length >= 2 ? true : undefined), 15000);
  const fdsLine = d.out().split('\n').find((l) => l.includes('fds ['))!;
  const fds = JSON.parse(JSON.parse(fdsLine).msg.slice(4)) as string[];
  assert.ok(!fds.some((f) => f.startsWith('100=')), `the stray fd 100 leaked: ${fds}`);
  assert.ok(fds.includes('3=socket'), `fd 3 is the channel: ${fds}`);
  assert.match(d.out(), /closed inherited file descriptors/);
  assert.ok(processesMatching(marker).length >= 2, 'both agents run');
  assert.equal(await stop(d, 'SIGTERM'), 0);
  assert.deepEqual(processesMatching(marker), []);
});

test('a supervisor killed with SIGKILL leaves no agent and no grandchild behind', async (t) => {
  const marker = `outheis-kill9-${process.pid}-${Date.now()}`;
  const d = await startDaemon(['agents:', `  one: { run: ${fixture('echo.js')}, args: [${marker}, --grandchild-on-start], pledge: [spawn] }`, `  two: { run: ${fixture('echo.js')}, args: [${marker}] }`]);
  t.after(() => stop(d, 'SIGKILL'));
  await until(() => `both agents and the grandchild to come up:\n${d.out()}`, () => ((d.out().match(/"msg":"ready \w+ \d+"/g) ?? []).length >= 2 && /grandchild \d+/.test(d.out()) ? true : undefined), 15000);
  // Pids inside a sandbox are its namespace's; ps finds the host's by the marker every process carries.
  const running = processesMatching(marker);
  assert.ok(running.some((l) => l.includes('setInterval')), `the grandchild runs: ${running.join('\n')}`);
  assert.ok(running.filter((l) => / node .*echo\.js/.test(l) || /^\s*\d+\s+\S+\s+\S*node .*echo\.js/.test(l)).length >= 2, `both agents run: ${running.join('\n')}`);
  await stop(d, 'SIGKILL');
  // They go as the channel closes; one still there after that fails here.
  await until(() => `no agent, no grandchild, no sandbox to outlive the supervisor: ${processesMatching(marker).join('\n')}`, () => (processesMatching(marker).length === 0 ? true : undefined), 5000);
});

test('a closed stdout does not take the supervisor down; SIGHUP (a closed terminal) reloads, SIGTERM stops it gracefully', async (t) => {
  // `chatty` prints every 20 ms, so the supervisor keeps writing into the closed pipe.
  const d = await startDaemon(['agents:', `  chatty: { run: ${fixture('echo.js')}, args: [--chatty] }`]);
  t.after(() => stop(d, 'SIGKILL'));
  await d.printed(/"msg":"ready chatty/);
  d.proc.stdout!.destroy();
  // Not a fixed wait: chatty's log file grows by 25 lines, each of which the supervisor
  // also wrote to the closed stdout; then it must still be there.
  const log = join(d.stateDir, 'logs', 'chatty.log');
  const lines = (): number => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').length : 0);
  const closedAt = lines();
  const gone = () => d.proc.exitCode !== null || d.proc.signalCode !== null;
  await until('25 more lines written with stdout closed', () => {
    if (gone()) throw new Error(`the supervisor died with its stdout (${d.proc.exitCode ?? d.proc.signalCode}): ${d.out()}`);
    return lines() >= closedAt + 25 ? true : undefined;
  }, 15000);
  assert.equal(gone(), false, `the supervisor died with its stdout: ${d.out()}`);
  d.kill('SIGHUP');
  const own = join(d.stateDir, 'logs', 'supervisor.log');
  await until('the reload to be logged', () => (existsSync(own) && /"msg":"reloaded"/.test(readFileSync(own, 'utf8')) ? true : undefined), 15000);
  assert.equal(gone(), false, 'SIGHUP reloads: the supervisor stays');
  assert.equal(await stop(d, 'SIGTERM'), 0, d.out());
});

test("start's own short parse hands what it does not take to yargs: an unknown flag, --help, a missing config", () => {
  const bogus = spawnSync(process.execPath, [CLI, 'start', '--bogus'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(bogus.status, 2, bogus.stderr);
  assert.match(bogus.stderr, /Unknown argument: bogus/);
  const help = spawnSync(process.execPath, [CLI, 'start', '--help'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /--allow-weaker-isolation/);
  assert.match(help.stdout, /--detach/);
  const missing = spawnSync(process.execPath, [CLI, 'start', '-c', join(tempDir(), 'none.yaml'), '--allow-weaker-isolation'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(missing.status, 2, missing.stderr);
  assert.match(missing.stderr, /config file not found: .*none\.yaml/);
});
