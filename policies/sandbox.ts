// How one agent is started: the chain of hardening steps its command line runs
// through, in order, and which layers are in force. Reads as a list:
//   cgroup (enter its own cgroup: policies/cgroups/) → nice → setpriv (own uid/gid, no groups, no_new_privs, no capabilities)
//        → bwrap (namespaces; only the runtime, its code (code.ts: its package,
//        credentials masked; a bundled agent's npm packages, bundled.ts), the SDK and its unveiled paths) → prlimit (nofile, nproc) → node (permission model, heap cap).
// The plan is data (chain.ts); its command line is rendered from it in one place.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, sep } from 'node:path';
import { codeOf, insideCode, maskSources, type Code } from './code.js';
import { commandLine, heapArgv, LAYERS, stepsOf, type Chain, type HeapCap, type Layer, type Mount, type NodeGrant, type Step } from './chain.js';
import { which, type Machine } from './machine.js';
import type { AgentManifest, Manifests, Qos } from './manifest.js';
import { sdkPaths } from './sdk.js';
import { packageMounts } from './bundled.js';
import type { Account } from './users.js';
import type { AgentGroup } from './cgroups/group.js';

/** The shell the cgroup step runs (POSIX sh: always there, ~1 ms to start). */
const SH = '/bin/sh';

export { LAYERS, type Layer } from './chain.js';
export { readableByOthers, sdkPaths } from './sdk.js';

/** A layer the manifest needs that this machine cannot apply. */
export interface Gap {
  layer: Layer;
  why: string;
  /** What to install or enable. */
  fix: string;
}

export interface SandboxPlan {
  /** The command line: argv[0] is the program. */
  readonly argv: string[];
  layers: Layer[];
  /** Layers the manifest needs that this machine cannot apply, each with what to do about it. */
  missing: string[];
  /** The agent runs in a pid namespace: the spawned pid is bubblewrap's, not node's. */
  namespaced: boolean;
  account: Account | undefined;
  /** What each step applies: argv is rendered from this. */
  chain: Chain;
  /** The chain in exec order, each step with its argv and the layers it provides. */
  readonly steps: Step[];
  /** `missing`, as data. */
  gaps: Gap[];
}

export const FIXES = {
  bwrap: 'apt-get install bubblewrap',
  userns: 'enable unprivileged user namespaces: sysctl -w user.max_user_namespaces=15000 (and kernel.unprivileged_userns_clone=1 or kernel.apparmor_restrict_unprivileged_userns=0 where the kernel has them)',
  setpriv: 'apt-get install util-linux (setpriv)',
  prlimit: 'apt-get install util-linux (prlimit)',
  node: 'Node >= 20 (its permission model); outheis needs >= 20.19',
} as const;

/** What enables namespaces here: bubblewrap itself, or the user namespaces it needs. */
export const namespacesFix = (m: Machine): string => (m.bwrap ? FIXES.userns : FIXES.bwrap);

/**
 * CPU priority by QoS class, added to the supervisor's own niceness. Agents always run
 * below the supervisor, so that busy agents cannot starve the router. Applied once,
 * by `nice` at the head of the chain, so every process of the sandbox starts with it:
 * a renice after spawn would race with the exec chain and land on some processes only.
 */
export const NICE: Record<Qos, number> = { interactive: 1, user: 2, utility: 5, background: 10 };

/** Layers in force, in the order `status` shows them; env and fds come with every launch (spawn.ts). */
const SHOWN: Layer[] = [LAYERS.env, LAYERS.fds, LAYERS.cgroup, LAYERS.uid, LAYERS.rlimits, LAYERS.netns, LAYERS.namespaces, LAYERS.permission, LAYERS.heap];

function planOf(chain: Chain, gaps: Gap[], account: Account | undefined): SandboxPlan {
  const inForce = new Set<Layer>([LAYERS.env, LAYERS.fds, ...stepsOf(chain).flatMap((s) => s.layers)]);
  return {
    // Rendered from the chain when asked (a spawn, the doctor), not kept: a plan lives as
    // long as its agent, and two rendered copies of its argv were ~5 KB of the
    // supervisor's heap per agent (README, Footprint).
    get argv() { return commandLine(chain); },
    get steps() { return stepsOf(chain); },
    layers: SHOWN.filter((l) => inForce.has(l)),
    missing: gaps.map((g) => `${g.layer}: ${g.why}`),
    namespaced: chain.bwrap !== undefined,
    account,
    chain,
    gaps,
  };
}

const inside = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** The runtime: node's own installation (and the system libraries it links). */
function runtimeMounts(): string[] {
  const node = realpathSync(process.execPath);
  const prefix = dirname(dirname(node)); // /usr for /usr/bin/node, /opt/node for /opt/node/bin/node
  const dirs = ['/usr', '/lib', '/lib64', '/lib32', '/bin', '/sbin'].filter((d) => existsSync(d));
  if (!dirs.some((d) => inside(prefix, d))) dirs.push(prefix);
  return dirs;
}

export interface PlanContext {
  /** Every agent's manifest (other agents' domains are masked), where the config lives, and its file (masked too, when inside an agent's code). */
  config: Manifests & { file?: string };
  machine: Machine;
  account: Account | undefined;
  nodeArgs?: string[];
  /** The agent's code (policies/code.ts), when the caller has already found it. */
  code?: Code;
  /** The agent's cgroup (policies/cgroups/), created before it starts; without one, nice and sampling stand in. */
  cgroup?: AgentGroup | undefined;
}

/** What exists in the sandbox, in bubblewrap's order: a later mount lies over an earlier one. */
function mountsOf(agent: AgentManifest, code: Code, config: PlanContext['config'], sdk: ReturnType<typeof sdkPaths>, net: boolean, forOthers: boolean): Mount[] {
  const ro = (path: string, why: Mount['why'], dest = path): Mount => ({ type: 'bind', source: path, dest, writable: false, why });
  const mounts: Mount[] = [];
  if (net) {
    for (const f of ['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/ssl', '/etc/ca-certificates']) mounts.push({ ...ro(f, 'net'), optional: true });
  }
  for (const d of runtimeMounts()) mounts.push(ro(d, 'runtime'));
  mounts.push(
    { type: 'proc', dest: '/proc', writable: false, why: 'system' },
    { type: 'dev', dest: '/dev', writable: false, why: 'system' },
    { type: 'tmpfs', dest: '/tmp', writable: true, why: 'system' },
  );
  // A bundled agent's file comes with the SDK (below), its libraries one by one.
  if (code.kind === 'bundled') mounts.push(...packageMounts(code.packages, forOthers).map(([src, dst]) => ro(src, 'code', dst)));
  else mounts.push(ro(code.root, 'code'), ...code.nodeModules.map((nm) => ro(nm, 'code')));
  // Inside its code, what is not this agent's stays out of reach: credentials are
  // replaced by unreadable stand-ins, other agents' domains and the state directory
  // become empty.
  if (code.masks.length) {
    const stand = maskSources();
    for (const m of code.masks) mounts.push(ro(m.dir ? stand.dir : stand.file, 'mask', m.path));
  }
  const mine = new Set(agent.unveilResolved.map((u) => u.path));
  const others = Object.values(config.agents).filter((a) => a.name !== agent.name)
    .flatMap((a) => [...a.owns, ...a.unveilResolved.map((u) => u.path)]);
  for (const p of new Set([...others, config.stateDir])) {
    if (!mine.has(p) && insideCode(p, code) && existsSync(p)) mounts.push({ type: 'tmpfs', dest: p, writable: true, why: 'mask' });
  }
  // The config names every agent's grants (and values an agent should not read of another).
  if (config.file && insideCode(config.file, code) && existsSync(config.file)) mounts.push(ro(maskSources().file, 'mask', config.file));
  for (const [src, dst] of sdk.mounts) mounts.push(ro(src, 'sdk', dst));
  for (const u of agent.unveilResolved) mounts.push({ ...ro(u.path, 'unveil'), writable: u.mode === 'rw' });
  return mounts;
}

export function planSandbox(agent: AgentManifest, ctx: PlanContext): SandboxPlan {
  const { machine, config } = ctx;
  const gaps: Gap[] = [];
  const pledged = (p: string) => agent.pledge.includes(p);
  const code = ctx.code ?? codeOf(agent.run, config.dir);
  const sdk = sdkPaths(machine.root);
  const readable = [code.root, ...code.nodeModules, ...code.packages, ...sdk.real, '/node_modules'];
  const writable: string[] = [];
  for (const u of agent.unveilResolved) (u.mode === 'rw' ? writable : readable).push(u.path);
  const { nofile, nproc, memory } = agent.limits;
  const grants: NodeGrant[] = [];
  if (pledged('spawn')) grants.push('child-process');
  if (pledged('worker')) grants.push('worker');
  if (pledged('addons')) grants.push('addons');
  // node: its permission model over the same paths, and a heap cap under limits.memory
  const chain: Chain = {
    node: {
      execPath: process.execPath,
      permission: { flag: machine.permissionFlag, read: readable, write: writable, grants },
      heap: memory !== undefined ? heapCap(memory) : undefined,
      extra: ctx.nodeArgs ?? [],
      run: code.entry,
      args: agent.args,
    },
  };

  // 0. its own cgroup, entered before anything else runs (CPU weight and quota, memory ceiling, pids)
  if (ctx.cgroup) chain.cgroup = { tool: SH, procs: ctx.cgroup.procs };

  // 1. CPU priority by QoS class, before anything else runs
  if (machine.nice) chain.nice = { tool: machine.nice, niceness: NICE[agent.qos] };

  // 2. a uid of its own (root only): no supplementary groups, no_new_privs, no capabilities
  if (machine.root) {
    if (machine.setpriv && ctx.account) chain.setpriv = { tool: machine.setpriv, uid: ctx.account.uid, gid: ctx.account.gid };
    else gaps.push({ layer: LAYERS.uid, why: 'setpriv is not installed (Debian/Ubuntu: util-linux)', fix: FIXES.setpriv });
  }

  // 3. rlimits: open files, processes. Applied inside the sandbox, just before node:
  // RLIMIT_NPROC is then checked against the tasks of the agent's own user namespace
  // (Linux >= 5.14 counts per namespace), so it bounds this agent alone even
  // rootless, where every agent shares the supervisor's uid.
  if (nofile !== undefined || nproc !== undefined) {
    if (machine.prlimit) chain.prlimit = { tool: machine.prlimit, nofile, nproc };
    else gaps.push({ layer: LAYERS.rlimits, why: 'prlimit is not installed (Debian/Ubuntu: util-linux)', fix: FIXES.prlimit });
  }

  // 4. namespaces: nothing exists but the runtime, its code, the SDK and its unveiled paths
  if (machine.bwrap && machine.namespaces) {
    const codeDir = code.kind === 'file' ? dirname(code.entry) : code.root;
    const chdirable = existsSync(config.dir) && [codeDir, ...agent.unveilResolved.map((u) => u.path)].some((p) => inside(p, config.dir));
    chain.bwrap = { tool: machine.bwrap, shareNet: pledged('net'), mounts: mountsOf(agent, code, config, sdk, pledged('net'), machine.root), chdir: chdirable ? config.dir : codeDir };
  } else {
    gaps.push({ layer: LAYERS.namespaces, why: machine.namespacesWhy ?? 'bubblewrap is not available', fix: namespacesFix(machine) });
  }

  return planOf(chain, gaps, machine.root ? ctx.account : undefined);
}

/**
 * V8's heap limit is the old generation plus three semi-spaces of young
 * generation (16 MiB each by default on 64-bit). Both are sized so that the whole
 * heap stays within 75% of limits.memory, leaving the rest for code, stacks and
 * buffers (RSS sampling catches those).
 */
export function heapCap(memory: number): HeapCap {
  const budget = Math.floor((memory * 0.75) / 2 ** 20); // MiB
  const semiSpaceMiB = Math.max(1, Math.min(16, Math.floor(budget / 16)));
  return { memory, semiSpaceMiB, oldSpaceMiB: Math.max(8, budget - 3 * semiSpaceMiB) };
}

export const heapFlags = (memory: number): string[] => heapArgv(heapCap(memory));

/** The plan when isolation is off on purpose (--allow-weaker-isolation with nothing to apply, or tests): node alone. */
export function planUnsandboxed(agent: AgentManifest, nodeArgs: string[] = []): SandboxPlan {
  const nice = which('nice');
  const chain: Chain = {
    ...(nice ? { nice: { tool: nice, niceness: NICE[agent.qos] } } : {}),
    node: { execPath: process.execPath, permission: undefined, heap: undefined, extra: nodeArgs, run: agent.run, args: agent.args },
  };
  return planOf(chain, [], undefined);
}
