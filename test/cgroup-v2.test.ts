// The cgroup v2 writer and the detection, on files. This machine's unified mount
// offers no controllers, so v2 cannot run for real here: its file logic is driven
// against a plain directory standing in for a delegated subtree (the writes a
// kernel would take, read back). Detection is run against this machine's real
// mounts (v2 refused, v1 found) and against mountinfo/cgroup files for the rest.
// The chain's cgroup step is run for real: a write it cannot make stops the start.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { commandLine } from '../policies/chain.js';
import { cgroupMounts, detectCgroups, instanceOf } from '../policies/cgroups/detect.js';
import { V2Cgroups } from '../policies/cgroups/v2.js';
import { createGroup } from '../policies/cgroups/group.js';
import { tempDir } from './helpers/harness.js';

const read = (f: string) => readFileSync(f, 'utf8');

/** A stand-in delegated subtree: the supervisor's group, offering cpu, memory and pids, with processes in it. */
function delegated(): { root: string; mountinfo: string; self: string } {
  const dir = tempDir('outheis-cgv2-');
  const root = join(dir, 'unified', 'system.slice', 'outheis.service');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
  writeFileSync(join(root, 'cgroup.procs'), '4242\n4243\n');
  const mountinfo = join(dir, 'mountinfo');
  writeFileSync(mountinfo, `30 25 0:26 / ${join(dir, 'unified')} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n`);
  const self = join(dir, 'cgroup');
  writeFileSync(self, '0::/system.slice/outheis.service\n');
  return { root, mountinfo, self };
}

test('v2 detection: a delegated group offering cpu, memory and pids is used; one without them, or the root group, is not', () => {
  const { root, mountinfo, self } = delegated();
  const found = detectCgroups({ stateDir: '/x/.outheis', mountinfo, selfCgroup: self });
  assert.equal(found.driver?.kind, 'v2');
  assert.equal(found.driver?.where, join(root, 'agents'));
  writeFileSync(join(root, 'cgroup.controllers'), 'cpu pids\n');
  const lacking = detectCgroups({ stateDir: '/x/.outheis', mountinfo, selfCgroup: self });
  assert.equal(lacking.driver, undefined);
  assert.match(lacking.why!, /offers no memory controller \(not delegated: Delegate=yes in the unit\)/);
  writeFileSync(self, '0::/\n');
  assert.match(detectCgroups({ stateDir: '/x/.outheis', mountinfo, selfCgroup: self }).why!, /root group \(nothing delegated to it\)/);
});

test('this machine: v2 has no controllers, so the v1 cpu, memory and pids hierarchies are used, one instance per state directory', () => {
  const mounts = cgroupMounts();
  assert.ok(mounts.some((m) => m.fstype === 'cgroup2'));
  const found = detectCgroups({ stateDir: '/var/lib/outheis-a' });
  assert.equal(found.driver?.kind, 'v1', found.why);
  assert.match(found.driver!.where, /^\/sys\/fs\/cgroup\/cpu\/outheis\/outheis-a-[0-9a-f]{10}, /);
  assert.notEqual(instanceOf('/var/lib/outheis-a'), instanceOf('/srv/outheis-a'), 'the same name elsewhere is another instance');
});

test('v2 writer: the supervisor moves into a leaf, controllers are enabled down to agents/, each agent\'s limits written', () => {
  const { root } = delegated();
  const v2 = new V2Cgroups(root);
  // A stale group from a SIGKILLed supervisor.
  mkdirSync(join(root, 'agents', 'gone'), { recursive: true });
  assert.deepEqual(v2.prepare(), ['gone']);
  assert.equal(existsSync(join(root, 'agents', 'gone')), false);
  assert.equal(read(join(root, 'supervisor', 'cgroup.procs')), '4243', 'each process is written (the last write is what a plain file keeps)');
  assert.equal(read(join(root, 'cgroup.subtree_control')), '+cpu +memory +pids');
  assert.equal(read(join(root, 'supervisor', 'cpu.weight')), '400', 'the supervisor ranks with the interactive class');
  assert.equal(read(join(root, 'agents', 'cgroup.subtree_control')), '+cpu +memory +pids');

  const g = createGroup(v2, 'notes', { qos: 'background', cpu: 0.2, memory: 128 * 2 ** 20, nproc: 40 });
  const dir = join(root, 'agents', 'notes');
  assert.deepEqual(g.procs, [join(dir, 'cgroup.procs')]);
  assert.equal(read(join(dir, 'cpu.weight')), '25');
  assert.equal(read(join(dir, 'cpu.max')), '20000 100000');
  assert.equal(read(join(dir, 'memory.max')), String(128 * 2 ** 20));
  assert.equal(read(join(dir, 'memory.swap.max')), '0');
  assert.equal(read(join(dir, 'pids.max')), '40');
  // The counters read back as the kernel writes them.
  writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\n');
  writeFileSync(join(dir, 'cpu.stat'), 'usage_usec 500\nnr_periods 40\nnr_throttled 31\nthrottled_usec 2500000\n');
  writeFileSync(join(dir, 'pids.events'), 'max 7\n');
  assert.equal(g.ooms(), 2);
  assert.deepEqual(g.throttled(), { periods: 31, usec: 2_500_000 });
  assert.equal(g.pidsRefused(), 7);

  // A reload's update of a kept agent: no limits now.
  createGroup(v2, 'notes', { qos: 'interactive', cpu: undefined, memory: undefined, nproc: undefined });
  assert.deepEqual(['cpu.weight', 'cpu.max', 'memory.max', 'memory.swap.max', 'pids.max'].map((f) => read(join(dir, f))), ['400', 'max 100000', 'max', 'max', 'max']);
  v2.removeAll();
  assert.equal(existsSync(join(root, 'agents')), false);
});

test('the chain\'s cgroup step: the shell enters every group, then execs the rest as the same pid; a write it cannot make stops the start (exit 125)', () => {
  const dir = tempDir('outheis-cgstep-');
  const files = [join(dir, 'cpu.procs'), join(dir, 'memory.procs')];
  const node = { execPath: process.execPath, permission: undefined, heap: undefined, extra: [], run: '-e', args: ['console.log(process.pid)'] };
  const argv = commandLine({ cgroup: { tool: '/bin/sh', procs: files }, node });
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const pid = r.stdout.trim();
  assert.deepEqual(files.map((f) => read(f).trim()), [pid, pid], 'node itself is the pid the shell wrote');
  const refused = commandLine({ cgroup: { tool: '/bin/sh', procs: [join(dir, 'missing', 'cgroup.procs')] }, node });
  const r2 = spawnSync(refused[0]!, refused.slice(1), { encoding: 'utf8' });
  assert.equal(r2.status, 125);
  assert.equal(r2.stdout, '', 'the agent never ran outside its group');
});
