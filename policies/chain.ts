// The hardening chain as data, and the one place it becomes a command line. Each
// step execs the next: nice → setpriv → bwrap → prlimit → node. The plan
// (sandbox.ts) decides the steps; the doctor reads its expectations off the same
// structure; only stepsOf() knows the tools' flags. With cgroups, a first step
// (`cgroup`, a shell) writes its own pid into the agent's cgroup.procs and execs
// the rest: the agent is inside its group before its first instruction, and so is
// everything bubblewrap starts.
import type { Machine } from './machine.js';

/** The layer names `status` and `doctor` show. */
export const LAYERS = {
  env: 'env', fds: 'fds', uid: 'uid', namespaces: 'namespaces', netns: 'netns',
  permission: 'permission', rlimits: 'rlimits', heap: 'heap', cgroup: 'cgroup',
} as const;

export type Layer = (typeof LAYERS)[keyof typeof LAYERS];

/** Why a path is in the sandbox's mount namespace. */
export type MountWhy =
  | 'net' // name resolution and TLS roots, for an agent pledged `net`
  | 'runtime' // node's installation and the system libraries
  | 'system' // a fresh /proc and /dev, a private /tmp
  | 'code' // the agent's code (its package, and node_modules above it; policies/code.ts)
  | 'mask' // inside the code: a credential (made unreadable), someone else's domain or the state directory (made empty)
  | 'sdk' // outheis/worker and msgpackr
  | 'unveil'; // the manifest's unveiled paths

export interface Mount {
  /** bind: the host's `source` at `dest`; proc, dev, tmpfs: a fresh filesystem there. */
  type: 'bind' | 'proc' | 'dev' | 'tmpfs';
  source?: string;
  dest: string;
  writable: boolean;
  /** Bound only when the host has it. */
  optional?: boolean;
  why: MountWhy;
}

/** The V8 heap, sized from limits.memory (see heapCap in sandbox.ts). */
export interface HeapCap {
  memory: number;
  semiSpaceMiB: number;
  oldSpaceMiB: number;
}

export type NodeGrant = 'child-process' | 'worker' | 'addons';

export interface NodeFlags {
  execPath: string;
  /** Node's permission model; undefined runs node without it. */
  permission: { flag: Machine['permissionFlag']; read: string[]; write: string[]; grants: NodeGrant[] } | undefined;
  heap: HeapCap | undefined;
  /** Flags the supervisor was told to give every agent (tests, benchmarks). */
  extra: string[];
  run: string;
  args: string[];
}

/** Each step's tool and what it applies; a step left out is not in the chain. */
export interface Chain {
  /** The cgroup.procs files (one per v1 hierarchy, one on v2) the first step enters. */
  cgroup?: { tool: string; procs: string[] };
  nice?: { tool: string; niceness: number };
  setpriv?: { tool: string; uid: number; gid: number };
  bwrap?: { tool: string; shareNet: boolean; mounts: Mount[]; chdir: string };
  prlimit?: { tool: string; nofile?: number | undefined; nproc?: number | undefined };
  node: NodeFlags;
}

export interface Step {
  tool: keyof Chain;
  argv: string[];
  /** The layers this step puts in force. */
  layers: Layer[];
}

function mountArgv(m: Mount): string[] {
  if (m.type !== 'bind') return [`--${m.type}`, m.dest];
  return [m.writable ? '--bind' : m.optional ? '--ro-bind-try' : '--ro-bind', m.source!, m.dest];
}

/**
 * Enter the groups, then become the rest of the chain: `$$` is the shell's pid,
 * which exec keeps. A write that fails stops the start (exit 125) rather than
 * running the agent outside its limits.
 */
const ENTER = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"';

export function heapArgv(heap: HeapCap): string[] {
  return [`--max-semi-space-size=${heap.semiSpaceMiB}`, `--max-old-space-size=${heap.oldSpaceMiB}`];
}

function nodeArgv(n: NodeFlags): string[] {
  const argv = [n.execPath];
  if (n.permission) {
    const p = n.permission;
    argv.push(p.flag, '--disable-warning=ExperimentalWarning');
    for (const path of p.read) argv.push(`--allow-fs-read=${path}`);
    for (const path of p.write) argv.push(`--allow-fs-read=${path}`, `--allow-fs-write=${path}`);
    for (const g of p.grants) argv.push(`--allow-${g}`);
  }
  if (n.heap) argv.push(...heapArgv(n.heap));
  return [...argv, ...n.extra, n.run, ...n.args];
}

/** The chain, step by step in exec order, each with its command line and the layers it provides. */
export function stepsOf(chain: Chain): Step[] {
  const steps: Step[] = [];
  const { cgroup, nice, setpriv, bwrap, prlimit, node } = chain;
  if (cgroup) steps.push({ tool: 'cgroup', argv: [cgroup.tool, '-c', ENTER, 'outheis-cgroup', String(cgroup.procs.length), ...cgroup.procs], layers: [LAYERS.cgroup] });
  if (nice) steps.push({ tool: 'nice', argv: [nice.tool, '-n', String(nice.niceness)], layers: [] });
  if (setpriv) {
    steps.push({
      tool: 'setpriv',
      argv: [setpriv.tool, `--reuid=${setpriv.uid}`, `--regid=${setpriv.gid}`, '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--'],
      layers: [LAYERS.uid],
    });
  }
  if (bwrap) {
    steps.push({
      tool: 'bwrap',
      argv: [
        bwrap.tool, '--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
        ...(bwrap.shareNet ? ['--share-net'] : []),
        ...bwrap.mounts.flatMap(mountArgv),
        '--chdir', bwrap.chdir, '--',
      ],
      layers: bwrap.shareNet ? [LAYERS.namespaces] : [LAYERS.netns, LAYERS.namespaces],
    });
  }
  if (prlimit) {
    const argv = [prlimit.tool];
    if (prlimit.nofile !== undefined) argv.push(`--nofile=${prlimit.nofile}:${prlimit.nofile}`);
    if (prlimit.nproc !== undefined) argv.push(`--nproc=${prlimit.nproc}:${prlimit.nproc}`);
    steps.push({ tool: 'prlimit', argv: [...argv, '--'], layers: [LAYERS.rlimits] });
  }
  steps.push({ tool: 'node', argv: nodeArgv(node), layers: [...(node.permission ? [LAYERS.permission] : []), ...(node.heap ? [LAYERS.heap] : [])] });
  return steps;
}

export const commandLine = (chain: Chain): string[] => stepsOf(chain).flatMap((s) => s.argv);
