// Issue 10, item 1: a sandboxed agent must never get the root supervisor to write
// where it chooses. Three layers, each tested on its own: the config's path rules
// compare real paths (check and start refuse what resolves into an agent's reach),
// a real hostile agent cannot reach the state directory (the host is checked after),
// and, should an attacker get there anyway, the supervisor opens nothing in its
// state directory through a symlink or a hard link.
// (Long on purpose: the reproduction, its variants and the two attack layers share
// the scaffolding of a world-readable directory with a config, code and a canary.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { startDaemon, stop, agentOf, type Daemon } from './helpers/daemon.js';
import { CLI, fixture, tempDir, until } from './helpers/harness.js';

// ---- scaffolding ------------------------------------------------------------------

const ROOT_ONLY = 'this test attacks a root supervisor (a root-owned canary, agents under uids of their own): it needs root (CI runs as root)';

/** A directory agents' own uids can traverse, with an entry file at code/a.mjs (check only needs it to exist). */
function project(): string {
  const dir = tempDir('outheis-paths-');
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'code'), { mode: 0o755 });
  writeFileSync(join(dir, 'code/a.mjs'), '// never run\n');
  return dir;
}

function cli(dir: string, args: string[], timeout = 30000) {
  const r = spawnSync(process.execPath, [CLI, ...args, '-c', join(dir, 'outheis.yaml')], { cwd: dir, encoding: 'utf8', timeout, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const writeConfig = (dir: string, lines: string[]) => writeFileSync(join(dir, 'outheis.yaml'), lines.join('\n') + '\n');

/** `outheis check` must refuse with exit 2 and a message matching every pattern. */
function refusedByCheck(dir: string, patterns: RegExp[]): string {
  const r = cli(dir, ['check']);
  assert.equal(r.code, 2, `check should refuse:\n${r.out}`);
  for (const p of patterns) assert.match(r.out, p);
  return r.out;
}

/** A root-owned 0600 file outside every sandbox, and a way to prove it untouched. */
function canary(dir: string): { path: string; intact(): void } {
  const path = join(dir, 'canary');
  const text = `root's own, ${process.pid} ${Date.now()}\n`;
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
  return {
    path,
    intact() {
      const st = lstatSync(path);
      assert.ok(st.isFile(), 'the canary is still a regular file');
      assert.equal(readFileSync(path, 'utf8'), text, 'the canary is byte-identical');
      assert.equal(st.uid, 0, 'the canary is still root\'s');
      assert.equal(st.mode & 0o777, 0o600, 'the canary is still 0600');
    },
  };
}

/** Everything under the state directory: no link anywhere, every file a regular one of root's with one name. */
function stateIsClean(stateDir: string): void {
  const walk = (p: string): void => {
    const st = lstatSync(p);
    assert.ok(!st.isSymbolicLink(), `${p} is a symbolic link`);
    assert.equal(st.uid, 0, `${p} belongs to uid ${st.uid}`);
    if (st.isDirectory()) {
      assert.equal(st.mode & 0o022, 0, `${p} is writable by group or others`);
      for (const e of readdirSync(p)) walk(join(p, e));
    } else if (!st.isSocket()) {
      assert.ok(st.isFile(), `${p} is not a regular file`);
      assert.equal(st.nlink, 1, `${p} has ${st.nlink} names`);
      assert.doesNotMatch(readFileSync(p, 'latin1'), /PWNED/, `${p} holds what the agent wrote`);
    }
  };
  walk(stateDir);
}

// ---- (a) the issue's reproduction, and (b) variants: the config's path rules ----------

describe('paths are checked as the kernel resolves them', () => {
  test('the issue\'s reproduction: state_dir through `ln -s data lnk`, inside the domain agent a writes: check and start refuse, nothing is written', () => {
    const dir = project();
    mkdirSync(join(dir, 'data'));
    symlinkSync('data', join(dir, 'lnk'));
    writeConfig(dir, [
      'state_dir: lnk/state',
      'agents:',
      '  a: { run: code/a.mjs, owns: [data], unveil: { data: rw }, pledge: [spawn] }',
    ]);
    const out = refusedByCheck(dir, [
      /agents\.a\.owns\.0: agent a may write "data", which contains the state directory "lnk\/state" \(resolves to [^)]*\/data\/state\)/,
      /agents\.a\.unveil\.data: agent a may write "data"/,
      /move state_dir out of every agent's paths/,
    ]);
    assert.doesNotMatch(out, /: ok/);
    const start = cli(dir, ['start']);
    assert.equal(start.code, 2, `start should refuse:\n${start.out}`);
    assert.match(start.out, /agents\.a\.owns\.0: agent a may write "data", which contains the state directory "lnk\/state"/);
    assert.deepEqual(readdirSync(join(dir, 'data')), [], 'start wrote nothing: no state directory inside the domain');
  });

  test('two agents owning one directory through a symlink are refused', () => {
    const dir = project();
    mkdirSync(join(dir, 'data'));
    symlinkSync('data', join(dir, 'lnk'));
    writeConfig(dir, [
      'agents:',
      '  a: { run: code/a.mjs, owns: [data] }',
      '  b: { run: code/a.mjs, owns: [lnk/] }',
    ]);
    refusedByCheck(dir, [/agents\.b\.owns\.0: "lnk" \(resolves to [^)]*\/data\) is the same path as "data", owned by agent a \(agents\.a\.owns\.0\); a path has exactly one owner/]);
    // Nested through the link: b's path is inside a's domain.
    writeConfig(dir, ['agents:', '  a: { run: code/a.mjs, owns: [data] }', '  b: { run: code/a.mjs, owns: [lnk/inbox] }']);
    refusedByCheck(dir, [/agents\.b\.owns\.0: "lnk\/inbox" \(resolves to [^)]*\/data\/inbox\) is inside "data", owned by agent a/]);
  });

  test('an rw unveil through a symlink that points into the state directory is refused, and so is an rw on an owned path by another name', () => {
    const dir = project();
    mkdirSync(join(dir, 'data'));
    // Dangling until the supervisor creates its state directory: resolved all the same.
    symlinkSync('.outheis/logs', join(dir, 'peek'));
    writeConfig(dir, ['agents:', '  a: { run: code/a.mjs, unveil: { peek: rw } }']);
    refusedByCheck(dir, [/agents\.a\.unveil\.peek: agent a may write "peek" \(resolves to [^)]*\/\.outheis\/logs\), which is inside the state directory "\.outheis"/]);
    symlinkSync('data', join(dir, 'also-data'));
    writeConfig(dir, ['agents:', '  a: { run: code/a.mjs, owns: [data] }', '  b: { run: code/a.mjs, unveil: { also-data: rw } }']);
    refusedByCheck(dir, [/agents\.b\.unveil\.also-data: rw on "also-data" \(resolves to [^)]*\/data\), which is the same path as "data", owned by agent a/]);
    // One agent, one path under two names.
    writeConfig(dir, ['agents:', '  a: { run: code/a.mjs, unveil: { data: r, also-data: rw } }']);
    refusedByCheck(dir, [/agents\.a\.unveil\.also-data: same path as unveil key "data" \(both resolve to [^)]*\/data\)/]);
  });

  test('a chain of two symlinks is followed to the end', () => {
    const dir = project();
    mkdirSync(join(dir, 'data'));
    symlinkSync('hop2', join(dir, 'hop1'));
    symlinkSync(join(dir, 'data'), join(dir, 'hop2'));
    writeConfig(dir, ['state_dir: hop1/state', 'agents:', '  a: { run: code/a.mjs, owns: [data], unveil: { data: rw } }']);
    refusedByCheck(dir, [/agents\.a\.owns\.0: agent a may write "data", which contains the state directory "hop1\/state" \(resolves to [^)]*\/data\/state\)/]);
  });

  test('a state_dir reached through a symlink an agent may replace is refused, naming the link', () => {
    const dir = project();
    mkdirSync(join(dir, 'data'));
    mkdirSync(join(dir, 'safe/state'), { recursive: true, mode: 0o700 });
    symlinkSync('../safe/state', join(dir, 'data/st'));
    writeConfig(dir, ['state_dir: data/st', 'agents:', '  a: { run: code/a.mjs, unveil: { data: rw } }']);
    refusedByCheck(dir, [/state_dir: "data\/st" \(resolves to [^)]*\/safe\/state\) goes through the symlink [^ ]*\/data\/st, inside "data" \(agents\.a\.unveil\.data\), which agent a may write/]);
  });

  test('start resolves again: a link that moved into a domain after a passing check is refused by start', () => {
    const dir = project();
    mkdirSync(join(dir, 'data'));
    mkdirSync(join(dir, 'safe'), { mode: 0o700 });
    symlinkSync('safe', join(dir, 'lnk'));
    writeConfig(dir, ['state_dir: lnk/state', 'agents:', '  a: { run: code/a.mjs, owns: [data], unveil: { data: rw } }']);
    const ok = cli(dir, ['check']);
    assert.equal(ok.code, 0, ok.out);
    unlinkSync(join(dir, 'lnk'));
    symlinkSync('data', join(dir, 'lnk'));
    const start = cli(dir, ['start']);
    assert.equal(start.code, 2, start.out);
    assert.match(start.out, /which contains the state directory "lnk\/state" \(resolves to [^)]*\/data\/state\)/);
    assert.equal(existsSync(join(dir, 'data/state')), false, 'nothing was created in the domain');
  });

  test('no false positive: a state_dir that is a symlink to a safe place is accepted, and the supervisor keeps its files there', async (t) => {
    const dir = project();
    mkdirSync(join(dir, 'data'), { mode: 0o755 });
    mkdirSync(join(dir, 'private/state'), { recursive: true, mode: 0o700 });
    symlinkSync('private/state', join(dir, '.outheis')); // the default state_dir, as a link
    const lines = ['agents:', `  a: { run: ${fixture('echo.js')}, owns: [data], unveil: { data: rw }, heartbeat: 0 }`];
    writeConfig(dir, lines);
    const r = cli(dir, ['check']);
    assert.equal(r.code, 0, r.out);
    const d = await startDaemon(lines, { dir, waitReady: ['a'] });
    t.after(() => stop(d, 'SIGTERM'));
    assert.equal(agentOf(d, 'a').state, 'running');
    const real = join(dir, 'private/state');
    assert.ok(lstatSync(join(real, 'outheis.sock')).isSocket(), 'the socket is in the real directory');
    await until('supervisor.log in the real directory', () => (existsSync(join(real, 'logs/supervisor.log')) ? true : undefined));
    assert.ok(lstatSync(join(dir, '.outheis')).isSymbolicLink(), 'the link is left as the operator made it');
    stateIsClean(real);
  });
});

// ---- (c) the hostile agent: it tries its best, the host is checked afterwards -------------

/**
 * The hostile agent's code. It tries, itself (under Node's permission model) and
 * through a child (pledge spawn: no permission model, only the OS layers), to
 * create, replace and link the files at the state directory's paths as it sees
 * them, then floods its output, so that the supervisor writes and rotates its log
 * meanwhile. Every attempt's outcome is left in its domain for the test to read. As a control, it plants links in
 * its own domain, which it may: the refusals above are not for lack of trying.
 */
const HOSTILE = `
import { spawn } from 'node:child_process';
import { appendFileSync, linkSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
const mode = process.argv[2] === 'child' ? 'child' : 'agent';
const json = process.argv[mode === 'child' ? 3 : 2];
const plan = JSON.parse(json);
function attempt(who) {
  const out = {};
  const step = (name, fn) => { try { fn(); out[name] = 'ok'; } catch (e) { out[name] = e.code ?? e.name; } };
  plan.targets.forEach((t, i) => {
    step(i + ':mkdir', () => mkdirSync(dirname(t), { recursive: true }));
    step(i + ':rm', () => rmSync(t, { force: true }));
    step(i + ':symlink', () => symlinkSync(plan.canary, t));
    step(i + ':rm2', () => rmSync(t, { force: true }));
    step(i + ':hardlink', () => linkSync(plan.canary, t));
    step(i + ':write', () => appendFileSync(t, 'PWNED by ' + who + '\\n'));
  });
  step('control:link-to-canary', () => symlinkSync(plan.canary, plan.data + '/to-canary-' + who));
  step('control:link-to-state', () => symlinkSync(plan.stateDir, plan.data + '/to-state-' + who));
  return out;
}
if (mode === 'child') {
  const first = attempt('child');
  for (let round = 0; round < plan.rounds; round++) attempt('child');
  // In its own domain, where the host can read it (stdout is a pipe full of the flood).
  writeFileSync(plan.data + '/outcome-child.json', JSON.stringify(first));
  process.exit(0);
}
const { agent } = await import('outheis/worker');
await agent.ready();
writeFileSync(plan.data + '/outcome-agent.json', JSON.stringify(attempt('agent')));
const child = spawn(process.execPath, [process.argv[1], 'child', json], { stdio: ['ignore', 'inherit', 'inherit'] });
for (let i = 0; i < plan.lines; i++) console.log('flood ' + i + ' ' + 'x'.repeat(200));
await new Promise((resolve) => child.on('exit', resolve));
console.log('ATTACK-DONE');
`;

test('a sandboxed agent that owns a domain, pledged spawn, tries to plant links at the state directory: the host is untouched', async (t) => {
  assert.equal(process.getuid!(), 0, ROOT_ONLY);
  const dir = project();
  mkdirSync(join(dir, 'data'), { mode: 0o755 });
  mkdirSync(join(dir, 'code/hostile'), { mode: 0o755 });
  writeFileSync(join(dir, 'code/hostile/agent.mjs'), HOSTILE, { mode: 0o644 });
  const c = canary(dir);
  const stateDir = join(dir, '.outheis');
  const logs = join(stateDir, 'logs');
  const plan = {
    canary: c.path,
    data: join(dir, 'data'),
    stateDir,
    targets: [
      join(logs, 'hostile.log'), join(logs, 'hostile.log.1'), join(logs, 'supervisor.log'),
      join(stateDir, 'outheis.pid'), join(stateDir, 'journal', '0000000000000001.seg'),
      // through its own domain, by the names an operator's `..` would take
      `${dir}/data/../.outheis/logs/hostile.log`,
      '/proc/1/root' + join(logs, 'hostile.log'),
    ],
    rounds: 50,
    lines: 3000,
  };
  const lines = [
    'logs: { max_size: 64KiB, keep: 2 }',
    'agents:',
    `  hostile: { run: code/hostile/agent.mjs, args: [${JSON.stringify(JSON.stringify(plan))}], owns: [data], unveil: { data: rw }, pledge: [spawn], heartbeat: 0 }`,
  ];
  writeConfig(dir, lines);
  assert.equal(cli(dir, ['check']).code, 0, 'the config passes: the state directory is outside every writable path');
  const d: Daemon = await startDaemon(lines, { dir, waitReady: ['hostile'] });
  t.after(() => stop(d, 'SIGTERM'));
  await d.printed(/ATTACK-DONE/, 60000);
  const outcome = (who: string) => JSON.parse(readFileSync(join(dir, `data/outcome-${who}.json`), 'utf8')) as Record<string, string>;
  const agentSaw = outcome('agent');
  const childSaw = outcome('child');
  t.diagnostic(`agent: ${JSON.stringify(agentSaw)}`);
  t.diagnostic(`child: ${JSON.stringify(childSaw)}`);
  // The control: the child really could plant links (in its own domain), and they are on the host.
  assert.equal(childSaw['control:link-to-canary'], 'ok');
  assert.ok(lstatSync(join(dir, 'data/to-canary-child')).isSymbolicLink());
  // The child's own attempts "succeed" in its private view (a tmpfs /tmp holding nothing
  // of the host's): only the host can tell whether they reached anything, checked below.
  // The agent itself is held by Node's permission model before the OS even sees it.
  for (const [k, v] of Object.entries(agentSaw)) if (!k.startsWith('control:')) assert.notEqual(v, 'ok', `the agent's ${k} succeeded`);

  // The host: the canary as it was, the state directory the supervisor's alone.
  const logFile = join(logs, 'hostile.log');
  await until('the flood and the end of the attack in hostile.log', () => (readFileSync(logFile, 'utf8').includes('ATTACK-DONE') ? true : undefined));
  c.intact();
  stateIsClean(stateDir);
  assert.ok(lstatSync(`${logFile}.1`).isFile(), 'the flood rotated the log (the attack ran while the supervisor wrote and rotated)');
  // The flood's lines are where the supervisor wrote them: the live log, or (when a roll
  // fell just before ATTACK-DONE) the one rotated out. Each holds about 250 of them.
  const written = readFileSync(`${logFile}.1`, 'utf8') + readFileSync(logFile, 'utf8');
  assert.match(written, /"agent":"hostile","stream":"stdout","msg":"flood \d+ x+"/);
  assert.equal(statSync(stateDir).mode & 0o777, 0o700);
  assert.equal(agentOf(d, 'hostile').restarts, 0);
});

// ---- (d) defense in depth: an attacker who got into state/logs anyway ---------------------

describe('the supervisor never writes through a link planted in its state directory', () => {
  const noisy = ['agents:', `  noisy: { run: ${fixture('noisy.js')}, args: [--lines-per-tick=2] }`];
  const linesSince = (d: Daemon, from: number) => (d.out().slice(from).match(/"msg":"line \d+/g) ?? []).length;

  async function plantedOnce(t: TestContext, plant: (log: string, canary: string) => void, refusal: RegExp) {
    assert.equal(process.getuid!(), 0, ROOT_ONLY);
    const dir = project();
    const c = canary(dir);
    const d = await startDaemon(noisy, { dir, waitReady: ['noisy'] });
    t.after(() => stop(d, 'SIGTERM'));
    const log = join(d.stateDir, 'logs/noisy.log');
    await until('noisy.log to fill', () => (existsSync(log) && statSync(log).size > 0 ? true : undefined));
    plant(log, c.path);
    await d.printed(refusal, 15000);
    const at = d.out().search(refusal);
    // The agent keeps talking and the supervisor keeps reading it: those lines are not written through the link.
    await until('200 more lines from the agent', () => (linesSince(d, at) >= 200 ? true : undefined));
    c.intact();
    assert.equal(d.out().match(/"file":"noisy\.log","code":"EUNSAFE"/g)?.length, 1, 'the refusal is logged once, not once per line');
    assert.equal(d.proc.exitCode, null, 'the supervisor is still running');
    assert.equal(agentOf(d, 'noisy').state, 'running');
    assert.ok(lstatSync(join(d.stateDir, 'logs/supervisor.log')).isFile());
  }

  test('noisy.log replaced by a symlink to a root-owned file: refused, logged once, the canary untouched', (t) =>
    plantedOnce(t, (log, target) => {
      // Made beside it and renamed over it: one atomic swap, as an attacker would.
      symlinkSync(target, `${log}.new`);
      renameSync(`${log}.new`, log);
    }, /"file":"noisy\.log","code":"EUNSAFE","err":"[^"]*noisy\.log is a symbolic link[^"]*","msg":"cannot write a log file/));

  test('noisy.log replaced by a hard link to a root-owned file: refused, logged once, the canary untouched', (t) =>
    plantedOnce(t, (log, target) => {
      linkSync(target, `${log}.new`);
      renameSync(`${log}.new`, log);
    }, /"file":"noisy\.log","code":"EUNSAFE","err":"[^"]*noisy\.log has 2 hard links[^"]*","msg":"cannot write a log file/));

  test('a symlink planted at noisy.log.1: rotation replaces the link, never writes through it', async (t) => {
    assert.equal(process.getuid!(), 0, ROOT_ONLY);
    const dir = project();
    const c = canary(dir);
    const lines = ['logs: { max_size: 4KiB, keep: 2 }', ...noisy];
    const stateDir = join(dir, '.outheis');
    mkdirSync(join(stateDir, 'logs'), { recursive: true, mode: 0o700 });
    const planted = join(stateDir, 'logs/noisy.log.1');
    symlinkSync(c.path, planted);
    const d = await startDaemon(lines, { dir, waitReady: ['noisy'] });
    t.after(() => stop(d, 'SIGTERM'));
    // Two rotations: the link is moved to .2, then replaced by the rotated file.
    await until('noisy.log.1 and .2 to be rotated files', () =>
      ['noisy.log.1', 'noisy.log.2'].every((f) => lstatSync(join(stateDir, 'logs', f), { throwIfNoEntry: false })?.isFile()) ? true : undefined);
    c.intact();
    stateIsClean(stateDir);
    assert.equal(agentOf(d, 'noisy').state, 'running');
  });
});

test('links planted in the state directory before start: a pidfile link is replaced, not written through; a logs/ link is refused', async (t) => {
  assert.equal(process.getuid!(), 0, ROOT_ONLY);
  const dir = project();
  const c = canary(dir);
  const stateDir = join(dir, '.outheis');
  mkdirSync(stateDir, { mode: 0o700 });
  symlinkSync(c.path, join(stateDir, 'outheis.pid'));
  const lines = ['agents:', `  a: { run: ${fixture('echo.js')}, heartbeat: 0 }`];
  const d = await startDaemon(lines, { dir, waitReady: ['a'] });
  await stop(d);
  c.intact();
  stateIsClean(stateDir);

  // logs/ swapped for a link to a directory holding a file of root's by the name of a log.
  const elsewhere = join(dir, 'elsewhere');
  mkdirSync(elsewhere, { mode: 0o700 });
  writeFileSync(join(elsewhere, 'supervisor.log'), 'root\'s\n', { mode: 0o600 });
  renameSync(join(stateDir, 'logs'), join(stateDir, 'logs.old'));
  symlinkSync(elsewhere, join(stateDir, 'logs'));
  const start = cli(dir, ['start'], 60000);
  assert.equal(start.code, 1, start.out);
  assert.match(start.out, /logs is a symbolic link, not a directory: refusing to write through it/);
  assert.equal(readFileSync(join(elsewhere, 'supervisor.log'), 'utf8'), 'root\'s\n');
  assert.deepEqual(readdirSync(elsewhere), ['supervisor.log']);
  assert.equal(existsSync(join(stateDir, 'outheis.pid')), false, 'the refused start left no lock behind');
  t.diagnostic(start.out.trim());
});
