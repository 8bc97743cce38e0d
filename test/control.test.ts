// The control socket itself: who may connect, what a bad request gets, and one
// supervisor per state directory (stale leftovers of a crash replaced).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDaemon, stop } from './helpers/daemon.js';
import { alive, fixture, until } from './helpers/harness.js';

const config = (extra: string[] = []) => ['metrics: { interval: 200ms }', 'agents:', `  a: { run: ${fixture('echo.js')} }`, ...extra];

/** Send raw bytes on the socket; collect reply lines until the server ends the connection or `replies` arrived. */
function raw(path: string, payload: Buffer | string, replies: number): Promise<{ lines: string[]; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let buf = '';
    let ended = false;
    const finish = () => {
      sock.destroy();
      resolve({ lines: buf.split('\n').filter(Boolean), ended });
    };
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.split('\n').filter(Boolean).length >= replies) finish();
    });
    sock.on('end', () => { ended = true; finish(); });
    sock.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? finish() : reject(err)));
    sock.write(payload);
  });
}

test('the state directory is 0700 and the socket and pidfile 0600, even when the directory existed wider', async (t) => {
  const d = await startDaemon(config());
  t.after(() => stop(d, 'SIGTERM'));
  assert.equal(statSync(d.stateDir).mode & 0o777, 0o700);
  assert.equal(statSync(join(d.stateDir, 'outheis.sock')).mode & 0o777, 0o600);
  assert.equal(statSync(join(d.stateDir, 'outheis.pid')).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(d.stateDir, 'outheis.pid'), 'utf8').split('\n')[0], String(d.proc.pid));
  assert.equal(await stop(d, 'SIGTERM'), 0, `a SIGTERM stop exits 0:\n${d.out()}`);
  assert.equal(existsSync(join(d.stateDir, 'outheis.sock')), false, 'the socket goes with the supervisor');
  // A directory left 0755 (by hand, or an older tool) is tightened on start, and the fix is logged.
  chmodSync(d.stateDir, 0o755);
  const again = await startDaemon(config(), { dir: d.dir });
  t.after(() => stop(again, 'SIGTERM'));
  assert.equal(statSync(d.stateDir).mode & 0o777, 0o700);
  await again.printed(/state_dir mode was 0755, set to 0700/);
});

test('a user other than the owner cannot connect to the control socket', async (t) => {
  const d = await startDaemon(config());
  t.after(() => stop(d, 'SIGTERM'));
  const sock = join(d.stateDir, 'outheis.sock');
  const tryAs = () => spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e',
    `require('net').connect(${JSON.stringify(sock)}).on('connect', () => { console.log('CONNECTED'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(3); })`], { encoding: 'utf8' });
  if (process.getuid!() !== 0) {
    // Not root: no other user to become. What can still be checked is that the modes deny everyone else.
    assert.equal(statSync(sock).mode & 0o077, 0);
    assert.equal(statSync(d.stateDir).mode & 0o077, 0);
    t.diagnostic('not root: the nobody connection attempt needs root to drop to nobody');
    return;
  }
  const denied = tryAs();
  assert.equal(denied.stdout.trim(), 'EACCES', `nobody connected through the 0700 directory: ${denied.stdout}${denied.stderr}`);
  // Defence in depth: with the directory opened up, the socket's own 0600 still keeps nobody out.
  chmodSync(d.stateDir, 0o711);
  try {
    const stillDenied = tryAs();
    assert.equal(stillDenied.stdout.trim(), 'EACCES', `nobody connected through the socket itself: ${stillDenied.stdout}${stillDenied.stderr}`);
  } finally {
    chmodSync(d.stateDir, 0o700);
  }
  // The owner can, so the refusals above are about permissions, not a dead socket.
  assert.equal(d.cli(['status', '--json']).code, 0);
});

test('malformed and oversized requests get error replies; the supervisor keeps serving', async (t) => {
  const d = await startDaemon(config());
  t.after(() => stop(d, 'SIGTERM'));
  const sock = join(d.stateDir, 'outheis.sock');
  const bad = await raw(sock, [
    'this is not json',
    '{"op":"launch-missiles"}',
    '{"op":"send","to":"a"}',
    '{"op":"restart","agent":42,"id":7}',
    '[1,2,3]',
    '{"op":"status","extra":true}',
    '',
  ].join('\n'), 6);
  const replies = bad.lines.map((l) => JSON.parse(l) as { ok: boolean; id?: number; error?: { code: string; message: string } });
  assert.equal(replies.length, 6);
  for (const r of replies) {
    assert.equal(r.ok, false);
    assert.equal(r.error!.code, 'EBADREQ');
  }
  assert.match(replies[0]!.error!.message, /not JSON/);
  assert.equal(replies.find((r) => r.id === 7)?.error?.message.includes('agent'), true, 'the error names the bad field');
  // Binary garbage with no newline for 5 MiB: refused as too big, connection closed.
  const big = await raw(sock, Buffer.alloc(5 * 1024 * 1024, 0xff), 1);
  assert.equal((JSON.parse(big.lines[0]!) as { error: { code: string } }).error.code, 'ETOOBIG');
  // A request for an agent that does not exist.
  const missing = d.cli(['restart', 'ghost']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no agent named "ghost"/);
  // Still serving, same process.
  const s = d.cliJson<{ supervisor: { pid: number }; agents: { name: string; state: string }[] }>(['status']);
  assert.equal(s.supervisor.pid, d.proc.pid);
  assert.equal(d.proc.exitCode, null);
});

test('a second supervisor on the same state directory is refused; the first carries on', async (t) => {
  const d = await startDaemon(config());
  t.after(() => stop(d, 'SIGTERM'));
  const second = d.cli(['start', '-c', d.file], { timeout: 15000 });
  assert.equal(second.code, 1, second.stdout + second.stderr);
  assert.match(second.stderr, new RegExp(`another supervisor \\(pid ${d.proc.pid}\\) is running on ${d.stateDir.replace(/[.]/g, '\\.')}`));
  assert.equal(d.proc.exitCode, null);
  assert.equal(d.cliJson<{ supervisor: { pid: number } }>(['status']).supervisor.pid, d.proc.pid);
  assert.ok(existsSync(join(d.stateDir, 'outheis.sock')), 'the refused one left the socket alone');
});

test('after a SIGKILL, the stale socket and pidfile are reported by the CLI and replaced by the next start', async (t) => {
  const d = await startDaemon(config());
  const agentPid = d.cliJson<{ agents: { pid: number }[] }>(['status']).agents[0]!.pid;
  await stop(d, 'SIGKILL');
  assert.ok(existsSync(join(d.stateDir, 'outheis.sock')) && existsSync(join(d.stateDir, 'outheis.pid')), 'SIGKILL leaves both behind');
  await until('the agent to exit once its supervisor is gone', () => (alive(agentPid) ? undefined : true));
  const down = d.cli(['status']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /no supervisor is running .*stale socket/);
  const next = await startDaemon(config(), { dir: d.dir });
  t.after(() => stop(next, 'SIGTERM'));
  await next.printed(/replaced the stale pidfile/);
  await next.printed(/replaced a stale control socket/);
  assert.equal(next.cliJson<{ supervisor: { pid: number } }>(['status']).supervisor.pid, next.proc.pid);
});

test('with no supervisor at all, client verbs say so and exit 1', async () => {
  const d = await startDaemon(config());
  await stop(d, 'SIGTERM');
  for (const verb of [['status'], ['top', '-n', '1'], ['send', 'a', 'echo'], ['restart', 'a'], ['stop']]) {
    const r = d.cli(verb);
    assert.equal(r.code, 1, `${verb.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /no supervisor is running on .*no control socket/);
  }
  const json = d.cli(['status', '--json']);
  assert.equal(json.code, 1);
  assert.deepEqual(Object.keys(JSON.parse(json.stdout)), ['ok', 'error']);
});
