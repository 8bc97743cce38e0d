// Per-agent environment values and env files (issue 10, item 13), through a real
// `outheis start`: `env: [TZ, MODE=fast]` passes TZ and sets MODE for that agent
// alone; `env_file` values reach their agent and show nowhere else (status, logs,
// the journal, supervisor.log, check, the supervisor's own environ and cmdline);
// a loose, malformed or agent-writable env file is refused with the fix, and never
// quoted back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentOf, startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { CLI, fixture, tempDir, until } from './helpers/harness.js';

/** A value that appears nowhere unless something leaked it. */
const SECRET = `sk-live-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;

/** What the env.js fixture reported from its own process at its last start (not the one that reported `after`). */
async function reported(d: Daemon, file: string, after?: string): Promise<Record<string, string>> {
  const path = join(d.dir, file);
  const r = await until(`${path} from a started agent`, () => {
    if (!existsSync(path)) return undefined;
    const rec = JSON.parse(readFileSync(path, 'utf8')) as { start: string; env: Record<string, string> };
    return rec.start !== after ? rec : undefined;
  });
  return Object.assign(r.env, { __start: r.start });
}

function writeEnvFile(path: string, text: string, mode = 0o600): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

/** A config directory the agents' own uids can reach (their domains are bound from it). */
function configDir(prefix: string): string {
  const dir = tempDir(prefix);
  chmodSync(dir, 0o755);
  return dir;
}

const check = (file: string) => spawnSync(process.execPath, [CLI, 'check', '-c', file], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

test('two agents with different values for one name each see their own; TZ passes by name; the rest is scrubbed', async (t) => {
  const dir = configDir('outheis-env-');
  const d = await startDaemon([
    'agents:',
    `  a: { run: ${fixture('env.js')}, args: [--out=${dir}/a/env.json], owns: [a], unveil: { a: rw }, env: [TZ, MODE=fast, "GREETING=hello world = yes"] }`,
    `  b: { run: ${fixture('env.js')}, args: [--out=${dir}/b/env.json], owns: [b], unveil: { b: rw }, env: [MODE=slow] }`,
  ], { dir, waitReady: ['a', 'b'], env: { ...process.env, TZ: 'Europe/Paris', MODE: 'from-the-supervisor', UNNAMED: 'scrub me' } });
  t.after(() => stop(d));
  const a = await reported(d, 'a/env.json');
  const b = await reported(d, 'b/env.json');
  assert.equal(a.MODE, 'fast');
  assert.equal(b.MODE, 'slow', 'b has its own value for the same name');
  assert.equal(a.GREETING, 'hello world = yes', 'everything after the first "=" is the value');
  assert.equal(a.TZ, 'Europe/Paris', 'a name alone passes the supervisor\'s value');
  assert.equal(b.TZ, undefined, 'b did not name TZ');
  for (const e of [a, b]) assert.equal(e.UNNAMED, undefined, 'what no agent names is scrubbed');
  const environ = readFileSync(`/proc/${d.proc.pid}/environ`, 'latin1');
  assert.ok(!environ.includes('MODE=fast') && !environ.includes('MODE=slow'), 'the values were set in the children only');
  const detail = d.cli(['status', 'a', '--json']);
  assert.equal(detail.code, 0, detail.stderr);
  assert.deepEqual(JSON.parse(detail.stdout).manifest.env, ['TZ', 'MODE', 'GREETING'], 'status <agent> names the variables, never their values');
});

/** Every file under `dir`, as bytes: the journal's segments included. */
function filesUnder(dir: string): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push([join(entry.parentPath, entry.name), readFileSync(join(entry.parentPath, entry.name))]);
  }
  return out;
}

test('env_file values reach their agent alone, are read again at each spawn, and show nowhere else', async (t) => {
  const dir = configDir('outheis-envfile-');
  const secrets = join(dir, 'secrets', 'data.env');
  writeEnvFile(secrets, `# the keys\nAPI_KEY=${SECRET}\nexport REGION="eu west"\n\nMODE=from-file\n`);
  const d = await startDaemon([
    'agents:',
    `  a: { run: ${fixture('env.js')}, args: [--out=${dir}/a/env.json], owns: [a], unveil: { a: rw }, env: [MODE=inline], env_file: secrets/data.env }`,
    `  b: { run: ${fixture('env.js')}, args: [--out=${dir}/b/env.json], owns: [b], unveil: { b: rw } }`,
  ], { dir, waitReady: ['a', 'b'] });
  t.after(() => stop(d));
  const a = await reported(d, 'a/env.json');
  const b = await reported(d, 'b/env.json');
  assert.equal(a.API_KEY, SECRET);
  assert.equal(a.REGION, 'eu west', 'quotes and `export` as dotenv files have them');
  assert.equal(a.MODE, 'from-file', 'env_file wins over env, as EnvironmentFile= over Environment=');
  assert.equal(b.API_KEY, undefined, 'another agent does not get it');
  // A rotated key takes effect when the agent restarts.
  writeEnvFile(secrets, `API_KEY=${SECRET}-rotated\n`);
  assert.equal(d.cli(['restart', 'a']).code, 0);
  const again = await reported(d, 'a/env.json', a.__start);
  assert.equal(again.API_KEY, `${SECRET}-rotated`);
  assert.equal(again.REGION, undefined);
  // Now look everywhere an operator (or another agent's operator) could.
  const shown: [string, string | Buffer][] = [
    ['status --json', d.cli(['status', '--json']).stdout],
    ['status --wide', d.cli(['status', '--wide']).stdout],
    ['status a', Object.values(d.cli(['status', 'a'])).join('\n')],
    ['status a (agentOf)', JSON.stringify(agentOf(d, 'a'))],
    ['logs a --json', d.cli(['logs', 'a', '-n', '10000', '--json']).stdout],
    ['logs', d.cli(['logs', '-n', '10000']).stdout],
    ['journal --json', d.cli(['journal', '--json', '-n', '100000']).stdout],
    ['check', Object.values(check(d.file)).join('\n')],
    ['the console', d.out()],
    [`/proc/${d.proc.pid}/environ`, readFileSync(`/proc/${d.proc.pid}/environ`)],
    [`/proc/${d.proc.pid}/cmdline`, readFileSync(`/proc/${d.proc.pid}/cmdline`)],
    ...filesUnder(d.stateDir),
  ];
  assert.ok(shown.some(([what]) => what.endsWith('supervisor.log')), 'supervisor.log was searched');
  for (const [what, text] of shown) assert.ok(!text.includes(SECRET), `the secret shows in ${what}`);
});

test('an env file open to others, malformed, linked, agent-writable or foreign is refused by check and start, with the fix and without its values', async () => {
  const dir = configDir('outheis-envbad-');
  const run = fixture('env.js');
  const config = (envFile: string, extra = '') => {
    const file = join(dir, 'outheis.yaml');
    writeFileSync(file, `agents:\n  a: { run: ${run}, args: [--out=${dir}/a/env.json], owns: [a], unveil: { a: rw }, env_file: ${envFile}${extra} }\n`);
    return file;
  };
  const refused = (file: string, expected: RegExp[]) => {
    for (const verb of ['check', 'start']) {
      const r = spawnSync(process.execPath, [CLI, verb, '-c', file], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } });
      const said = r.stdout + r.stderr;
      assert.notEqual(r.status, 0, `${verb} refused: ${said}`);
      for (const e of expected) assert.match(said, e, `${verb} says`);
      assert.ok(!said.includes(SECRET), `${verb} quoted the secret: ${said}`);
      assert.ok(!existsSync(join(dir, 'a', 'env.json')), 'no agent started');
    }
  };
  const loose = join(dir, 'loose.env');
  writeEnvFile(loose, `API_KEY=${SECRET}\n`, 0o644);
  refused(config('loose.env'), [new RegExp(`agents\\.a\\.env_file: ${loose} is readable by others \\(mode 0644\\); chmod 600 it`)]);
  writeEnvFile(loose, `API_KEY=${SECRET}\n`, 0o640);
  refused(config('loose.env'), [/is readable by its group \(mode 0640\); chmod 600 it/]);

  const bad = join(dir, 'bad.env');
  writeEnvFile(bad, `GOOD=1\n${SECRET}\n${SECRET}=x\nNODE_OPTIONS=--allow-fs-write=*\nGOOD=2\nOPEN="${SECRET}\n`);
  refused(config('bad.env'), [
    /agents\.a\.env_file: .*bad\.env: line 2: expected NAME=value/,
    /line 3: the name before "=" is not a valid variable name/,
    /line 4: NODE_OPTIONS is reserved/,
    /line 5: GOOD is set again \(first on line 1\)/,
    /line 6: a quoted value opens here and is not closed/,
  ]);

  const good = join(dir, 'good.env');
  writeEnvFile(good, `API_KEY=${SECRET}\n`);
  symlinkSync(good, join(dir, 'link.env'));
  refused(config('link.env'), [/link\.env is a symbolic link; point env_file at the file itself/]);

  // In the agent's own domain it could swap the file for a link to another agent's secrets between two spawns.
  writeEnvFile(join(dir, 'a', 'mine.env'), `API_KEY=${SECRET}\n`);
  refused(config('a/mine.env'), [/mine\.env is inside .*\/a, which agent a may write \(owns\); keep secrets outside/]);

  const foreign = join(dir, 'foreign.env');
  writeEnvFile(foreign, `API_KEY=${SECRET}\n`);
  chownSync(foreign, 65534, 65534);
  refused(config('foreign.env'), [/foreign\.env is owned by uid 65534; it must belong to this supervisor's user \(uid 0\) or root: chown it/]);

  refused(config('missing.env'), [/missing\.env does not exist/]);
  // And the inline form names its key path.
  refused(config('good.env', ', env: [TZ, "1BAD=x", LD_PRELOAD=/tmp/x.so]'), [
    /agents\.a\.env\.1: "1BAD=x" is not a valid variable name/,
    /agents\.a\.env\.2: LD_PRELOAD is reserved/,
  ]);
});

test('an env file loosened while the supervisor runs is refused at the next spawn, and the agent does not get it', async (t) => {
  const dir = configDir('outheis-envlater-');
  const secrets = join(dir, 'data.env');
  writeEnvFile(secrets, 'API_KEY=first\n');
  const d = await startDaemon([
    'agents:',
    `  a: { run: ${fixture('env.js')}, args: [--out=${dir}/a/env.json], owns: [a], unveil: { a: rw }, env_file: data.env, restart: temporary }`,
  ], { dir, waitReady: ['a'] });
  t.after(() => stop(d, 'SIGTERM'));
  const first = await reported(d, 'a/env.json');
  assert.equal(first.API_KEY, 'first');
  writeEnvFile(secrets, `API_KEY=${SECRET}\n`, 0o604);
  d.cli(['restart', 'a']);
  const log = join(d.stateDir, 'logs', 'supervisor.log');
  await until('the spawn refused in supervisor.log', () => (/spawn failed.*chmod 600 it/.test(readFileSync(log, 'utf8')) ? true : undefined));
  const reason = agentOf(d, 'a').lastExit?.reason ?? '';
  assert.match(reason, /data\.env is readable by others \(mode 0604\); chmod 600 it/);
  const now = JSON.parse(readFileSync(join(dir, 'a', 'env.json'), 'utf8')) as { start: string };
  assert.equal(now.start, first.__start, 'no agent was started with the loose file');
  assert.ok(!readFileSync(log, 'utf8').includes(SECRET) && !d.out().includes(SECRET));
});
