// What the cgroup tests read from outside: an agent's groups (v1, this machine),
// a process's CPU time and RSS from /proc, and a private mount namespace in which
// the cgroup root is bound read-only (where no cgroup can be written).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { instanceOf } from '../../policies/cgroups/detect.js';
import { V1_CONTROLLERS } from '../../policies/cgroups/v1.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';

/** The instance's directory in each v1 hierarchy, or one agent's group in each. */
export const groupDirs = (stateDir: string, agent?: string): string[] =>
  V1_CONTROLLERS.map((c) => join(CGROUP_ROOT, c, 'outheis', instanceOf(stateDir), ...(agent ? [agent] : [])));

export const anyExists = (dirs: string[]): string[] => dirs.filter((d) => existsSync(d));

export const readNumber = (file: string): number => Number(readFileSync(file, 'utf8').trim());

export { counter as counterOf } from '../../policies/cgroups/files.js';

export { cpuSecondsOf as cpuSeconds } from '../../policies/doctor/proc.js';

/**
 * A process's resident memory in bytes (/proc/<pid>/status), or undefined once it is
 * gone: `RssAnon` is what it allocated itself (what its memory cgroup is charged);
 * `VmRSS` adds file pages it maps (node's own binary, shared with every node process).
 */
export function rssOf(pid: number, row: 'RssAnon' | 'VmRSS' = 'RssAnon'): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${row}:`));
    return line ? Number(line.split(/\s+/)[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** argv run in a private mount namespace where the cgroup root is a read-only bind mount of itself. */
export const readOnlyCgroups = (argv: string[]): string[] =>
  ['unshare', '-m', '--propagation', 'private', 'sh', '-c', `mount --bind -o ro ${CGROUP_ROOT} ${CGROUP_ROOT} && exec "$@"`, 'ro-cgroups', ...argv];
