// The unit's sandboxing around a real `outheis start` and `outheis doctor`. systemd
// cannot start units on this machine, so test/helpers/unit-sandbox.ts applies the
// unit's [Service] directives itself (mount namespace, capabilities, no_new_privs,
// real seccomp filters) and lists what it cannot apply. The unit is the one
// `outheis service install --print` writes for the test's config. Everything the supervisor needs (its
// code, config, state, domains) lies where such a unit lets it be seen: under
// /var/lib, not under /root, /home or /tmp, which the unit hides.
// Over 300 lines: one daemon and the table of directives that break the chain, each with the error it causes.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stepsOf, type NodeFlags } from '../policies/chain.js';
import type { DoctorReport } from '../policies/doctor/index.js';
import { agentOf, startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { ROOT } from './helpers/harness.js';
import { syscallGroup, unitSandbox, type UnitSandbox } from './helpers/unit-sandbox.js';

/** Parts of a unit the harness cannot apply that leave the supervisor's sandbox chain as it is. */
const UNEMULATED_OK = [
  /^ProtectClock=/, // its DeviceAllow=char-rtc r: a device cgroup rule
  /^(IPAddressDeny|IPAddressAllow|DeviceAllow|DevicePolicy)=/, // cgroup BPF and device rules: no manager here to own the cgroup
];

const base = mkdtempSync('/var/lib/outheis-unitbox-');
chmodSync(base, 0o755);
after(() => rmSync(base, { recursive: true, force: true }));
const app = join(base, 'app');
const cli = join(app, 'dist/cli/main.js');
const stateDir = join(base, '.outheis');
const notes = join(base, 'data/notes');

/** outheis, installed where a service's code lies: out of the home directories and /tmp the unit hides. */
function install(): void {
  for (const part of ['package.json', 'dist', 'node_modules', 'policies']) cpSync(join(ROOT, part), join(app, part), { recursive: true, dereference: true });
  for (const [agent, file] of [['keeper', 'attacker.js'], ['fetcher', 'echo.js']] as const) {
    mkdirSync(join(base, 'code', agent), { recursive: true, mode: 0o755 });
    cpSync(join(ROOT, 'test/fixtures', file), join(base, 'code', agent, file));
  }
  mkdirSync(notes, { recursive: true, mode: 0o755 });
  mkdirSync(stateDir, { mode: 0o700 });
  // The unit is generated from this file (startDaemon writes the same lines again).
  writeFileSync(join(base, 'outheis.yaml'), CONFIG.join('\n') + '\n');
}

const CONFIG = [
  'agents:',
  '  keeper: { run: code/keeper/attacker.js, owns: [data/notes], unveil: { data/notes: rw } }',
  '  fetcher: { run: code/fetcher/echo.js, pledge: [net, spawn, "send:keeper"] }',
];

/** The unit `outheis service install --print` writes for this config. */
function theUnit(): { text: string; from: string } {
  const r = spawnSync(process.execPath, [cli, 'service', 'install', '--print', '-c', join(base, 'outheis.yaml')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `outheis service install --print: ${r.stderr}`);
  return { text: r.stdout, from: 'outheis service install --print' };
}

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** `outheis doctor --json` under the unit plus `add`; asynchronous, so the variants can run side by side. */
function doctorUnder(unit: string, add: string[] = []): Promise<Run & { sandbox: UnitSandbox }> {
  const sandbox = unitSandbox(unit, { add });
  const argv = [...sandbox.prefix, process.execPath, cli, 'doctor', '--json'];
  return new Promise((resolve) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: base });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, sandbox }));
  });
}

function report(r: Run): DoctorReport {
  try {
    return JSON.parse(r.stdout) as DoctorReport;
  } catch {
    assert.fail(`the doctor printed no report (exit ${r.code ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
}

/** CapBnd as /proc/<pid>/status shows it, for a list of capability names. */
function capMask(names: string[]): string {
  const all = spawnSync('capsh', ['--decode=ffffffffff'], { encoding: 'utf8' }).stdout;
  const order = all.slice(all.indexOf('=') + 1).trim().split(',');
  let mask = 0n;
  for (const n of names) {
    const i = order.indexOf(`cap_${n}`);
    assert.ok(i >= 0, `capsh does not know cap_${n}`);
    mask |= 1n << BigInt(i);
  }
  return mask.toString(16).padStart(16, '0');
}

const procStatus = (pid: number): Record<string, string> =>
  Object.fromEntries(readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));

install();
const unit = theUnit();

describe(`under the unit's sandboxing (${unit.from})`, () => {
  test('the test machine can emulate a unit: root, python3 with libseccomp, systemd-analyze', () => {
    assert.equal(process.getuid?.(), 0, 'run the tests as root (CI does)');
    const py = spawnSync('/usr/bin/python3', ['-c', 'import seccomp'], { encoding: 'utf8' });
    assert.equal(py.status, 0, `install libseccomp's python binding: apt-get install python3-seccomp (.ci/run does) ${py.stderr ?? py.error}`);
    assert.ok(syscallGroup('@mount').includes('mount'), 'systemd-analyze syscall-filter expands groups');
  });

  test('the harness applies every restriction of the unit, or names what it cannot', (t) => {
    const sb = unitSandbox(unit.text);
    t.diagnostic(`emulated: ${sb.emulated.join(' ')}`);
    t.diagnostic(`not emulated: ${sb.unemulated.map((u) => `${u.directive} (${u.why})`).join('; ') || 'none'}`);
    t.diagnostic(`not restrictions: ${sb.notRestrictions.join(' ')}`);
    for (const u of sb.unemulated) assert.ok(UNEMULATED_OK.some((re) => re.test(u.directive)), `the harness cannot apply ${u.directive}: ${u.why}`);
    // A directive it does not know is named, never dropped.
    const odd = unitSandbox(unit.text, { add: ['IPAddressDeny=any', 'SecureBits=noroot'] });
    assert.deepEqual(odd.unemulated.slice(-2).map((u) => u.directive), ['IPAddressDeny=any', 'SecureBits=noroot']);
  });

  // The emulation is only worth what it enforces: a process under it tries what the unit forbids.
  test('what the emulation enforces: read-only /, hidden homes, refused syscalls and families', (t) => {
    const sb = unitSandbox(unit.text);
    const probe = `
import ctypes, errno, json, os, socket
libc = ctypes.CDLL(None, use_errno=True)
out = {}
def tryit(name, fn):
    try:
        fn(); out[name] = 'ok'
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))
def write(path):
    with open(path, 'w') as f: f.write('x')
    os.unlink(path)
def call(rc):
    if rc != 0: raise OSError(ctypes.get_errno(), '')
tryit('write /etc', lambda: write('/etc/outheis-unitbox'))
tryit('write state', lambda: write(${JSON.stringify(join(stateDir, 'probe'))}))
tryit('write domain', lambda: write(${JSON.stringify(join(notes, 'probe'))}))
tryit('AF_PACKET', lambda: socket.socket(17, socket.SOCK_RAW))
tryit('AF_INET', lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close())
tryit('setuid bit', lambda: (write('/tmp/s'), open('/tmp/s', 'w').close(), os.chmod('/tmp/s', 0o4755)))
tryit('personality', lambda: call(libc.personality(0x0040000)))
tryit('SCHED_FIFO', lambda: os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1)))
tryit('sethostname', lambda: call(libc.sethostname(b'x', 1)))
tryit('clock_settime', lambda: call(libc.clock_settime(0, ctypes.byref((ctypes.c_long * 2)(0, 0)))))
out['root'] = sorted(os.listdir('/root')) if os.path.isdir('/root') else 'absent'
out['dev'] = sorted(os.listdir('/dev'))
print(json.dumps(out))`;
    const r = spawnSync(sb.prefix[0]!, [...sb.prefix.slice(1), '/usr/bin/python3', '-c', probe], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const done = sb.report();
    assert.ok(done, 'the helper wrote its report before it ran the command');
    t.diagnostic(`applied: ${done.done.join(', ')}; syscall names this libseccomp does not know: ${done.skipped.join(' ') || 'none'}`);
    const got = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(got['write /etc'], 'EROFS');
    assert.equal(got['write state'], 'ok');
    assert.equal(got['write domain'], 'ok');
    assert.equal(got['AF_PACKET'], 'EAFNOSUPPORT');
    assert.equal(got['AF_INET'], 'ok');
    assert.equal(got['setuid bit'], 'EPERM');
    assert.equal(got['personality'], 'EPERM');
    assert.equal(got['SCHED_FIFO'], 'EPERM');
    assert.equal(got['sethostname'], 'EPERM');
    assert.equal(got['clock_settime'], 'EPERM');
    assert.deepEqual(got.root, []);
    assert.deepEqual(got.dev, ['core', 'fd', 'full', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
  });

  describe('a real `outheis start`', () => {
    let d: Daemon;
    let sb: UnitSandbox;
    before(async () => {
      sb = unitSandbox(unit.text);
      d = await startDaemon(CONFIG, { dir: base, waitReady: ['keeper', 'fetcher'], wrap: (argv) => [...sb.prefix, process.execPath, cli, ...argv.slice(2)] });
    });
    after(() => (d ? stop(d, 'SIGTERM') : undefined));

    test('the supervisor runs under the restrictions: its own mount and UTS namespaces, / read-only, no_new_privs, seccomp, the bounding set', () => {
      const pid = d.proc.pid!;
      const st = procStatus(pid);
      assert.equal(st.NoNewPrivs, '1');
      assert.equal(st.Seccomp, '2', 'a seccomp filter is in force');
      assert.ok(Number(st.Seccomp_filters) >= 5, `filters: ${st.Seccomp_filters}`);
      assert.equal(st.CapBnd, capMask(sb.plan.capabilities ?? []));
      for (const ns of ['mnt', 'uts']) assert.notEqual(readlinkSync(`/proc/${pid}/ns/${ns}`), readlinkSync(`/proc/self/ns/${ns}`), `own ${ns} namespace`);
      const root = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === '/');
      assert.match(root ?? '', /^\S+ \S+ \S+ \S+ \/ ro[, ]/, `/ in its mount namespace: ${root}`);
      assert.equal(st.Umask, (sb.plan.umask ?? 0o022).toString(8).padStart(4, '0'), 'UMask=');
    });

    test('agents run sandboxed, no weaker than their manifests ask; a message goes from one to the other', () => {
      // What these manifests get outside any unit (as the isolation suite shows): net pledged, no netns.
      const expected = { keeper: ['cgroup', 'env', 'fds', 'namespaces', 'netns', 'permission', 'uid'], fetcher: ['cgroup', 'env', 'fds', 'namespaces', 'permission', 'uid'] };
      for (const [name, layers] of Object.entries(expected)) {
        const a = agentOf(d, name);
        assert.equal(a.state, 'running');
        assert.equal(a.isolation.weaker, false, `${name}: ${JSON.stringify(a.isolation)}`);
        assert.deepEqual([...a.isolation.layers].sort(), layers, name);
      }
      const r = d.cli(['send', 'fetcher', 'call', JSON.stringify({ to: 'keeper', kind: 'ping', req: true, timeout: 10000 }), '--wait', '--json']);
      assert.equal(r.code, 0, r.stderr + r.stdout + d.out().slice(-2000));
      assert.deepEqual((JSON.parse(r.stdout) as { reply: unknown }).reply, { ok: true, value: { ok: true } });
    });

    test('the rw domain is written through ReadWritePaths, by the agent\'s own uid; the rest of the host stays read-only to it', () => {
      const w = d.cli(['send', 'keeper', 'write', JSON.stringify({ path: join(notes, 'n.txt'), data: 'kept' }), '--wait', '--json']);
      assert.equal(w.code, 0, w.stderr);
      assert.deepEqual((JSON.parse(w.stdout) as { reply: unknown }).reply, { ok: true });
      assert.equal(readFileSync(join(notes, 'n.txt'), 'utf8'), 'kept');
      const who = JSON.parse((JSON.parse(d.cli(['send', 'keeper', 'whoami', '{}', '--wait', '--json']).stdout) as { reply: { detail: string } }).reply.detail) as { uid: number };
      assert.notEqual(who.uid, 0);
      assert.equal(statSync(join(notes, 'n.txt')).uid, who.uid);
    });

    test('`outheis doctor` under the same restrictions: every layer proven, exit 0', async () => {
      const r = await doctorUnder(unit.text);
      const rep = report(r);
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
      assert.equal(rep.ok, true);
      for (const l of rep.layers) assert.equal(l.status, 'works', JSON.stringify(l));
      const ev = (name: string) => rep.layers.find((l) => l.layer === name)!.evidence;
      assert.match(ev('uid'), /NoNewPrivs 1, CapEff 0, CapBnd 0/);
      assert.match(ev('namespaces'), /own mnt pid ipc uts/);
      assert.match(ev('netns'), /ECONNREFUSED.*own net namespace/);
      assert.match(ev('permission'), /ERR_ACCESS_DENIED/);
      assert.match(ev('fds'), /none of the doctor's/);
    });
  });

  // A root supervisor reads /proc/<pid>/exe of agents under other uids to find the
  // sandboxed node (policies/spawn.ts findSandboxedNode): that is ptrace-mode access.
  test('without CAP_SYS_PTRACE in the bounding set the agents still run sandboxed, but the supervisor no longer sees into them', async () => {
    const caps = /^CapabilityBoundingSet=(.*)$/m.exec(unit.text)?.[1] ?? '';
    const without = unit.text.replace(/^CapabilityBoundingSet=.*$/m, `CapabilityBoundingSet=${caps.split(/\s+/).filter((c) => c !== 'CAP_SYS_PTRACE').join(' ')}`);
    const r = await doctorUnder(without);
    const rep = report(r);
    assert.equal(r.code, 0, r.stderr);
    const ns = rep.layers.find((l) => l.layer === 'namespaces')!;
    assert.equal(ns.status, 'works');
    assert.match(ns.evidence, /namespaces unreadable from outside/);
  });

  // The chain's setpriv step (--bounding-set=-all) needs CAP_SETPCAP. Without it
  // setpriv (libcap-ng) skips the bounding set and still exits 0: nothing fails, the
  // agent's process keeps a full bounding set up to bubblewrap, which then drops it
  // in its own namespace (so the doctor's probe shows CapBnd 0 either way). This
  // pins that silence, so the unit keeps CAP_SETPCAP.
  test('without CAP_SETPCAP the chain\'s setpriv step silently keeps the bounding set', () => {
    const grep: NodeFlags = { execPath: '/bin/grep', permission: undefined, heap: undefined, extra: [], run: '^CapBnd', args: ['/proc/self/status'] };
    const argv = stepsOf({ setpriv: { tool: '/usr/bin/setpriv', uid: 61999, gid: 61999 }, node: grep }).flatMap((s) => s.argv);
    const capBnd = (u: string) => {
      const sb = unitSandbox(u);
      const r = spawnSync(sb.prefix[0]!, [...sb.prefix.slice(1), ...argv], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim().split(/\s+/)[1];
    };
    assert.match(unit.text, /^CapabilityBoundingSet=.*CAP_SETPCAP/m, 'the unit keeps CAP_SETPCAP');
    assert.equal(capBnd(unit.text), '0000000000000000');
    assert.notEqual(capBnd(unit.text.replace(/^(CapabilityBoundingSet=.*)CAP_SETPCAP ?/m, '$1')), '0000000000000000');
  });
});

// Each of these, added to the unit, breaks the chain on this machine (the issue names
// them; each was tried here, none is taken from documentation). All run side by side:
// each doctor has its own mount namespace, /tmp and ports.
interface Breaker { add: string; why: string; fails(r: Run): void; edit?: (unit: string) => string }
const filterLines = (u: string, lines: string[]) => [...u.split('\n').filter((l) => !/^SystemCall(Filter|ErrorNumber)=/.test(l)), ''].join('\n').replace('[Service]\n', `[Service]\n${lines.join('\n')}\n`);
const BREAKERS: Breaker[] = [
  {
    add: 'ProtectKernelTunables=yes', why: 'the read-only binds over /proc/sys & co. leave /proc not fully visible: no new proc mount in a user namespace',
    fails: (r) => bwrapRefused(r, /Can't mount proc on \/newroot\/proc: Operation not permitted/),
  },
  {
    add: 'ProtectKernelLogs=yes', why: 'the stand-in over /proc/kmsg does the same',
    fails: (r) => bwrapRefused(r, /Can't mount proc on \/newroot\/proc: Operation not permitted/),
  },
  {
    add: 'ProcSubset=pid', why: 'bubblewrap reads /proc/sys/kernel/overflowuid to map ids, and subset=pid has no /proc/sys',
    fails: (r) => bwrapRefused(r, /Can't read \/proc\/sys\/kernel\/overflowuid: No such file or directory/),
  },
  {
    add: 'RestrictNamespaces=mnt pid net ipc uts cgroup', why: 'without `user`, unshare(CLONE_NEWUSER) is refused',
    fails: (r) => bwrapRefused(r, /No permissions to create new namespace/),
  },
  {
    add: 'PrivateUsers=yes', why: 'only root is mapped: the agents\' uids do not exist for the supervisor, chown to them is EINVAL',
    fails: (r) => {
      assert.equal(r.code, 1);
      assert.match(r.stderr, /EINVAL: invalid argument, chown '\/tmp\/outheis-doctor-\w+\/data'/);
    },
  },
  {
    add: 'MemoryDenyWriteExecute=yes', why: 'V8 must make its code pages executable: node itself dies before outheis runs',
    fails: (r) => {
      assert.equal(r.signal, 'SIGTRAP');
      assert.match(r.stderr, /v8::base::OS::SetPermissions/);
    },
  },
  // Not in the issue's list: what the unit's system call filter must keep, found here.
  {
    add: 'SystemCallFilter=@system-service (no @mount)', why: 'bubblewrap mounts: with mount(2) refused it cannot even make / a slave',
    edit: (u) => filterLines(u, ['SystemCallFilter=@system-service', 'SystemCallErrorNumber=EPERM']),
    fails: (r) => bwrapRefused(r, /Failed to make \/ slave: Operation not permitted/),
  },
  {
    add: 'SystemCallFilter=@system-service @mount, killing (no SystemCallErrorNumber=, no @pkey)', why: 'V8 calls pkey_alloc (in @pkey only): killed by SIGSYS',
    edit: (u) => filterLines(u, ['SystemCallFilter=@system-service @mount']),
    fails: (r) => {
      assert.equal(r.signal, 'SIGSYS');
      assert.equal(r.stdout, '');
    },
  },
];

function bwrapRefused(r: Run, error: RegExp): void {
  const rep = report(r);
  assert.equal(r.code, 1);
  assert.equal(rep.ok, false);
  assert.equal(rep.machine.namespaces, false);
  assert.match(rep.machine.namespacesWhy ?? '', error);
  // The cgroup layer is left out: its probe must see a spinner throttled within the doctor's
  // timeout, and the breakers' doctors run side by side here; a loaded machine made it
  // MISSING once. Whether cgroups work under the unit is the cgroup tests' business.
  const missing = rep.layers.filter((l) => l.status === 'MISSING' && l.layer !== 'cgroup').map((l) => l.layer);
  assert.deepEqual(missing, ['namespaces', 'netns']);
}

describe('each directive known to break bubblewrap makes the doctor fail under the unit', () => {
  const runs = new Map<string, Promise<Run & { sandbox: UnitSandbox }>>();
  before(() => {
    for (const b of BREAKERS) runs.set(b.add, b.edit ? doctorUnder(b.edit(unit.text)) : doctorUnder(unit.text, [b.add]));
  });
  for (const b of BREAKERS) {
    test(`${b.add}: ${b.why}`, async () => {
      const r = await runs.get(b.add)!;
      if (!b.edit) assert.ok(r.sandbox.emulated.includes(b.add), `${b.add} was not applied: ${JSON.stringify(r.sandbox.unemulated)}`);
      assert.deepEqual(r.sandbox.unemulated.filter((u) => !UNEMULATED_OK.some((re) => re.test(u.directive))), []);
      b.fails(r);
    });
  }
});
