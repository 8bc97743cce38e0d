// Each QoS class gets exactly its niceness, once (and, with cgroups, its CPU weight): the sandbox chain's `nice` applies
// it, and nothing renices afterwards (a second renice used to double it, or not,
// depending on a race with the exec chain).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CPU_WEIGHT } from '../policies/cgroups/group.js';
import { NICE } from '../policies/sandbox.js';
import { childrenByParent, descendantsOf } from '../policies/spawn.js';
import { QOS } from '../protocol/constants.js';
import type { StatusResult } from '../supervisor/control/protocol.js';
import { startDaemon, stop } from './helpers/daemon.js';
import { fixture, startSupervisor } from './helpers/harness.js';
import { groupDirs, readNumber } from './helpers/cgroups.js';

/** Field 19 of /proc/<pid>/stat (the fields after the command's closing parenthesis start at 3). */
function niceOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

/** The whole sandbox of the agent whose pid is given: the supervisor's child (bubblewrap, or node itself) and everything below it. */
function sandboxChain(pid: number, supervisor: number): number[] {
  const children = childrenByParent();
  const chains = (children.get(supervisor) ?? []).map((top) => [top, ...descendantsOf(top, children)]);
  const chain = chains.find((c) => c.includes(pid));
  assert.ok(chain, `pid ${pid} is not a descendant of the supervisor ${supervisor}`);
  return chain;
}

const NAMES = QOS.map((qos) => `a_${qos}`);

async function checkNiceness(supervisor: number, pidOf: (name: string) => number | undefined, sandboxed: boolean): Promise<void> {
  const base = niceOf(supervisor);
  for (const qos of QOS) {
    const name = `a_${qos}`;
    const chain = sandboxChain(pidOf(name)!, supervisor);
    if (sandboxed) assert.ok(chain.length >= 2, `${name} runs in a sandbox (node under bubblewrap): ${chain}`);
    assert.deepEqual(chain.map(niceOf), chain.map(() => Math.min(19, base + NICE[qos])), `${name}: niceness of each process (pids ${chain})`);
  }
}

test('a sandboxed agent: every process of its sandbox runs at its class\'s niceness above the supervisor\'s, exactly', async (t) => {
  const d = await startDaemon(['agents:', ...QOS.flatMap((qos) => [`  a_${qos}:`, `    run: ${fixture('echo.js')}`, `    qos: ${qos}`])], { waitReady: NAMES });
  t.after(() => stop(d));
  const status = d.cliJson<StatusResult>(['status']);
  await checkNiceness(status.supervisor.pid, (name) => status.agents.find((a) => a.name === name)?.pid ?? undefined, true);
  // With cgroups (this machine: v1), the class is also a CPU weight, which holds across users and namespaces.
  const shares = QOS.map((qos) => readNumber(join(groupDirs(d.stateDir, `a_${qos}`)[0]!, 'cpu.shares')));
  assert.deepEqual(shares, QOS.map((qos) => Math.round((CPU_WEIGHT[qos] * 1024) / 100)));
  assert.deepEqual([...shares].sort((a, b) => b - a), QOS.map((qos) => shares[QOS.indexOf(qos)]), `weights fall with the class (${QOS.join(' > ')}): ${shares.join(' ')}`);
});

test('an agent without a sandbox gets the same niceness, once', async () => {
  const h = startSupervisor({ agents: Object.fromEntries(QOS.map((qos) => [`a_${qos}`, { run: fixture('echo.js'), qos }])) });
  try {
    for (const name of NAMES) await h.waitFor((e) => e.event === 'ready' && e.agent === name, 15000, `${name} ready`);
    await checkNiceness(process.pid, (name) => h.sup.pid(name), false);
  } finally {
    await h.stop();
  }
});
