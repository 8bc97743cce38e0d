// The state directory is the supervisor's private ground: the journal, the logs,
// the control socket and the pidfile. It must be ours and closed to everyone
// else (0700), and only one supervisor may run on it at a time.
//
// The supervisor reaches it by its real path (resolved once, at start: see main.ts),
// and opens what it writes there through logs/safe-open.ts: no symlink followed,
// the opened fd checked, directories checked with lstat.
import { chmodSync, closeSync, lstatSync, mkdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CREATE_NEW, dirProblem, ensureSafeDirSync, openSafeSync, UnsafeFileError } from '../../logs/safe-open.js';

export const stateFiles = (dir: string) => ({
  dir,
  socket: join(dir, 'outheis.sock'),
  pidfile: join(dir, 'outheis.pid'),
  logs: join(dir, 'logs'),
  journal: join(dir, 'journal'),
});
export type StateFiles = ReturnType<typeof stateFiles>;

export class StateDirError extends Error {}

/** Another supervisor holds this state directory. */
export class AlreadyRunning extends StateDirError {
  constructor(readonly pid: number, dir: string) {
    super(`another supervisor (pid ${pid}) is running on ${dir}; stop it first ('outheis stop'), or give this one its own state_dir`);
  }
}

/** Create (0700) or tighten the directory; refuse one that is not ours. Returns what it had to fix. */
export function prepareStateDir(dir: string): string[] {
  const fixed: string[] = [];
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new StateDirError(`state_dir ${dir} is not a directory`);
  // Someone else's directory (or a symlink planted in /tmp) could be read or swapped under us.
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new StateDirError(`state_dir ${dir} belongs to uid ${st.uid}, not to this supervisor (uid ${process.getuid()}); refusing to keep the control socket and journal there`);
  }
  if ((st.mode & 0o777) !== 0o700) {
    chmodSync(dir, 0o700);
    fixed.push(`state_dir mode was 0${(st.mode & 0o777).toString(8)}, set to 0700`);
  }
  ensureSafeDirSync(join(dir, 'logs'));
  // Recovery reads and cuts segments before anything is written: a journal directory
  // someone else could fill with links is refused first (openSegment checks it too).
  const journal = lstatSync(join(dir, 'journal'), { throwIfNoEntry: false });
  const why = journal && dirProblem(join(dir, 'journal'), journal);
  if (why) throw new UnsafeFileError(why);
  return fixed;
}

/** The process's start time in clock ticks since boot: with the pid it names a process uniquely, even after pid reuse. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the ")" that ends the command name (which may hold spaces).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

interface PidfileOwner { pid: number; start: string | undefined }

function readPidfile(file: string): PidfileOwner | undefined {
  try {
    const [pidLine, startLine] = readFileSync(file, 'utf8').split('\n');
    const pid = Number(pidLine);
    if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
    return { pid, start: startLine?.startsWith('start ') ? startLine.slice(6) : undefined };
  } catch {
    return undefined;
  }
}

/** Is the process the pidfile names still that process? */
function alive(owner: PidfileOwner): boolean {
  const start = processStart(owner.pid);
  if (start === undefined) return false;
  return owner.start === undefined || owner.start === start;
}

/**
 * Take the pidfile as the lock: created with O_EXCL, so two supervisors starting at
 * once cannot both win. A pidfile whose process is gone (or whose pid now names
 * another process) is stale and replaced. Returns whether a stale one was found.
 *
 * The pidfile's first line is the bare pid (systemd's PIDFile= reads that); the
 * second is the process start time that makes it unambiguous.
 */
export function acquirePidfile(files: StateFiles): { stale: number | undefined } {
  let stale: number | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSafeSync(files.pidfile, CREATE_NEW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = readPidfile(files.pidfile);
      if (owner && owner.pid !== process.pid && alive(owner)) throw new AlreadyRunning(owner.pid, files.dir);
      stale = owner?.pid ?? stale;
      try {
        unlinkSync(files.pidfile);
      } catch {
        // another starter removed it first; the O_EXCL retry settles who wins
      }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\nstart ${processStart(process.pid) ?? ''}\n`);
    } finally {
      closeSync(fd);
    }
    return { stale };
  }
  throw new StateDirError(`could not take ${files.pidfile}: another supervisor keeps replacing it`);
}

/** Remove the pidfile, if it is still ours. */
export function releasePidfile(files: StateFiles): void {
  if (readPidfile(files.pidfile)?.pid !== process.pid) return;
  try {
    unlinkSync(files.pidfile);
  } catch {
    // already gone
  }
}
