// What the doctor reads about the sandboxed node from outside, in /proc: the
// kernel's account of its ids and capabilities, its rlimits, which namespaces it
// has apart from the doctor's, what its / holds, and whether any of its descriptors
// is one of the doctor's own.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { statFields } from '../proc-stat.js';

export interface Outside {
  pid: number;
  status?: Record<string, string>;
  limits?: Record<string, string>;
  /** Namespaces (mnt, pid, …) the probe has apart from the doctor's, and those it shares. */
  nsOwn: string[];
  nsShared: string[];
  root?: string[];
  fds?: { fd: number; target: string }[];
  /** The probe's fds above stdio that are open files, pipes or sockets of the doctor's. */
  shared: string[];
  errors: string[];
}

export const codeOf = (err: unknown): string => (err as NodeJS.ErrnoException)?.code ?? (err instanceof Error ? err.message : String(err));

export function parseStatus(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s*(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

/** /proc/<pid>/limits: "Max open files  64  64  files" → { 'open files': '64/64' }. */
export function parseLimits(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^Max ([a-z ]+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (m) out[m[1]!] = `${m[2]}/${m[3]}`;
  }
  return out;
}

const NAMESPACES = ['mnt', 'pid', 'net', 'ipc', 'uts', 'user', 'cgroup'] as const;

/** The doctor's own open descriptors, by what they point at (pipe:[n], socket:[n], paths). */
function ownFdTargets(): Map<string, number> {
  const out = new Map<string, number>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.set(readlinkSync(`/proc/self/fd/${fd}`), Number(fd));
    } catch {
      // the directory handle itself, closed by now
    }
  }
  return out;
}

export function readOutside(pid: number): Outside {
  const errors: string[] = [];
  const read = <T>(what: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      errors.push(`${what}: ${codeOf(err)}`);
      return undefined;
    }
  };
  const o: Outside = { pid, nsOwn: [], nsShared: [], shared: [], errors };
  o.status = read('status', () => parseStatus(readFileSync(`/proc/${pid}/status`, 'utf8')));
  o.limits = read('limits', () => parseLimits(readFileSync(`/proc/${pid}/limits`, 'utf8')));
  for (const ns of NAMESPACES) {
    const theirs = read(`ns/${ns}`, () => readlinkSync(`/proc/${pid}/ns/${ns}`));
    const mine = read(`own ns/${ns}`, () => readlinkSync(`/proc/self/ns/${ns}`));
    if (theirs === undefined || mine === undefined) continue;
    (theirs === mine ? o.nsShared : o.nsOwn).push(ns);
  }
  o.root = read('root', () => readdirSync(`/proc/${pid}/root`).sort());
  o.fds = read('fd', () => readdirSync(`/proc/${pid}/fd`).map((fd) => ({ fd: Number(fd), target: readlinkSync(`/proc/${pid}/fd/${fd}`) })));
  if (o.fds) {
    const mine = ownFdTargets();
    // anon_inode targets name a kind, not an object; /dev/null is everyone's
    for (const { fd, target } of o.fds) {
      if (fd > 2 && mine.has(target) && !target.startsWith('anon_inode:') && target !== '/dev/null') o.shared.push(`fd ${fd} → ${target} (the doctor's fd ${mine.get(target)})`);
    }
  }
  return o;
}

/** CPU time a process has used (utime + stime, /proc/<pid>/stat), in seconds. */
export function cpuSecondsOf(pid: number): number {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ
}
