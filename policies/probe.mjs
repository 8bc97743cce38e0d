// The doctor's probe (policies/doctor/): a plain Node script, started through the
// same sandbox chain an agent gets, that tries each forbidden thing from inside and
// reports what happened. It needs nothing but Node (no SDK, no channel). It prints
// one JSON line, then waits for SIGTERM (so that the doctor can read /proc/<pid>/*
// from outside while it still runs) and exits 0; it gives up waiting after 10 s.
//
// Every attempt is { ok, code?, detail? }: ok means the act succeeded; a refusal
// carries the error's code (ERR_ACCESS_DENIED, ENOENT, EACCES, EROFS, ECONNREFUSED, EMFILE, …).
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const port = Number(arg('port'));
const data = arg('data');
const outside = arg('outside');
const self = fileURLToPath(import.meta.url);

const failure = (err) => ({ ok: false, code: err?.code ?? err?.name ?? 'UNKNOWN', detail: String(err?.message ?? err).split('\n')[0].slice(0, 200) });

async function attempt(fn) {
  try {
    return { ok: true, ...(await fn()) };
  } catch (err) {
    return failure(err);
  }
}

/** /proc/self/status, parsed: what the kernel says about this process (may be refused by the permission model). */
function procStatus() {
  const fields = {};
  for (const line of readFileSync('/proc/self/status', 'utf8').split('\n')) {
    const m = /^(\w+):\s*(.*)$/.exec(line);
    if (m && ['Uid', 'Gid', 'Groups', 'NoNewPrivs', 'CapEff', 'CapPrm', 'CapBnd', 'Seccomp'].includes(m[1])) fields[m[1]] = m[2].trim();
  }
  return { status: fields };
}

function fdType(st) {
  if (st.isFIFO()) return 'pipe';
  if (st.isSocket()) return 'socket';
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isCharacterDevice()) return 'chr';
  if (st.isBlockDevice()) return 'blk';
  if (st.isSymbolicLink()) return 'link';
  return 'anon'; // eventpoll, eventfd: anonymous inodes carry no file type
}

const results = {};

// 1. who am I (the uid drop): the numbers, then the kernel's own account
results.uid = { ok: true, uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(), pid: process.pid, hostname: hostname() };
results.procStatus = await attempt(procStatus);

// 2. the mount namespace: nothing of the host's /etc, and a root with only what was bound
results.shadow = await attempt(() => ({ detail: `${readFileSync('/etc/shadow').length} bytes` }));
results.passwd = await attempt(() => ({ detail: `${readFileSync('/etc/passwd').length} bytes` }));
results.root = await attempt(() => ({ entries: readdirSync('/').sort() }));

// 3. the network namespace: the doctor listens on the host's loopback
results.connect = await new Promise((resolve) => {
  let socket;
  const done = (outcome) => {
    clearTimeout(timer);
    socket?.destroy();
    resolve(outcome);
  };
  const timer = setTimeout(() => done({ ok: false, code: 'ETIMEDOUT', detail: 'no answer in 2 s' }), 2000);
  try {
    socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (err) => done(failure(err)));
  } catch (err) {
    done(failure(err));
  }
});

// 4. Node's permission model: processes, threads, writes outside the grant; and the grant itself
results.spawn = await attempt(() => {
  const r = spawnSync(process.execPath, ['-e', '0'], { timeout: 5000, stdio: 'ignore' });
  if (r.error) throw r.error;
  if (r.status !== 0) return { ok: false, code: r.signal ?? `exit ${r.status}` };
  return {};
});
results.worker = await attempt(async () => {
  const worker = new Worker('0', { eval: true });
  await new Promise((resolve, reject) => {
    worker.once('exit', resolve);
    worker.once('error', reject);
  });
  return {};
});
results.writeOutside = await attempt(() => {
  writeFileSync(outside, 'planted by the doctor probe\n');
  return { detail: outside };
});
results.writeData = await attempt(() => {
  writeFileSync(`${data}/probe.txt`, 'written by the doctor probe\n');
  return { detail: `${data}/probe.txt` };
});

// 5. the V8 heap cap
results.heap = { ok: true, heapSizeLimit: getHeapStatistics().heap_size_limit };

// 6. the environment: the doctor set OUTHEIS_DOCTOR_SECRET in its own
// PWD, when bubblewrap changed directory (--chdir), is its own doing: say whether it is just the cwd.
results.env = { ok: true, keys: Object.keys(process.env).sort(), secret: 'OUTHEIS_DOCTOR_SECRET' in process.env, pwdIsCwd: process.env.PWD === process.cwd() };

// 7. descriptors beyond stdio: Node's own (event loop, signal pipes, /dev/null) are expected
const fds = [];
for (let fd = 3; fd <= 64; fd++) {
  try {
    fds.push({ fd, type: fdType(fstatSync(fd)) });
  } catch {
    // EBADF: not open
  }
}
results.fds = { ok: true, open: fds };

// 8. rlimits: open files until the kernel says no (after the fd listing, and all closed again)
results.limits = await attempt(() => ({ detail: readFileSync('/proc/self/limits', 'utf8').split('\n').filter((l) => /open files|processes/.test(l)).join('; ') }));
results.nofile = (() => {
  const held = [];
  try {
    for (let i = 0; i < 256; i++) held.push(openSync(self, 'r'));
    return { ok: true, opened: held.length };
  } catch (err) {
    return { ...failure(err), opened: held.length, highest: held.at(-1) };
  } finally {
    for (const fd of held) closeSync(fd);
  }
})();

process.on('SIGTERM', () => process.exit(0));
setTimeout(() => process.exit(0), 10_000);
process.stdout.write(JSON.stringify(results) + '\n');
