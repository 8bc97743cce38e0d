// Which cgroups this supervisor can use, found by trying: a delegated v2 subtree
// (under systemd with Delegate=yes, or a user's delegated scope) when its group
// offers cpu, memory and pids and is writable; else the v1 cpu, memory and pids
// hierarchies when they are mounted and writable (root on a v1 host); else none,
// with the reason, and agents fall back to nice plus sampling.
import { accessSync, constants, mkdirSync, realpathSync, rmdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readText } from './files.js';
import type { CgroupDriver } from './group.js';
import { V1_CONTROLLERS, V1Cgroups, type V1Mounts } from './v1.js';
import { controllersOf, V2_CONTROLLERS, V2Cgroups } from './v2.js';
import { digest } from '../digest.js';

export type Cgroups = { driver: CgroupDriver; why?: undefined } | { driver: undefined; why: string };

export interface DetectOptions {
  /** Where the supervisor keeps its state: names its instance. */
  stateDir: string;
  mountinfo?: string;
  /** /proc/self/cgroup: which group this process is in. */
  selfCgroup?: string;
}

/** The instance's directory name: readable, and unique per state directory. */
export function instanceOf(stateDir: string): string {
  let real = stateDir;
  try {
    real = realpathSync(stateDir);
  } catch {
    // not made yet: its path names it as well
  }
  const tag = basename(real).replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '') || 'state';
  return `${tag}-${digest(real).slice(0, 10)}`;
}

interface Mount { point: string; fstype: string; options: string[] }

/** The cgroup filesystems mounted, from mountinfo (fields after ` - `: fstype, source, super options). */
export function cgroupMounts(mountinfo = '/proc/self/mountinfo'): Mount[] {
  const out: Mount[] = [];
  for (const line of (readText(mountinfo) ?? '').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const [fstype, , superOpts] = post.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const point = pre.split(' ')[4]!.replace(/\\040/g, ' ');
    out.push({ point, fstype, options: (superOpts ?? '').split(',') });
  }
  return out;
}

const writable = (dir: string): string | undefined => {
  try {
    accessSync(dir, constants.W_OK);
    // access() does not see a read-only mount over a writable one everywhere: try it.
    const probe = join(dir, `.outheis-probe-${process.pid}`);
    mkdirSync(probe);
    rmdirSync(probe);
    return undefined;
  } catch (err) {
    return `${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
};

/** The v2 group this process is in, when it offers our controllers and we may write it. */
function detectV2(mounts: Mount[], selfCgroup: string): { root?: string; why: string } {
  const unified = mounts.find((m) => m.fstype === 'cgroup2');
  if (!unified) return { why: 'no cgroup v2 mount' };
  const own = (readText(selfCgroup) ?? '').split('\n').find((l) => l.startsWith('0::'))?.slice(3);
  if (own === undefined) return { why: 'this process is in no cgroup v2 group' };
  // The root group is the host's, never delegated: its processes are not ours to move.
  if (own === '/') return { why: 'cgroup v2: this process is in the root group (nothing delegated to it)' };
  const root = join(unified.point, own);
  const offered = controllersOf(root);
  const lacking = V2_CONTROLLERS.filter((c) => !offered.includes(c));
  if (lacking.length) return { why: `cgroup v2 at ${root} offers no ${lacking.join(', ')} controller (not delegated: Delegate=yes in the unit)` };
  const ro = writable(root);
  return ro ? { why: `cgroup v2: ${ro}` } : { root, why: '' };
}

function detectV1(mounts: Mount[]): { mounts?: V1Mounts; why: string } {
  const found: Partial<V1Mounts> = {};
  for (const ctrl of V1_CONTROLLERS) {
    const m = mounts.find((x) => x.fstype === 'cgroup' && x.options.includes(ctrl));
    if (m) found[ctrl] = m.point;
  }
  const lacking = V1_CONTROLLERS.filter((c) => !found[c]);
  if (lacking.length) return { why: `cgroup v1: no ${lacking.join(', ')} hierarchy mounted` };
  for (const ctrl of V1_CONTROLLERS) {
    const ro = writable(found[ctrl]!);
    if (ro) return { why: `cgroup v1: ${ro}` };
  }
  return { mounts: found as V1Mounts, why: '' };
}

export function detectCgroups(opts: DetectOptions): Cgroups {
  const mounts = cgroupMounts(opts.mountinfo);
  const v2 = detectV2(mounts, opts.selfCgroup ?? '/proc/self/cgroup');
  if (v2.root) return { driver: new V2Cgroups(v2.root) };
  const v1 = detectV1(mounts);
  if (v1.mounts) return { driver: new V1Cgroups(v1.mounts, instanceOf(opts.stateDir)) };
  return { driver: undefined, why: `${v2.why}; ${v1.why}` };
}
