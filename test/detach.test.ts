// issue 12, item 4: `outheis start --detach` returns 0 once the supervisor is ready
// (the READY=1 rule), or 1 with the reason when it does not come up; its output is in
// state_dir/logs/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, alive, fixture, tempDir, until } from './helpers/harness.js';

function setup(lines: string[]): { dir: string; file: string; cli: (args: string[]) => { status: number | null; stdout: string; stderr: string } } {
  const dir = tempDir('outheis-detach-');
  const file = join(dir, 'outheis.yaml');
  writeFileSync(file, ['agents:', ...lines].join('\n') + '\n');
  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, ...args, '-c', file], { cwd: dir, encoding: 'utf8', timeout: 60000, env: { ...process.env, NO_COLOR: '1' } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return { dir, file, cli };
}

test('ready: exit 0 after the slow agent is ready, status works, a second --detach is refused as already running, stop ends it', async () => {
  const { dir, cli } = setup([`  slow: { run: ${fixture('notify-probe.js')}, args: [--ready-after=1500] }`, `  fast: { run: ${fixture('echo.js')} }`]);
  const r = cli(['start', '--detach']);
  assert.equal(r.status, 0, `${r.stderr}${r.stdout}`);
  const pid = Number(/started \(pid (\d+)\)/.exec(r.stdout)?.[1]);
  assert.match(r.stdout, /ready: 2 agents: 2 running; 0 restarts/);
  assert.match(r.stdout, new RegExp(`logs: ${join(dir, '.outheis/logs')}`));
  const status = JSON.parse(cli(['status', '--json']).stdout) as { agents: { name: string; state: string }[] };
  assert.deepEqual(status.agents.map((a) => a.state), ['running', 'running'], 'ready means every agent running, the slow one too');
  const again = cli(['start', '--detach']);
  assert.equal(again.status, 1, again.stdout);
  assert.match(again.stderr, /did not come up \(exit 1\):[\s\S]*another supervisor \(pid \d+\) is running/);
  assert.equal(cli(['stop']).status, 0);
  await until('the detached supervisor to exit', () => (alive(pid) ? undefined : true));
  const out = readFileSync(join(dir, '.outheis/logs/outheis.out'), 'utf8');
  assert.doesNotMatch(out, /"msg":"ready"/, 'its console does not copy supervisor.log');
  assert.match(readFileSync(join(dir, '.outheis/logs/supervisor.log'), 'utf8'), /"msg":"ready"/);
});

test('a start the supervisor refuses: exit 1 with the reason, and nothing left running', () => {
  // A domain the agent's uid cannot reach (a 0700 config directory): refused at start, after the config validated.
  const { dir, cli } = setup([`  a: { run: ${fixture('echo.js')}, owns: [data], unveil: { data: rw } }`]);
  const r = cli(['start', '--detach']);
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stderr, /did not come up \(exit 1\):[\s\S]*agents\.a\.unveil\.data: the agent's uid \d+ cannot reach/);
  assert.equal(existsSync(join(dir, '.outheis/outheis.pid')), false);
});
