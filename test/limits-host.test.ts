// Limits the host cannot grant (issue 10 item 8): the chain drops privileges before
// prlimit, so no agent can get more than the supervisor's own hard limit. `check` and
// `start` refuse such a config with the reason and the fix, instead of a crash loop
// of prlimit failures ending in escalation.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { hardLimits, limitsAboveHost } from '../policies/machine.js';
import { CLI, fixture, tempDir } from './helpers/harness.js';

/** `outheis <verb>` on a config with one agent under these limits, optionally under a lowered hard limit (prlimit). */
function run(verb: 'check' | 'start', limits: string, lowered: string[] = []) {
  const dir = tempDir('outheis-hostlim-');
  const file = join(dir, 'outheis.yaml');
  writeFileSync(file, `agents:\n  a: { run: ${JSON.stringify(fixture('echo.js'))}, limits: { ${limits} } }\n`);
  const argv = [...(lowered.length ? ['prlimit', ...lowered, '--'] : []), process.execPath, CLI, verb, '-c', file];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

const ourHard = () => hardLimits().nofile!;

test('limits.nofile above the hard limit: check and start refuse with the reason and the fix; start spawns nothing', () => {
  const hard = ourHard();
  assert.ok(hard > 0 && hard < 1048577, `this host's hard limit for open files is ${hard}`);
  const want = `agents.a.limits.nofile: 1048577 is above this host's hard limit ${hard} for open files; raise it (LimitNOFILE= / ulimit -Hn) or lower the limit`;
  const check = run('check', 'nofile: 1048577');
  assert.equal(check.code, 2, check.out);
  assert.ok(check.out.includes(want), check.out);
  const start = run('start', 'nofile: 1048577');
  assert.equal(start.code, 2, start.out);
  assert.ok(start.out.includes(want), start.out);
  assert.doesNotMatch(start.out, /"msg":"(spawn|started|ready)"|prlimit/, 'nothing was started');
});

test('the bound is the process\'s own hard limit: under a lowered one, one above refuses and the limit itself passes', () => {
  const above = run('check', 'nofile: 1025', ['--nofile=1024:1024']);
  assert.equal(above.code, 2, above.out);
  assert.match(above.out, /agents\.a\.limits\.nofile: 1025 is above this host's hard limit 1024 for open files/);
  const at = run('check', 'nofile: 1024', ['--nofile=1024:1024']);
  assert.equal(at.code, 0, at.out);
});

test('limits.nproc: the same, with its own fix; both limits are named at once', () => {
  const nproc = run('check', 'nproc: 501', ['--nproc=500:500']);
  assert.equal(nproc.code, 2, nproc.out);
  assert.match(nproc.out, /agents\.a\.limits\.nproc: 501 is above this host's hard limit 500 for processes; raise it \(LimitNPROC= \/ ulimit -Hu\) or lower the limit/);
  const both = run('start', 'nproc: 501, nofile: 2000', ['--nproc=500:500', '--nofile=1024:1024']);
  assert.equal(both.code, 2, both.out);
  assert.match(both.out, /limits\.nofile: 2000 is above/);
  assert.match(both.out, /limits\.nproc: 501 is above/);
  assert.equal(run('check', 'nproc: 500', ['--nproc=500:500']).code, 0);
});

test('hard limits are read from /proc/self/limits; unlimited bounds nothing', () => {
  const own = readFileSync('/proc/self/limits', 'utf8');
  const row = own.split('\n').find((l) => l.startsWith('Max open files'))!;
  assert.equal(hardLimits().nofile, Number(row.trim().split(/\s+/)[4]));
  const file = join(tempDir('outheis-limfile-'), 'limits');
  writeFileSync(file, [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max processes             unlimited            unlimited            processes ',
    'Max open files            1024                 4096                 files     ',
  ].join('\n'));
  const hard = hardLimits(file);
  assert.deepEqual(hard, { nofile: 4096, nproc: undefined });
  assert.deepEqual(limitsAboveHost({ nofile: 4096, nproc: 10 ** 9 }, hard), []);
  assert.deepEqual(limitsAboveHost({ nofile: 4097 }, hard).map(([k]) => k), ['nofile']);
});
