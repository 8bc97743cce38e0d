// closeInheritedFds in a real child process: a descriptor inherited without
// close-on-exec (a shell's `exec 7<file`) is closed, stdio is kept, the process
// keeps working afterwards, and nothing non-cloexec but stdio (and `keep`) remains.
// And in a real `outheis start`: a stray fd the supervisor inherited never reaches an agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, stop } from './helpers/daemon.js';
import { fixture } from './helpers/harness.js';

const FDS_MODULE = new URL('../policies/fds.js', import.meta.url).href;

interface Report {
  /** The probe fds' close-on-exec flag as user code first sees it ('closed' if not open). */
  before: Record<string, boolean | 'closed'>;
  closed: number[];
  /** What /proc/self/fd shows after the call: fd → close-on-exec set? */
  after: Record<string, boolean>;
  /** fstat of the given probe fds after the call: 'ok' or the error code. */
  probes: Record<string, string>;
  /** Which of 0, 1, 2 and the probe fds a process spawned after the call inherits. */
  grandchild: number[];
  /** Async I/O still works after the call. */
  readBack: string;
}

const SCRIPT = `
import { closeInheritedFds } from ${JSON.stringify(FDS_MODULE)};
import { spawnSync } from 'node:child_process';
import { fstatSync, readdirSync, readFileSync, promises as fsp } from 'node:fs';
const keep = new Set(JSON.parse(process.env.KEEP_FDS || '[]'));
const probe = JSON.parse(process.env.PROBE_FDS || '[]');
const cloexec = (fd) => {
  const flags = /^flags:\\s*([0-7]+)/m.exec(readFileSync('/proc/self/fdinfo/' + fd, 'utf8'));
  return flags ? (parseInt(flags[1], 8) & 0o2000000) !== 0 : null;
};
const before = {};
for (const fd of probe) { try { before[fd] = cloexec(fd); } catch { before[fd] = 'closed'; } }
const closed = process.env.SKIP_CLOSE ? [] : closeInheritedFds(keep);
const after = {};
for (const e of readdirSync('/proc/self/fd')) {
  try { after[e] = cloexec(e); } catch { /* the readdir handle itself */ }
}
const probes = {};
for (const fd of probe) {
  try { fstatSync(fd); probes[fd] = 'ok'; } catch (err) { probes[fd] = err.code; }
}
// What a process spawned now (an agent) inherits: [ -e ] stats without opening an fd.
const sh = spawnSync('/bin/sh', ['-c', 'for f in "$@"; do [ -e /proc/self/fd/$f ] && echo $f; done; true', 'sh', ...new Set(['0', '1', '2', ...probe.map(String)])],
  { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
const grandchild = sh.stdout.split('\\n').filter(Boolean).map(Number);
// A timer and an async read: the event loop's own fds (epoll, eventfd) survived the call.
// The 10 ms is what is exercised here, not a wait for anything.
await new Promise((r) => setTimeout(r, 10));
const readBack = (await fsp.readFile(process.env.READ_BACK, 'utf8')).trim();
process.stdout.write(JSON.stringify({ before, closed, after, probes, grandchild, readBack }));
`;

let dir: string;
function setup(): { script: string; data: string } {
  dir ??= mkdtempSync(join(tmpdir(), 'outheis-fds-'));
  const script = join(dir, 'probe.mjs');
  const data = join(dir, 'data.txt');
  writeFileSync(script, SCRIPT);
  writeFileSync(data, 'still readable\n');
  return { script, data };
}

function collect(child: ReturnType<typeof spawn>): Promise<Report> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c));
    child.stderr!.on('data', (c: Buffer) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`probe exited ${code}: ${err}`));
      try { resolve(JSON.parse(out) as Report); } catch (e) { reject(new Error(`bad probe output ${JSON.stringify(out)}: ${err}`)); }
    });
  });
}

function assertOnlyStdioAndKeptRemainInheritable(r: Report, keep: number[] = []): void {
  for (const fd of [0, 1, 2]) assert.ok(String(fd) in r.after, `fd ${fd} must be kept: ${JSON.stringify(r.after)}`);
  for (const fd of [0, 1, 2]) assert.ok(!r.closed.includes(fd), `fd ${fd} must not be closed`);
  for (const [fd, cloexec] of Object.entries(r.after)) {
    const n = Number(fd);
    if (n <= 2 || keep.includes(n)) continue;
    assert.equal(cloexec, true, `fd ${fd} is still open without close-on-exec after the call: ${JSON.stringify(r.after)}`);
  }
  assert.deepEqual(r.grandchild.filter((fd) => fd <= 2), [0, 1, 2], 'a process spawned afterwards still has stdio');
  assert.equal(r.readBack, 'still readable', 'the process still does async I/O afterwards');
}

/** Run the probe under bash after `exec <redirs>`, so the fds are inherited without close-on-exec. */
function viaShell(redirs: string, env: Record<string, string>): Promise<Report> {
  const { script, data } = setup();
  const child = spawn('bash', ['-c', `exec ${redirs}; exec "$NODE" "$SCRIPT"`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DATA: data, NODE: process.execPath, SCRIPT: script, READ_BACK: data, ...env },
  });
  return collect(child);
}

test.after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

// Note: Node calls libuv's uv_disable_stdio_inheritance() at startup, which sets
// close-on-exec on fds 0..15 and on up to the first gap after that. So a low fd such
// as 7 is already close-on-exec by the time closeInheritedFds runs (it then need not,
// and does not, close it); fds beyond that scan (40, 100 here) are the ones it must close.

test('an fd 7 passed through spawn stdio does not reach a process spawned afterwards; 0-2 are kept', async () => {
  const { script, data } = setup();
  const fd = openSync(data, 'r');
  try {
    const child = spawn(process.execPath, [script], {
      stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', 'ignore', fd],
      env: { ...process.env, PROBE_FDS: '[7]', READ_BACK: data },
    });
    const r = await collect(child);
    assert.notEqual(r.before['7'], 'closed', 'fd 7 was inherited');
    if (r.before['7'] === false) {
      assert.ok(r.closed.includes(7), `fd 7 was not close-on-exec and must be closed: ${JSON.stringify(r)}`);
      assert.equal(r.probes['7'], 'EBADF');
    } else {
      assert.equal(r.after['7'], true, 'fd 7 left open only because it is close-on-exec');
    }
    assert.ok(!r.grandchild.includes(7), `fd 7 leaked to a process spawned afterwards: ${JSON.stringify(r)}`);
    assertOnlyStdioAndKeptRemainInheritable(r);
  } finally {
    closeSync(fd);
  }
});

test('fds inherited without close-on-exec from a shell `exec 7<f 40<f 100<f` are closed; 0-2 are kept', async () => {
  const r = await viaShell('7<"$DATA" 40<"$DATA" 100<"$DATA"', { PROBE_FDS: '[7, 40, 100]' });
  assert.equal(r.before['40'], false, `fd 40 must start out inheritable for this test to mean anything: ${JSON.stringify(r)}`);
  assert.equal(r.before['100'], false);
  assert.ok(r.closed.includes(40) && r.closed.includes(100), `fds 40 and 100 should have been closed: ${JSON.stringify(r)}`);
  assert.equal(r.probes['40'], 'EBADF');
  assert.equal(r.probes['100'], 'EBADF');
  assert.ok(!('40' in r.after) && !('100' in r.after), 'gone from /proc/self/fd');
  if (r.before['7'] === false) assert.ok(r.closed.includes(7), 'a non-cloexec fd 7 must be closed');
  assert.deepEqual(r.grandchild.filter((fd) => fd > 2), [], `inherited fds leaked to a process spawned afterwards: ${JSON.stringify(r)}`);
  assertOnlyStdioAndKeptRemainInheritable(r);
});

test('control: without closeInheritedFds the same fds do leak to a process spawned afterwards', async () => {
  const r = await viaShell('40<"$DATA" 100<"$DATA"', { PROBE_FDS: '[40, 100]', SKIP_CLOSE: '1' });
  assert.deepEqual(r.grandchild.filter((fd) => fd > 2), [40, 100], 'the leak probe detects inherited fds');
});

test('fds in keep are left open and inheritable', async () => {
  const r = await viaShell('40<"$DATA" 41<"$DATA"', { KEEP_FDS: '[41]', PROBE_FDS: '[40, 41]' });
  assert.ok(r.closed.includes(40));
  assert.ok(!r.closed.includes(41), 'fd 41 was in keep');
  assert.deepEqual(r.probes, { 40: 'EBADF', 41: 'ok' });
  assert.equal(r.after['41'], false, 'the kept fd is still open and still inheritable');
  assert.deepEqual(r.grandchild.filter((fd) => fd > 2), [41]);
  assertOnlyStdioAndKeptRemainInheritable(r, [41]);
});

test('stdio fds are kept even when they point at files', async () => {
  const r = await viaShell('0<"$DATA"', { PROBE_FDS: '[0, 1, 2]' });
  assert.deepEqual(r.probes, { 0: 'ok', 1: 'ok', 2: 'ok' });
  assert.ok(r.closed.every((fd) => fd > 2));
  assertOnlyStdioAndKeptRemainInheritable(r);
});

test('outheis start: a stray fd inherited without close-on-exec never reaches an agent', async (t) => {
  const { data } = setup();
  const d = await startDaemon(['agents:', `  one: { run: ${fixture('echo.js')}, args: [--print-fds] }`], {
    waitReady: ['one'],
    // A careless parent: the shell opens fd 100 without close-on-exec and execs the
    // supervisor (Node itself marks only 0-15 close-on-exec at start-up).
    wrap: (argv) => ['bash', '-c', 'exec 100<"$0" && exec "$@"', data, ...argv],
  });
  t.after(() => stop(d, 'SIGKILL'));
  // The supervisor did inherit it, inheritable: it says it closed it.
  await d.printed(/"fds":\[[\d,]*\b100\b[\d,]*\].*"msg":"closed inherited file descriptors/);
  // The agent lists its own fds before it says ready.
  await d.printed(/"msg":"fds \[/);
  const line = d.out().split('\n').find((l) => l.includes('"msg":"fds ['))!;
  const fds = JSON.parse((JSON.parse(line) as { msg: string }).msg.slice('fds '.length)) as string[];
  assert.ok(fds.includes('3=socket'), `fd 3 is the channel: ${fds}`);
  // Not as fd 100, nor as any other (the agent's own Node has fds of its own above 3).
  assert.ok(!fds.some((f) => f.startsWith('100=') || f.endsWith(`=file:${statSync(data).ino}`)), `the stray fd 100 reached the agent: ${fds}`);
});
