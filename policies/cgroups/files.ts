// The few file operations a cgroup writer needs, in one place: cgroupfs files are
// written whole in one write(2) each, and a group directory is removed with rmdir
// (its interface files cannot be unlinked). The v2 writer is also run against a
// plain directory in tests (no controllers on this machine's unified mount), so
// removal there falls back to a recursive remove: told apart by the filesystem.
import { mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CGROUP_MAGIC = new Set([0x27e0eb, 0x63677270]); // cgroup v1, cgroup2

export const isCgroupFs = (dir: string): boolean => {
  try {
    return CGROUP_MAGIC.has(statfsSync(dir).type);
  } catch {
    return false;
  }
};

export function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** A counter line (`key N`) of a flat-keyed file: memory.events, memory.oom_control, cpu.stat, pids.events. */
export function counter(file: string, key: string): number {
  const line = readText(file)?.split('\n').find((l) => l.startsWith(`${key} `));
  return line ? Number(line.slice(key.length + 1)) || 0 : 0;
}

/** Write one value; the error names the file (EINVAL from a controller otherwise says nothing of where). */
export function put(file: string, value: string | number): void {
  try {
    writeFileSync(file, String(value));
  } catch (err) {
    throw new Error(`${file}: cannot write ${value}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export const ensureDir = (dir: string): void => void mkdirSync(dir, { recursive: true });

/** The pids in a group (cgroup.procs). */
export function procsOf(dir: string): number[] {
  return (readText(join(dir, 'cgroup.procs')) ?? '').split('\n').filter(Boolean).map(Number).filter((n) => n > 0);
}

export function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Kill what is still in a group (a stale agent's processes), and wait until it is
 * empty. Synchronous: it runs at start (before anything is spawned) and at stop
 * (after every agent exited), where nothing else is waiting on the loop.
 */
export function emptyGroup(dir: string, deadlineMs = 3000): number[] {
  const killed = new Set<number>();
  const until = Date.now() + deadlineMs;
  for (;;) {
    const pids = procsOf(dir);
    if (!pids.length || Date.now() > until) return [...killed];
    // The supervisor moves itself into a group of its own (SUPERVISOR_GROUP): never a pid to kill, whatever group it is found in.
    if (pids.includes(process.pid)) throw new Error(`${dir} still holds this supervisor (pid ${process.pid}): not emptying it`);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // already gone
      }
    }
    Atomics.wait(pause, 0, 0, 20);
  }
}

/** Remove a group directory (children first); one that does not exist is fine. */
export function removeDir(dir: string): void {
  for (const sub of subdirs(dir)) removeDir(join(dir, sub));
  try {
    rmdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTEMPTY' && !isCgroupFs(dir)) return rmSync(dir, { recursive: true, force: true });
    throw new Error(`${dir}: cannot remove the cgroup: ${code ?? (err as Error).message}`);
  }
}
