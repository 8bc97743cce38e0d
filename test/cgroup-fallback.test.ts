// Where no cgroup can be written (simulated: the cgroup root bound read-only over
// itself in a private mount namespace), agents fall back to nice and sampling:
// `status` says WEAKER and which limits are only sampled, `doctor` reports the
// fallback with why, and the sampler still restarts for limits.cpu.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import type { DoctorReport } from '../policies/doctor/index.js';
import { agentOf, startDaemon, stop } from './helpers/daemon.js';
import { CLI, fixture, until } from './helpers/harness.js';
import { anyExists, groupDirs, readOnlyCgroups } from './helpers/cgroups.js';

test('read-only cgroups: agents start on the fallback, status shows WEAKER with the sampled limits, cpu is sampled again', async (t) => {
  const d = await startDaemon([
    'metrics: { interval: 200ms }',
    'agents:',
    `  spin: { run: ${fixture('echo.js')}, heartbeat: 0, shutdown: 300ms, limits: { cpu: 20%, memory: 256MiB } }`,
  ], { waitReady: ['spin'], wrap: readOnlyCgroups });
  t.after(() => stop(d, 'SIGTERM'));
  await d.printed(/WEAKER ISOLATION: no cgroups.*EROFS|EROFS.*WEAKER ISOLATION: no cgroups/);
  assert.deepEqual(anyExists(groupDirs(d.stateDir)), [], 'no group was made');
  const a = agentOf(d, 'spin');
  assert.equal(a.isolation.weaker, true);
  assert.equal(a.isolation.cgroup, undefined);
  assert.deepEqual(a.isolation.sampled, ['cpu', 'memory']);
  assert.ok(!a.isolation.layers.includes('cgroup') && a.isolation.layers.includes('namespaces'), a.isolation.layers.join(','));
  const text = d.cli(['status']).stdout;
  assert.match(text, /spin .* WEAKER sampled:cpu,memory env,fds,uid/);
  assert.match(text, /WEAKER isolation: spin runs with less isolation than the manifest asks: no cgroup: CPU priority is nice, and limits\.cpu and limits\.memory are only sampled/);
  // Without a quota, the sampler is what holds limits.cpu: it restarts the spinner, as before cgroups.
  assert.equal(d.cli(['send', 'spin', 'hang']).code, 0);
  const spun = await until('a cpu-limit restart', () => {
    const s = agentOf(d, 'spin');
    return s.restarts >= 1 && s.lastExit ? s : undefined;
  });
  assert.match(spun.lastExit!.reason, /^cpu limit: \d+% of a core over 20% for 5 samples$/);
});

test('doctor under read-only cgroups: the cgroup layer is the fallback, with why and the fix; the other layers still work', () => {
  const argv = readOnlyCgroups([process.execPath, CLI, 'doctor', '--json']);
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  const rep = JSON.parse(r.stdout) as DoctorReport;
  const cg = rep.layers.find((l) => l.layer === 'cgroup');
  assert.ok(cg, JSON.stringify(rep.layers.map((l) => l.layer)));
  assert.equal(cg.status, 'fallback');
  assert.match(cg.evidence, /cgroup v1: \/sys\/fs\/cgroup\/cpu is not writable \(EROFS\)/);
  assert.match(cg.evidence, /nice by QoS class and limits\.cpu\/limits\.memory are only sampled/);
  assert.match(cg.fix!, /Delegate=yes/);
  assert.equal(rep.ok, true, 'a fallback is weaker, not missing');
  assert.equal(r.status, 0, r.stderr);
  const text = spawnSync(readOnlyCgroups([process.execPath, CLI, 'doctor'])[0]!, readOnlyCgroups([process.execPath, CLI, 'doctor']).slice(1), { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  assert.match(text.stdout, /^cgroup\s+fallback\s+no cgroup can be used/m);
  assert.match(text.stdout, /^ok: all 8 applicable layers work \(fallback, weaker: cgroup\)$/m);
});
