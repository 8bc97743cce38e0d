// `outheis send`'s body (issue 10, item 11): a number JSON.parse makes infinite
// (`1e999`) is refused naming where it is, instead of arriving as null; bodies too
// big for argv (~128 KiB a word) come from a file (`@FILE`) or stdin (`-`), and a
// file that is missing or not JSON is an error naming the file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDaemon, stop, type CliResult, type Daemon } from './helpers/daemon.js';
import { CLI, fixture } from './helpers/harness.js';
import { scratchDirs } from './helpers/scratch.js';

const scratch = scratchDirs('outheis-send-body-');

/** The CLI with `input` on its stdin. */
function cli(args: string[], opts: { cwd?: string; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    let child;
    try {
      child = execFile(process.execPath, [CLI, ...args], { cwd: opts.cwd, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
      });
    } catch (err) {
      // An argument list the kernel refuses (E2BIG) fails the spawn itself.
      return resolve({ code: null, stdout: '', stderr: String(err) });
    }
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input ?? '');
  });
}

/** Body errors are found before any supervisor is asked: a state dir with none will do. */
const noSupervisor = (): string[] => ['--state-dir', scratch()];

test('1e999 as the body, or anywhere inside it, is refused (exit 2) naming where', async () => {
  const cases: [string, RegExp][] = [
    ['1e999', /the message body: the number at its top level is beyond ±1\.8e308/],
    ['-1e999', /the number at its top level is beyond/],
    ['{"a":[1,{"b":-1e999}]}', /the message body: the number at \.a\[1\]\.b is beyond/],
    ['{"odd key":[2e400]}', /the number at \["odd key"\]\[0\] is beyond/],
  ];
  for (const [body, message] of cases) {
    const r = await cli(['send', 'a', 'k', body, ...noSupervisor()]);
    assert.equal(r.code, 2, `${body}: ${r.stderr}`);
    assert.match(r.stderr, message, body);
    assert.match(r.stderr, /send it as a string/i);
  }
  // A body that starts with "-" is the body, not an option, also after `--`.
  const dashed = await cli(['send', ...noSupervisor(), 'a', 'k', '--', '-1e999']);
  assert.equal(dashed.code, 2, dashed.stderr);
  assert.match(dashed.stderr, /the number at its top level is beyond/);
  // In a file, the error names the file.
  const file = join(scratch(), 'inf.json');
  writeFileSync(file, '{"deep":{"x":[0,0,1e999]}}');
  const r = await cli(['send', 'a', 'k', `@${file}`, ...noSupervisor()]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`the message body in ${file}: the number at \\.deep\\.x\\[2\\] is beyond`));
  const stdin = await cli(['send', 'a', 'k', '-', ...noSupervisor()], { input: '[1e999]' });
  assert.equal(stdin.code, 2);
  assert.match(stdin.stderr, /the message body on stdin: the number at \[0\] is beyond/);
});

test('@FILE that is missing, a directory, or not JSON: exit 2 naming the file; empty stdin names stdin', async () => {
  const dir = scratch();
  const missing = join(dir, 'nope.json');
  let r = await cli(['send', 'a', 'k', `@${missing}`, ...noSupervisor()]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`cannot read the message body from ${missing}: no such file`));
  r = await cli(['send', 'a', 'k', `@${dir}`, ...noSupervisor()]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`cannot read the message body from ${dir}: it is a directory`));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"a": 1,,}');
  r = await cli(['send', 'a', 'k', `@${bad}`, ...noSupervisor()]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`the message body in ${bad} must be JSON; got "\\{\\\\"a\\\\": 1,,\\}"`));
  r = await cli(['send', 'a', 'k', '-', ...noSupervisor()], { input: '' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /the message body on stdin must be JSON/);
  r = await cli(['send', 'a', 'k', '@', ...noSupervisor()]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /'@' needs a file name/);
});

async function bigBodyDaemon(): Promise<Daemon> {
  // A 1 MiB body is a frame over the default limits.frame of 1 MiB: the agent takes up to 4.
  return startDaemon(['agents:', `  a: { run: ${fixture('echo.js')}, limits: { frame: 4MiB } }`], { waitReady: ['a'] });
}

test('a 1 MiB body, over what argv can carry, arrives whole through @FILE and through stdin (a finite 1e308 inside it too)', async (t) => {
  const d = await bigBodyDaemon();
  t.after(() => stop(d, 'SIGKILL'));
  const body = { blob: 'é'.repeat(256 * 1024) + 'x'.repeat(512 * 1024), n: 1e308, nested: [{ k: 'end' }] };
  const text = JSON.stringify(body);
  assert.ok(Buffer.byteLength(text) >= 1024 * 1024);
  // As an argument it cannot even be passed: the kernel refuses the exec (E2BIG).
  const inline = await cli(['send', 'a', 'echo', text, '--wait'], { cwd: d.dir });
  assert.match(inline.stderr, /E2BIG/);
  const file = join(d.dir, 'body.json');
  writeFileSync(file, text);
  const viaFile = await cli(['send', 'a', 'echo', `@${file}`, '--wait', '--json'], { cwd: d.dir });
  assert.equal(viaFile.code, 0, viaFile.stderr);
  assert.deepEqual(JSON.parse(viaFile.stdout), { reply: body });
  const viaStdin = await cli(['send', 'a', 'echo', '-', '--wait', '--json'], { cwd: d.dir, input: text });
  assert.equal(viaStdin.code, 0, viaStdin.stderr);
  assert.deepEqual(JSON.parse(viaStdin.stdout), { reply: body });
  // Without --wait, accepted, and the agent holds it (record, then seen).
  const accepted = await cli(['send', 'a', 'record', '-'], { cwd: d.dir, input: text });
  assert.equal(accepted.code, 0, accepted.stderr);
  assert.match(accepted.stdout, /accepted: record → a/);
  const seen = await cli(['send', 'a', 'seen', '--wait', '--json'], { cwd: d.dir });
  assert.deepEqual((JSON.parse(seen.stdout) as { reply: { body: unknown }[] }).reply.map((s) => s.body), [body]);
  await stop(d);
});
