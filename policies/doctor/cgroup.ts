// The cgroup layer, proven: two throwaway groups made by the writer the supervisor
// uses (policies/cgroups/), each entered by the chain's own first step. A spinning
// probe under a 20% quota is measured from /proc while the kernel throttles it; a
// memory probe allocating off-heap buffers under a 64 MiB ceiling is OOM-killed
// there. Where no cgroup can be written, the fallback is reported with why.
import { spawn } from 'node:child_process';
import { commandLine, LAYERS, type Chain } from '../chain.js';
import { detectCgroups, type Cgroups } from '../cgroups/detect.js';
import { createGroup, type AgentGroup } from '../cgroups/group.js';
import { formatSize } from '../../protocol/units.js';
import { cpuSecondsOf } from './proc.js';
import { within } from './run.js';
import type { LayerReport } from './verdicts.js';

const QUOTA = 0.2;
const CEILING = 64 * 2 ** 20;
const mib = (n: number) => formatSize(n, { unit: 'MiB' });

export const CGROUP_FIX = 'run under systemd with Delegate=yes (outheis service install), or as root where the v1 cpu, memory and pids hierarchies are mounted writable';

/** A node process entering `group` through the chain's cgroup step, running `code`. */
function probe(group: AgentGroup, code: string) {
  const chain: Chain = {
    cgroup: { tool: '/bin/sh', procs: group.procs },
    node: { execPath: process.execPath, permission: undefined, heap: undefined, extra: [], run: '-e', args: [code] },
  };
  const argv = commandLine(chain);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (c, s) => resolve({ code: c, signal: s })));
  return { child, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The spinning probe: its share of a core over a window of throttled periods. */
async function spin(group: AgentGroup, timeoutMs: number): Promise<{ ok: boolean; evidence: string }> {
  const p = probe(group, 'for(;;){}');
  try {
    const until = Date.now() + timeoutMs;
    while (group.pids().length === 0 && Date.now() < until) await sleep(10);
    const pid = p.child.pid!;
    const t0 = Date.now();
    const c0 = cpuSecondsOf(pid);
    const th0 = group.throttled().periods;
    // A window of at least 10 throttled periods (1 s at 100 ms), or the deadline.
    while (group.throttled().periods - th0 < 10 && Date.now() < until) await sleep(50);
    const share = (cpuSecondsOf(pid) - c0) / ((Date.now() - t0) / 1000);
    const th = group.throttled();
    const inGroup = group.pids().includes(pid);
    const ok = inGroup && th.periods - th0 >= 10 && share <= QUOTA * 1.5;
    return { ok, evidence: `spinning probe at ${(share * 100).toFixed(0)}% of a core under a ${QUOTA * 100}% quota, throttled in ${th.periods - th0} periods${inGroup ? '' : ' (NOT in its group)'}` };
  } finally {
    p.child.kill('SIGKILL');
    await within(p.exited, 2000);
  }
}

/** The memory probe: off-heap buffers until the kernel stops it at the ceiling. */
async function memory(group: AgentGroup, timeoutMs: number): Promise<{ ok: boolean; evidence: string }> {
  const p = probe(group, 'const h=[];setInterval(()=>h.push(Buffer.alloc(8<<20,1)),5)');
  const exit = await within(p.exited, timeoutMs);
  if (!exit) p.child.kill('SIGKILL');
  const ooms = group.ooms();
  const peak = group.peakMemory();
  const ok = exit?.signal === 'SIGKILL' && ooms >= 1 && (peak === undefined || peak <= CEILING);
  const how = exit ? `killed by ${exit.signal ?? `exit ${exit.code}`}` : `still running after ${timeoutMs} ms`;
  return { ok, evidence: `memory probe ${how} at a ${mib(CEILING)} ceiling (oom_kill ${ooms}${peak === undefined ? '' : `, peak ${mib(peak)}`})` };
}

export async function cgroupLayer(stateDir: string, timeoutMs: number, cgroups: Cgroups = detectCgroups({ stateDir })): Promise<LayerReport> {
  const L = LAYERS.cgroup;
  const { driver } = cgroups;
  if (!driver) return { layer: L, status: 'fallback', evidence: `no cgroup can be used (${cgroups.why}): agents get nice by QoS class and limits.cpu/limits.memory are only sampled`, fix: CGROUP_FIX };
  try {
    driver.prepare();
    const cpu = await spin(createGroup(driver, 'doctor-cpu', { qos: 'user', cpu: QUOTA, memory: undefined, nproc: undefined }), timeoutMs);
    const mem = await memory(createGroup(driver, 'doctor-memory', { qos: 'user', cpu: undefined, memory: CEILING, nproc: undefined }), timeoutMs);
    const evidence = `${driver.kind} at ${driver.where}: ${cpu.evidence}; ${mem.evidence}`;
    return cpu.ok && mem.ok ? { layer: L, status: 'works', evidence } : { layer: L, status: 'MISSING', evidence, fix: CGROUP_FIX };
  } catch (err) {
    return { layer: L, status: 'MISSING', evidence: `${driver.kind} at ${driver.where}: ${(err as Error).message}`, fix: CGROUP_FIX };
  } finally {
    driver.removeAll();
  }
}
