// What this machine can enforce, found by trying, not assuming: the sandbox
// tools on PATH, and whether an unprivileged user namespace (what bubblewrap
// needs once the agent's uid is dropped) can actually be created here.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface Machine {
  /** The supervisor runs as root: agents get uids of their own. */
  root: boolean;
  bwrap: string | undefined;
  setpriv: string | undefined;
  prlimit: string | undefined;
  nice: string | undefined;
  /** bubblewrap starts a sandbox here (as the user the agents will run as). */
  namespaces: boolean;
  /** Why namespaces are unavailable, when they are. */
  namespacesWhy: string | undefined;
  /** Node's flag for its permission model. */
  permissionFlag: '--permission' | '--experimental-permission';
}

/** PATH first, then the system directories: a service's PATH is often minimal, and these tools live in /usr/bin. */
export function which(cmd: string, path = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin'): string | undefined {
  for (const dir of [...path.split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    if (!dir) continue;
    const file = join(dir, cmd);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The uid a namespace probe runs as when we are root: nobody, as an agent would be someone unprivileged. */
const PROBE_UID = 65534;

function probeNamespaces(m: Omit<Machine, 'namespaces' | 'namespacesWhy'>): { ok: boolean; why?: string } {
  if (!m.bwrap) return { ok: false, why: 'bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)' };
  const sandbox = [m.bwrap, '--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', 'true'];
  const argv = m.root && m.setpriv ? [m.setpriv, `--reuid=${PROBE_UID}`, `--regid=${PROBE_UID}`, '--clear-groups', '--no-new-privs', '--', ...sandbox] : sandbox;
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status === 0) return { ok: true };
  const err = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n')[0];
  return { ok: false, why: `bubblewrap cannot create an unprivileged user namespace here (${err}); enable them: sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0` };
}

let cached: Machine | undefined;

export function probeMachine(): Machine {
  if (cached) return cached;
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  const base = {
    root: process.getuid?.() === 0,
    bwrap: which('bwrap'),
    setpriv: which('setpriv'),
    prlimit: which('prlimit'),
    nice: which('nice'),
    // Renamed in 23.5, backported to 22.13.
    permissionFlag: (major > 23 || (major === 23 && minor >= 5) || (major === 22 && minor >= 13) ? '--permission' : '--experimental-permission') as Machine['permissionFlag'],
  };
  const ns = probeNamespaces(base);
  cached = { ...base, namespaces: ns.ok, namespacesWhy: ns.why };
  return cached;
}

/** The rlimits an agent's chain can set: prlimit runs after the uid is dropped, so it can only lower, never pass the supervisor's own hard limit. */
export const RLIMITS = {
  nofile: { row: 'Max open files', what: 'open files', fix: 'LimitNOFILE= / ulimit -Hn' },
  nproc: { row: 'Max processes', what: 'processes', fix: 'LimitNPROC= / ulimit -Hu' },
} as const;

/** This process's hard limits from /proc/self/limits; undefined: unlimited (or unknown). */
export function hardLimits(file = '/proc/self/limits'): Record<keyof typeof RLIMITS, number | undefined> {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // not Linux: nothing known, nothing refused
  }
  const hard = (row: string) => {
    const line = text.split('\n').find((l) => l.startsWith(row));
    const value = line?.slice(row.length).trim().split(/\s+/)[1];
    return value === undefined || value === 'unlimited' ? undefined : Number(value);
  };
  return { nofile: hard(RLIMITS.nofile.row), nproc: hard(RLIMITS.nproc.row) };
}

/** Each limit a manifest asks for above what this host can grant, as [limit, message]. */
export function limitsAboveHost(limits: { nofile?: number | undefined; nproc?: number | undefined }, hard = hardLimits()): [keyof typeof RLIMITS, string][] {
  const out: [keyof typeof RLIMITS, string][] = [];
  for (const key of ['nofile', 'nproc'] as const) {
    const want = limits[key];
    const max = hard[key];
    if (want !== undefined && max !== undefined && want > max) {
      out.push([key, `${want} is above this host's hard limit ${max} for ${RLIMITS[key].what}; raise it (${RLIMITS[key].fix}) or lower the limit`]);
    }
  }
  return out;
}
