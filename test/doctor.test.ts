// `outheis doctor` through the real CLI: every layer it reports is proven by a probe
// started through the real sandbox chain, so these tests need the machine itself:
// root with bubblewrap (as CI installs it), then the same doctor as an unprivileged
// user, then as root on a machine where bubblewrap is not there to be found.
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { DoctorReport, LayerReport } from '../policies/doctor/index.js';
import { probeMachine } from '../policies/machine.js';
import { CLI, ROOT, cliReadableBy } from './helpers/harness.js';
import { scratchDirs } from './helpers/scratch.js';

const LAYERS = ['uid', 'namespaces', 'netns', 'permission', 'rlimits', 'heap', 'env', 'fds', 'cgroup'];
const NOBODY = 65534;
const scratch = scratchDirs('outheis-doctor-test-');
const machine = probeMachine();

// These tests need what CI installs (root, bubblewrap, user namespaces); on a machine
// without them this fails and says why, rather than skipping.
test('the test machine can sandbox: root, bubblewrap, user namespaces', () => {
  assert.ok(machine.root, 'run the tests as root (CI does)');
  assert.ok(machine.bwrap, 'install bubblewrap (npm run setup, or .ci/run)');
  assert.ok(machine.namespaces, machine.namespacesWhy);
});

function doctor(args: string[], env: NodeJS.ProcessEnv = process.env, wrap: string[] = []): SpawnSyncReturns<string> {
  const argv = [...wrap, process.execPath, wrap.length ? cliReadableBy('nobody') : CLI, 'doctor', ...args];
  return spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env, cwd: wrap.length ? tmpdir() : ROOT, timeout: 60_000 });
}

function report(r: SpawnSyncReturns<string>): DoctorReport {
  assert.equal(r.error, undefined, `the doctor did not run: ${r.error?.message}`);
  try {
    return JSON.parse(r.stdout) as DoctorReport;
  } catch {
    assert.fail(`not JSON (exit ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
}

const layer = (rep: DoctorReport, name: string): LayerReport => {
  const l = rep.layers.find((x) => x.layer === name);
  assert.ok(l, `no ${name} layer in ${JSON.stringify(rep.layers.map((x) => x.layer))}`);
  return l;
};

function assertWorks(rep: DoctorReport, name: string, evidence: RegExp[] = []): void {
  const l = layer(rep, name);
  assert.equal(l.status, 'works', `${name}: ${JSON.stringify(l)}`);
  for (const re of evidence) assert.match(l.evidence, re, `${name}: the evidence should say ${re}`);
}

/** ok, the exit code and the statuses tell the same story. */
function assertConsistent(rep: DoctorReport, r: SpawnSyncReturns<string>): void {
  assert.deepEqual(rep.layers.map((l) => l.layer), LAYERS);
  for (const l of rep.layers) {
    assert.ok(['works', 'MISSING', 'fallback', 'not applicable'].includes(l.status), JSON.stringify(l));
    assert.ok(l.evidence.length > 0, `${l.layer}: no evidence`);
  }
  assert.equal(rep.ok, rep.layers.every((l) => l.status !== 'MISSING'));
  assert.equal(r.status, rep.ok ? 0 : 1, r.stderr);
}

/** No probe directory left behind in `dir`. */
const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('outheis-doctor-'));

describe('as root with bubblewrap', () => {
  let rep: DoctorReport;
  let run: SpawnSyncReturns<string>;
  // The probe's uid must be able to traverse the temp dir its code lies in.
  const tmp = scratch();
  chmodSync(tmp, 0o755);

  test('--json: every layer but the heap cap is proven, with the refusals named', () => {
    run = doctor(['--json'], { ...process.env, TMPDIR: tmp });
    rep = report(run);
    assertConsistent(rep, run);
    assert.equal(rep.machine.root, true);
    assert.equal(rep.machine.bwrap, machine.bwrap);
    assertWorks(rep, 'uid', [/uid 6\d{4} gid 6\d{4}, no supplementary groups/, /NoNewPrivs 1/, /CapEff 0/, /Groups \[\]/]);
    assertWorks(rep, 'namespaces', [/\/etc\/shadow ENOENT/, /\/etc\/passwd ENOENT/, /\/ holds only /, /own mnt pid ipc uts/]);
    const root = /\/ holds only ([^;]+)/.exec(layer(rep, 'namespaces').evidence)?.[1]?.split(' ') ?? [];
    assert.ok(root.length > 0 && !root.includes('etc') && !root.includes('root') && !root.includes('home'), `the sandbox's /: ${root.join(' ')}`);
    assertWorks(rep, 'netns', [/ECONNREFUSED/, /reachable from outside/, /own net namespace/]);
    assertWorks(rep, 'permission', [/spawn, Worker, write outside data, read \/etc\/passwd: ERR_ACCESS_DENIED/, /write in data: ok/]);
    assertWorks(rep, 'rlimits', [/Max open files 64\/64/, /Max processes 64\/64/, /EMFILE/]);
    assertWorks(rep, 'env', [/OUTHEIS_DOCTOR_SECRET .*not passed/]);
    assertWorks(rep, 'fds', [/Node's own/, /none of the doctor's/]);
    // cgroups: this machine's v1 hierarchies, proven by a throttled spinner and an OOM-killed allocator
    assertWorks(rep, 'cgroup', [/^v1 at \/sys\/fs\/cgroup\/cpu\/outheis\/state-[0-9a-f]{10}, /, /spinning probe at \d+% of a core under a 20% quota, throttled in \d+ periods/, /memory probe killed by SIGKILL at a 64 MiB ceiling \(oom_kill 1, peak \d+ MiB\)/]);
    for (const ctrl of ['cpu', 'memory', 'pids']) {
      const instance = /outheis\/(state-[0-9a-f]{10})/.exec(layer(rep, 'cgroup').evidence)![1]!;
      assert.equal(existsSync(join('/sys/fs/cgroup', ctrl, 'outheis', instance)), false, `the doctor's ${ctrl} groups are removed`);
    }
    // The heap is reported either way, with the number it saw.
    assert.match(layer(rep, 'heap').evidence, /heap_size_limit \d+ MiB/);
    assert.deepEqual(leftovers(tmp), [], 'the doctor removes its temporary directory');
  });

  // V8's heap_size_limit counts the young generation too (3 semi-spaces): the plan sizes both
  // (policies/sandbox.ts heapFlags), and the doctor reads the limit from inside to prove it.
  test('the heap cap stays under limits.memory, so every layer works, ok, exit 0', () => {
    assertWorks(rep, 'heap', [/heap_size_limit \d+ MiB <= limits.memory 128 MiB/]);
    assert.equal(rep.ok, true);
    assert.equal(run.status, 0);
  });

  test('text: no escape codes under NO_COLOR (even with FORCE_COLOR), every layer listed, a summary', () => {
    const r = doctor([], { ...process.env, NO_COLOR: '1', FORCE_COLOR: '1', TMPDIR: tmp });
    assert.equal(r.error, undefined);
    assert.ok(!r.stdout.includes('\x1b'), `escape codes in: ${JSON.stringify(r.stdout)}`);
    const lines = r.stdout.split('\n');
    assert.match(lines.find((l) => l.startsWith('LAYER')) ?? '', /^LAYER\s+STATUS\s+EVIDENCE$/);
    for (const name of LAYERS) assert.ok(lines.some((l) => new RegExp(`^${name}\\s+(works|MISSING|fallback|not applicable)\\s+\\S`).test(l)), `no row for ${name} in:\n${r.stdout}`);
    assert.match(r.stdout, /^machine: root; node v\d+/m);
    assert.match(r.stdout, r.status === 0 ? /^ok: all 9 applicable layers work$/m : /^NOT ok: \d+ of 9 applicable layers missing: /m);
    assert.equal(r.status, rep.ok ? 0 : 1);
    // and colour where it is forced and not refused
    const coloured = doctor([], { ...process.env, NO_COLOR: '', FORCE_COLOR: '1', TMPDIR: tmp });
    assert.ok(coloured.stdout.includes('\x1b[32mworks\x1b[39m'), coloured.stdout);
  });
});

describe('as an unprivileged user (nobody)', () => {
  const asNobody = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'];
  test('uid is not applicable; namespaces, netns, permission, rlimits, env and fds still work', () => {
    const home = scratch();
    chmodSync(home, 0o700);
    chownSync(home, NOBODY, NOBODY);
    const r = doctor(['--json'], { ...process.env, HOME: home, TMPDIR: home }, asNobody);
    const rep = report(r);
    assertConsistent(rep, r);
    assert.equal(rep.machine.root, false);
    assert.equal(rep.machine.uid, NOBODY);
    const uid = layer(rep, 'uid');
    assert.equal(uid.status, 'not applicable', JSON.stringify(uid));
    assert.match(uid.evidence, /not root/);
    assertWorks(rep, 'namespaces', [/\/etc\/shadow ENOENT/, /own mnt pid ipc uts/]);
    assertWorks(rep, 'netns', [/ECONNREFUSED/]);
    assertWorks(rep, 'permission', [/ERR_ACCESS_DENIED/, /write in data: ok/]);
    assertWorks(rep, 'rlimits', [/Max open files 64\/64/, /EMFILE/]);
    assertWorks(rep, 'env');
    assertWorks(rep, 'fds');
    // Not root, and no delegated v2 subtree here: the fallback, with why.
    const cg = layer(rep, 'cgroup');
    assert.equal(cg.status, 'fallback', JSON.stringify(cg));
    assert.match(cg.evidence, /cgroup v1: \/sys\/fs\/cgroup\/cpu is not writable \(EACCES\)/);
    assert.deepEqual(leftovers(home), []);
  });
});

// PATH alone cannot hide bubblewrap: which() in policies/machine.ts also looks in
// /usr/bin, /bin, /usr/sbin and /sbin. So the doctor runs in a mount namespace of
// its own where /dev/null is bound over each of those (a file without x bits).
describe('without bubblewrap', () => {
  const unshare = ['/usr/bin/unshare', '/bin/unshare'].find((p) => existsSync(p));
  const mount = ['/usr/bin/mount', '/bin/mount'].find((p) => existsSync(p));
  const canHide = unshare !== undefined && mount !== undefined && spawnSync(unshare, ['-m', '--', 'true']).status === 0;

  test('namespaces and netns are MISSING with the package to install; the rest still works; exit 1', () => {
    assert.ok(canHide, 'unshare -m (util-linux) hides bubblewrap in a private mount namespace');
    const bin = scratch();
    chmodSync(bin, 0o755);
    symlinkSync(process.execPath, join(bin, 'node'));
    const tmp = scratch();
    chmodSync(tmp, 0o755);
    // In the new mount namespace only: the host keeps its bubblewrap.
    const hide = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'].map((d) => `if [ -e ${d}/bwrap ]; then ${mount} --bind /dev/null ${d}/bwrap || exit 99; fi; `).join('');
    const r = doctor(['--json'], { ...process.env, PATH: bin, TMPDIR: tmp }, [unshare!, '-m', '--', '/bin/sh', '-c', `${hide}exec "$0" "$@"`]);
    assert.notEqual(r.status, 99, `could not hide bubblewrap: ${r.stderr}`);
    const rep = report(r);
    assertConsistent(rep, r);
    assert.equal(rep.machine.bwrap, undefined, 'bubblewrap is still found');
    assert.equal(rep.ok, false);
    assert.equal(r.status, 1);
    for (const name of ['namespaces', 'netns']) {
      const l = layer(rep, name);
      assert.equal(l.status, 'MISSING', JSON.stringify(l));
      assert.equal(l.fix, 'apt-get install bubblewrap');
    }
    // the probe really was on the host's network: the refusal is missing, not assumed missing
    assert.match(layer(rep, 'netns').evidence, /127\.0\.0\.1:\d+: ok/);
    assertWorks(rep, 'uid', [/NoNewPrivs 1/]);
    assertWorks(rep, 'permission', [/ERR_ACCESS_DENIED/]);
    assertWorks(rep, 'rlimits', [/EMFILE/]);
    assertWorks(rep, 'env');
    assertWorks(rep, 'fds');
    assert.deepEqual(leftovers(tmp), []);
  });
});
