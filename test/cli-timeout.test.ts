// Client verbs against a supervisor that does not answer (issue 10, item 5). A
// SIGSTOPped supervisor's socket still accepts connections (the kernel does that),
// so every verb must bound its wait: ETIMEDOUT, exit 1, a message that says what
// is likely wrong. What the verbs sent meanwhile must not be carried out once the
// supervisor runs again (the request's deadline has passed). Variants: stand-in
// sockets that accept and never answer, answer half a line, or answer pings but
// never the work itself.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentOf, startDaemon, stop, type CliResult } from './helpers/daemon.js';
import { CLI, fixture } from './helpers/harness.js';
import { scratchDirs } from './helpers/scratch.js';

const scratch = scratchDirs('outheis-cli-timeout-');
/** Far above any answer the verbs wait for: a verb still running then hangs, and spawnSync's kill fails the test. */
const HANG = 60_000;

/** The CLI, asynchronously: the stand-in servers below answer from this process. */
function cli(args: string[], cwd?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: HANG, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const SILENT = /did not answer within 1s: it may be stopped \(SIGSTOP\) or overloaded/;

test('a SIGSTOPped supervisor: status, stop, send and restart exit 1 with ETIMEDOUT; after SIGCONT nothing they asked happens, and it serves on', async (t) => {
  // heartbeat 0: the watchdog's view of a stopped supervisor is another item's; here only the client is under test.
  const d = await startDaemon(['agents:', `  a: { run: ${fixture('echo.js')}, heartbeat: 0 }`], { waitReady: ['a'] });
  t.after(() => {
    d.proc.kill('SIGCONT');
    return stop(d, 'SIGKILL');
  });
  const before = agentOf(d, 'a');
  const supPid = d.proc.pid!;
  d.proc.kill('SIGSTOP');
  try {
    const verbs = [['status'], ['stop'], ['stop', 'a'], ['send', 'a', 'record', '{"late":true}'], ['send', 'a', 'echo', '{}', '--wait'], ['restart', 'a'], ['top', '-n', '1']];
    // All at once: each must time out on its own, whatever the others wait for.
    const results = await Promise.all(verbs.map((verb) => cli([...verb, '--timeout', '1s'], d.dir)));
    for (const [i, r] of results.entries()) {
      const verb = verbs[i]!;
      assert.equal(r.code, 1, `outheis ${verb.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`the supervisor \\(pid ${supPid}\\) ${SILENT.source}`), verb.join(' '));
    }
    const json = await cli(['status', '--timeout', '1s', '--json'], d.dir);
    assert.equal(json.code, 1);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'ETIMEDOUT');
  } finally {
    d.proc.kill('SIGCONT');
  }
  // Fine again: the same agent process (not stopped, not restarted), the late send not delivered.
  const after = agentOf(d, 'a');
  assert.equal(after.state, 'running');
  assert.equal(after.pid, before.pid);
  assert.equal(after.restarts, before.restarts);
  const seen = d.cli(['send', 'a', 'seen', '--wait', '--json']);
  assert.equal(seen.code, 0, seen.stderr);
  assert.deepEqual(JSON.parse(seen.stdout), { reply: [] });
  assert.equal(d.proc.exitCode, null, 'the late stop was not carried out');
  await stop(d);
});

/** A state directory whose socket runs `onConnection`, and a pidfile naming `pid`. */
async function standIn(onConnection: (sock: Socket) => void, pid = 4242): Promise<{ dir: string; server: Server }> {
  const dir = scratch();
  writeFileSync(join(dir, 'outheis.pid'), `${pid}\nstart 1\n`);
  const server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(join(dir, 'outheis.sock'), resolve));
  return { dir, server };
}

/** Each request line to `answer` (undefined: no answer). */
function lines(answer: (req: { id: number; op: string }) => string | undefined): (sock: Socket) => void {
  return (sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const a = answer(JSON.parse(buf.slice(0, nl)) as { id: number; op: string });
        buf = buf.slice(nl + 1);
        if (a !== undefined) sock.write(a);
      }
    });
  };
}

test('a socket that accepts and never answers: every client verb times out naming the pid', async (t) => {
  const { dir, server } = await standIn(lines(() => undefined), 31337);
  t.after(() => server.close());
  const verbs = [['status'], ['stop'], ['restart', 'a'], ['send', 'a', 'k', '1'], ['replay', '--live'], ['top', '-n', '1']];
  const results = await Promise.all(verbs.map((verb) => cli([...verb, '--state-dir', dir, '--timeout', '1s'])));
  for (const [i, r] of results.entries()) {
    const verb = verbs[i]!;
    assert.equal(r.code, 1, `${verb.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`the supervisor \\(pid 31337\\) ${SILENT.source}`), verb.join(' '));
  }
});

test('half a line, then silence: ETIMEDOUT, not a hang and not a parse error', async (t) => {
  const { dir, server } = await standIn(lines((req) => `{"id":${req.id},"ok":tr`));
  t.after(() => server.close());
  const r = await cli(['status', '--state-dir', dir, '--timeout', '400ms', '--json']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /\(pid 4242\) did not answer within 400ms/);
  assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'ETIMEDOUT');
});

test('stop and restart wait as long as the supervisor answers pings, and time out once it stops answering them', async (t) => {
  let pings = 0;
  const limit = 3;
  // Answers pings (alive, working) a few times, then goes silent as a stopped supervisor would.
  const { dir, server } = await standIn(lines((req) => (req.op === 'ping' && ++pings <= limit ? JSON.stringify({ id: req.id, ok: true, result: { pid: 4242, version: 'x' } }) + '\n' : undefined)));
  t.after(() => server.close());
  const r = await cli(['stop', '--state-dir', dir, '--timeout', '300ms']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /did not answer within 300ms/);
  assert.equal(pings, limit + 1, 'it kept waiting while pings were answered, and gave up at the first unanswered one');
});

test('send --wait: pings answered but no reply ever: bounded by its own --timeout, then ETIMEDOUT saying the supervisor answers', async (t) => {
  const { dir, server } = await standIn(lines((req) => (req.op === 'ping' ? JSON.stringify({ id: req.id, ok: true, result: { pid: 4242, version: 'x' } }) + '\n' : undefined)));
  t.after(() => server.close());
  const r = await cli(['send', 'a', 'k', '{}', '--wait', '--timeout', '500ms', '--state-dir', dir]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /no reply to send within 5\.5s, though the supervisor answers/);
});

test('--timeout that is not a duration is a usage error (exit 2)', async () => {
  const bads = ['soon', '0', '-1s'];
  const results = await Promise.all(bads.map((bad) => cli(['status', '--state-dir', scratch(), `--timeout=${bad}`])));
  for (const [i, r] of results.entries()) {
    const bad = bads[i]!;
    assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
    assert.match(r.stderr, /--timeout: /);
  }
});
