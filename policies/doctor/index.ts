// `outheis doctor`: which enforcement layers work on this machine, proven rather
// than assumed. A probe (policies/probe.mjs, plain Node) is planned (planSandbox)
// and launched (policies/spawn.ts) by the very code the supervisor uses for an
// agent, tries each forbidden thing from inside and reports what happened;
// meanwhile the doctor reads the probe's /proc/<pid>/{status,limits,ns,root,fd}
// from outside (proc.ts). What it should see is read off the plan (expect.ts).
//
// The probe runs twice: once exactly as planned, and once with Node's permission
// flags left out. The permission model refuses first (ERR_ACCESS_DENIED), so only
// the second run shows the inner layers (namespaces, uid, network) refusing on
// their own. Reads as a list: machine → manifest → accounts and domains →
// listener → plan → probe runs → verdicts → cgroup probes (cgroup.ts) → clean-up.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandLine } from '../chain.js';
import { prepareDomains } from '../domains.js';
import { closeInheritedFds } from '../fds.js';
import { probeMachine, type Machine } from '../machine.js';
import { manifestSchema, type AgentManifest, type Manifests } from '../manifest.js';
import { planSandbox } from '../sandbox.js';
import { agentEnv, type LaunchSpec } from '../spawn.js';
import { allocateAccounts } from '../users.js';
import { cgroupLayer } from './cgroup.js';
import { expectationsOf } from './expect.js';
import { listen, reachable, runProbe } from './run.js';
import { SECRET_VAR, verdicts, type LayerReport } from './verdicts.js';
import { PACKAGE_ROOT } from '../package-root.js';

export { SECRET_VAR, type LayerReport, type LayerStatus } from './verdicts.js';
export type { Layer } from '../chain.js';

/** The probe script: not compiled, so in the package's policies/, not beside this module in dist/. */
export const PROBE_SCRIPT = join(PACKAGE_ROOT, 'policies/probe.mjs');
const PROBE_AGENT = 'doctor-probe';
const DEFAULT_TIMEOUT_MS = 10_000;

export interface DoctorMachine extends Machine {
  node: string;
  uid: number;
  gid: number;
}

export interface DoctorReport {
  machine: DoctorMachine;
  layers: LayerReport[];
  /** Every applicable layer works. */
  ok: boolean;
}

export interface DoctorOptions {
  /** Per probe run: the probe is killed when it has not reported by then. */
  timeoutMs?: number;
  machine?: Machine;
}

function machineOf(m: Machine): DoctorMachine {
  return { ...m, node: process.version, uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };
}

/** A directory others can enter: mkdtemp makes 0700, which a dropped uid cannot traverse. */
function worldDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'outheis-doctor-'));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * Probe every layer on this machine. Like the supervisor at start, it first closes
 * descriptors this process inherited without close-on-exec (closeInheritedFds), so
 * call it from a short-lived process (the CLI), not from a host that needs them.
 */
export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // 0. as the supervisor starts: nothing inherited without close-on-exec passes on
  const closedFds = closeInheritedFds();
  // 1. what this machine has
  const machine = opts.machine ?? probeMachine();
  const dir = worldDir();
  let server: Server | undefined;
  const hadSecret = Object.prototype.hasOwnProperty.call(process.env, SECRET_VAR);
  const oldSecret = process.env[SECRET_VAR];
  try {
    // 2. the probe's code, readable by a dropped uid
    const code = join(dir, 'code');
    mkdirSync(code, { mode: 0o755 });
    chmodSync(code, 0o755);
    const script = join(code, 'probe.mjs');
    copyFileSync(PROBE_SCRIPT, script);
    chmodSync(script, 0o644);
    server = await listen();
    const port = (server.address() as { port: number }).port;
    const data = join(dir, 'data');
    const outsideFile = join(code, 'planted.txt');
    const dataFile = join(data, 'probe.txt');
    // 3. one agent's manifest, as a config file beside `code` would give it
    const agent: AgentManifest = {
      name: PROBE_AGENT,
      ...manifestSchema(dir).parse({
        run: 'code/probe.mjs',
        args: [`--port=${port}`, `--data=${data}`, `--outside=${outsideFile}`],
        unveil: { data: 'rw' },
        limits: { nofile: 64, nproc: 64, memory: '128MiB' },
      }),
    };
    const manifests: Manifests = { dir, stateDir: join(dir, 'state'), order: [PROBE_AGENT], agents: { [PROBE_AGENT]: agent } };
    // 4. its own uid when root, and its data directory made and handed over
    const accounts = machine.root ? allocateAccounts([{ name: PROBE_AGENT, user: agent.user }]) : undefined;
    prepareDomains(manifests, accounts);
    // 5. the exact plan the supervisor would make, and what the probe should see under it
    const plan = planSandbox(agent, { config: manifests, machine, account: accounts?.get(PROBE_AGENT) });
    // The probe speaks no wire: no channel, and no heartbeats to expect.
    const launch: LaunchSpec = { name: PROBE_AGENT, argv: plan.argv, namespaced: plan.namespaced, cwd: dir, env: agent.env, heartbeatMs: 0, maxFrame: agent.limits.frame, channel: false };
    const expected = expectationsOf(plan, Object.keys(agentEnv(launch)));
    // 6. a secret in our environment that the launch must not pass on
    process.env[SECRET_VAR] = 'the probe must not see this';
    // 7. the probe, as planned; then without the permission model: the same chain, one layer fewer
    const spec = { timeoutMs, outsideFile, dataFile };
    const full = await runProbe({ ...spec, launch });
    const bareArgv = commandLine({ ...plan.chain, node: { ...plan.chain.node, permission: undefined } });
    const bare = await runProbe({ ...spec, launch: { ...launch, argv: bareArgv } });
    // 8. the verdicts
    const layers = verdicts({
      machine, plan, expected, full, bare: bare.results ? bare : undefined, port,
      reachable: await reachable(port), closedFds, dataFile, outsideFile,
    });
    // 9. the cgroup layer: its own probes, in groups of a throwaway instance
    layers.push(await cgroupLayer(manifests.stateDir, timeoutMs));
    return { machine: machineOf(machine), layers, ok: layers.every((l) => l.status !== 'MISSING') };
  } finally {
    if (hadSecret) process.env[SECRET_VAR] = oldSecret;
    else delete process.env[SECRET_VAR];
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}
