// What the probe should observe, read off the plan's structure (never off its
// command line): each step of the chain says what it applies, so it says what a
// probe inside must see.
import { sep } from 'node:path';
import type { HeapCap, NodeGrant } from '../chain.js';
import type { SandboxPlan } from '../sandbox.js';

export interface Expected {
  /** setpriv's uid and gid; undefined when the plan drops no privilege. */
  ids: { uid: number; gid: number } | undefined;
  /** The top-level names bubblewrap's mounts put in the sandbox's /. */
  root: Set<string>;
  /** Namespaces the probe must have apart from the doctor's (beyond net, which `net` settles). */
  ownNamespaces: string[];
  /** A network namespace of its own: bubblewrap without --share-net. */
  ownNet: boolean;
  /** bubblewrap changes directory (--chdir), and sets PWD to it. */
  chdir: string | undefined;
  /** The permission model's grants; undefined without it. */
  permission: { read: string[]; write: string[]; grants: NodeGrant[] } | undefined;
  /** prlimit's limits, as /proc/<pid>/limits shows them ("64/64"). */
  limits: { 'open files'?: string; processes?: string };
  nofile: number | undefined;
  heap: HeapCap | undefined;
  /** The variables the launch passes (policies/spawn.ts agentEnv). */
  env: string[];
}

const top = (p: string) => p.split('/').filter(Boolean)[0];
const under = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);

export function expectationsOf(plan: SandboxPlan, env: string[]): Expected {
  const { setpriv, bwrap, prlimit, node } = plan.chain;
  const limits: Expected['limits'] = {};
  if (prlimit?.nofile !== undefined) limits['open files'] = `${prlimit.nofile}/${prlimit.nofile}`;
  if (prlimit?.nproc !== undefined) limits.processes = `${prlimit.nproc}/${prlimit.nproc}`;
  return {
    ids: setpriv && { uid: setpriv.uid, gid: setpriv.gid },
    root: new Set((bwrap?.mounts ?? []).map((m) => top(m.dest)).filter((n): n is string => n !== undefined)),
    // --unshare-all
    ownNamespaces: bwrap ? ['mnt', 'pid', 'ipc', 'uts'] : [],
    ownNet: bwrap !== undefined && !bwrap.shareNet,
    chdir: bwrap?.chdir,
    permission: node.permission,
    limits,
    nofile: prlimit?.nofile,
    heap: node.heap,
    env,
  };
}

/** May the probe write `path`: inside a path the permission model grants for writing. */
export const mayWrite = (e: Expected, path: string): boolean => e.permission === undefined || e.permission.write.some((w) => under(path, w));
/** May the probe read `path`: inside a path the permission model grants for reading. */
export const mayRead = (e: Expected, path: string): boolean => e.permission === undefined || [...e.permission.read, ...e.permission.write].some((r) => under(path, r));
