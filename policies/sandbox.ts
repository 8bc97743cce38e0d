// How one agent is started: the chain of hardening steps its command line runs
// through, in order, and which layers are in force. Reads as a list:
//   nice → setpriv (own uid/gid, no groups, no_new_privs, no capabilities)
//        → bwrap (namespaces; only the runtime, its code, the SDK and its unveiled
//        paths) → prlimit (nofile, nproc) → node (permission model, heap cap).
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { which, type Machine } from './machine.js';
import type { AgentManifest, Manifests, Qos } from './manifest.js';
import type { Account } from './users.js';

/** The layer names `status` and `doctor` show. */
export const LAYERS = {
  env: 'env', fds: 'fds', uid: 'uid', namespaces: 'namespaces', netns: 'netns',
  permission: 'permission', rlimits: 'rlimits', heap: 'heap',
} as const;

export interface SandboxPlan {
  /** The command line: argv[0] is the program. */
  argv: string[];
  layers: string[];
  /** Layers the manifest needs that this machine cannot apply, each with what to do about it. */
  missing: string[];
  /** The agent runs in a pid namespace: the spawned pid is bubblewrap's, not node's. */
  namespaced: boolean;
  account: Account | undefined;
}

/**
 * CPU priority by QoS class, added to the supervisor's own niceness. Agents always run
 * below the supervisor, so that busy agents cannot starve the router. Applied once,
 * by `nice` at the head of the chain, so every process of the sandbox starts with it:
 * a renice after spawn would race with the exec chain and land on some processes only.
 */
export const NICE: Record<Qos, number> = { interactive: 1, user: 2, utility: 5, background: 10 };

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const requireHere = createRequire(import.meta.url);

/** What an agent needs of outheis to run: the SDK's files and msgpackr. Bound read-only. */
export function sdkPaths(forOthers = false): { real: string[]; mounts: [string, string][] } {
  const root = PACKAGE_ROOT.replace(/\/$/, '');
  // msgpackr's exports hide its package.json; its entry point lives in its package root or dist/.
  let msgpackr = dirname(requireHere.resolve('msgpackr'));
  while (!existsSync(join(msgpackr, 'package.json')) && msgpackr !== dirname(msgpackr)) msgpackr = dirname(msgpackr);
  const files: [string, string][] = [
    [join(root, 'package.json'), 'package.json'],
    [join(root, 'dist/workers'), 'dist/workers'],
    [join(root, 'dist/protocol'), 'dist/protocol'],
    [msgpackr, 'node_modules/msgpackr'],
  ];
  // bubblewrap runs as the agent's uid, so it must reach what it binds: an install
  // under /root is out of reach, and is then staged (once) to a world-readable copy.
  const source = forOthers && !files.every(([src]) => readableByOthers(src)) ? stagedSdk(files) : (src: string) => src;
  // At their real paths (for agents inside this package: self-reference) and as
  // /node_modules/outheis (for agents anywhere else: `import 'outheis/worker'` walks up to /).
  const mounts: [string, string][] = [
    ...files.map(([src]) => [source(src), src] as [string, string]),
    ...files.slice(0, 3).map(([src, rel]) => [source(src), `/node_modules/outheis/${rel}`] as [string, string]),
    [source(msgpackr), '/node_modules/msgpackr'],
  ];
  return { real: files.map(([src]) => src), mounts };
}

/** Can a uid that is neither owner nor group read this path (every directory above it searchable)? */
export function readableByOthers(path: string): boolean {
  try {
    if ((statSync(path).mode & 0o004) === 0) return false;
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) return false;
      if (dir === dirname(dir)) return true;
    }
  } catch {
    return false;
  }
}

let staged: Map<string, string> | undefined;

/** A private, root-owned, world-readable copy of the SDK files (mkdtemp: nobody can plant one first). */
function stagedSdk(files: [string, string][]): (src: string) => string {
  if (!staged) {
    const dir = mkdtempSync(join(tmpdir(), 'outheis-sdk-'));
    chmodSync(dir, 0o755);
    staged = new Map();
    for (const [src, rel] of files) {
      const dst = join(dir, rel);
      cpSync(src, dst, { recursive: true });
      openUp(join(dir, rel.split('/')[0]!));
      staged.set(src, dst);
    }
  }
  const map = staged;
  return (src) => map.get(src) ?? src;
}

function openUp(path: string): void {
  const st = statSync(path);
  chmodSync(path, st.isDirectory() ? 0o755 : 0o644);
  if (st.isDirectory()) for (const entry of readdirSync(path)) openUp(join(path, entry));
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
  /** Every agent's manifest (other agents' domains are masked) and where the config lives. */
  config: Manifests;
  machine: Machine;
  account: Account | undefined;
  nodeArgs?: string[];
}

export function planSandbox(agent: AgentManifest, ctx: PlanContext): SandboxPlan {
  const { machine, config } = ctx;
  const layers: string[] = [LAYERS.env, LAYERS.fds];
  const missing: string[] = [];
  const argv: string[] = [];
  const pledged = (p: string) => agent.pledge.includes(p);

  // 1. CPU priority by QoS class, before anything else runs
  argv.push(...niceStep(agent.qos, machine.nice));

  // 2. a uid of its own (root only): no supplementary groups, no_new_privs, no capabilities
  if (machine.root) {
    if (machine.setpriv && ctx.account) {
      const { uid, gid } = ctx.account;
      argv.push(machine.setpriv, `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--');
      layers.push(LAYERS.uid);
    } else {
      missing.push('uid: setpriv is not installed (Debian/Ubuntu: util-linux)');
    }
  }

  // 3. rlimits: open files, processes. Applied inside the sandbox, just before node:
  // RLIMIT_NPROC is then checked against the tasks of the agent's own user namespace
  // (Linux >= 5.14 counts per namespace), so it bounds this agent alone even
  // rootless, where every agent shares the supervisor's uid.
  const { nofile, nproc, memory } = agent.limits;
  const rlimits: string[] = [];
  if (nofile !== undefined || nproc !== undefined) {
    if (machine.prlimit) {
      rlimits.push(machine.prlimit);
      if (nofile !== undefined) rlimits.push(`--nofile=${nofile}:${nofile}`);
      if (nproc !== undefined) rlimits.push(`--nproc=${nproc}:${nproc}`);
      rlimits.push('--');
      layers.push(LAYERS.rlimits);
    } else {
      missing.push('rlimits: prlimit is not installed (Debian/Ubuntu: util-linux)');
    }
  }

  // 4. namespaces: nothing exists but the runtime, its code, the SDK and its unveiled paths
  const codeDir = dirname(agent.run);
  const sdk = sdkPaths(machine.root);
  const readable = [codeDir, ...sdk.real, '/node_modules'];
  const writable: string[] = [];
  for (const u of agent.unveilResolved) (u.mode === 'rw' ? writable : readable).push(u.path);
  let namespaced = false;
  if (machine.bwrap && machine.namespaces) {
    namespaced = true;
    const b = [machine.bwrap, '--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL'];
    if (pledged('net')) {
      b.push('--share-net');
      // name resolution and TLS roots, for an agent allowed the network
      for (const f of ['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/ssl', '/etc/ca-certificates']) b.push('--ro-bind-try', f, f);
    } else {
      layers.push(LAYERS.netns);
    }
    for (const d of runtimeMounts()) b.push('--ro-bind', d, d);
    b.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
    b.push('--ro-bind', codeDir, codeDir);
    // Inside its code directory, what is not this agent's stays invisible: other
    // agents' domains and the state directory become empty.
    const mine = new Set(agent.unveilResolved.map((u) => u.path));
    const others = Object.values(config.agents).filter((a) => a.name !== agent.name)
      .flatMap((a) => [...a.owns, ...a.unveilResolved.map((u) => u.path)]);
    for (const p of new Set([...others, config.state_dir])) {
      if (!mine.has(p) && inside(p, codeDir) && existsSync(p)) b.push('--tmpfs', p);
    }
    for (const [src, dst] of sdk.mounts) b.push('--ro-bind', src, dst);
    for (const u of agent.unveilResolved) b.push(u.mode === 'rw' ? '--bind' : '--ro-bind', u.path, u.path);
    b.push('--chdir', existsSync(config.dir) && [codeDir, ...agent.unveilResolved.map((u) => u.path)].some((p) => inside(p, config.dir)) ? config.dir : codeDir);
    b.push('--');
    argv.push(...b);
    layers.push(LAYERS.namespaces);
  } else {
    missing.push(`namespaces: ${machine.namespacesWhy ?? 'bubblewrap is not available'}`);
  }

  argv.push(...rlimits);

  // 5. node: its permission model over the same paths, and a heap cap under limits.memory
  argv.push(process.execPath, machine.permissionFlag, '--disable-warning=ExperimentalWarning');
  for (const p of readable) argv.push(`--allow-fs-read=${p}`);
  for (const p of writable) argv.push(`--allow-fs-read=${p}`, `--allow-fs-write=${p}`);
  if (pledged('spawn')) argv.push('--allow-child-process');
  if (pledged('worker')) argv.push('--allow-worker');
  if (pledged('addons')) argv.push('--allow-addons');
  layers.push(LAYERS.permission);
  if (memory !== undefined) {
    argv.push(...heapFlags(memory));
    layers.push(LAYERS.heap);
  }
  argv.push(...(ctx.nodeArgs ?? []), agent.run, ...agent.args);
  return { argv, layers, missing, namespaced, account: machine.root ? ctx.account : undefined };
}

/**
 * V8's heap limit is the old generation plus three semi-spaces of young
 * generation (16 MiB each by default on 64-bit). Both are sized so that the whole
 * heap stays within 75% of limits.memory, leaving the rest for code, stacks and
 * buffers (RSS sampling catches those).
 */
export function heapFlags(memory: number): string[] {
  const budget = Math.floor((memory * 0.75) / 2 ** 20); // MiB
  const semi = Math.max(1, Math.min(16, Math.floor(budget / 16)));
  const old = Math.max(8, budget - 3 * semi);
  return [`--max-semi-space-size=${semi}`, `--max-old-space-size=${old}`];
}

/** The plan when isolation is off on purpose (--allow-weaker-isolation with nothing to apply, or tests): node alone. */
/** The chain's first step: the QoS class's niceness, inherited by everything it execs. */
function niceStep(qos: Qos, nice: string | undefined): string[] {
  return nice ? [nice, '-n', String(NICE[qos])] : [];
}

export function planUnsandboxed(agent: AgentManifest, nodeArgs: string[] = []): SandboxPlan {
  return { argv: [...niceStep(agent.qos, which('nice')), process.execPath, ...nodeArgs, agent.run, ...agent.args], layers: [LAYERS.env, LAYERS.fds], missing: [], namespaced: false, account: undefined };
}
