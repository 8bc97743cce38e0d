// Opening the files the supervisor writes in its state directory (logs, journal
// segments, the pidfile), safely. The supervisor often runs as root: a name in
// state_dir that is a symlink, or a hard link to another file, would make it append
// to whatever the link names. So a file is opened without following a symlink
// (O_NOFOLLOW), without blocking on a FIFO (O_NONBLOCK), and then checked on the
// opened fd (what was opened, not what a name pointed at a moment earlier): a
// regular file, owned by our effective uid, with exactly one name. Its directory is
// checked with lstat first: a real directory, ours, not writable by group or others.
// Anything else is refused with an UnsafeFileError naming what is wrong; nothing is
// ever written through it.
import { constants as C, fstatSync, closeSync, lstatSync, mkdirSync, openSync, type Stats } from 'node:fs';
import { lstat, mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export class UnsafeFileError extends Error {
  readonly code = 'EUNSAFE';
}

const euid = (): number | undefined => process.geteuid?.();

/** Flags added to every open: no symlink at the last component, no blocking on a planted FIFO. Also what the supervisor reads with (env files). */
export const SAFE = C.O_NOFOLLOW | C.O_NONBLOCK;

export const APPEND = C.O_WRONLY | C.O_CREAT | C.O_APPEND;
export const READ_WRITE = C.O_RDWR | C.O_CREAT;
export const CREATE_NEW = C.O_WRONLY | C.O_CREAT | C.O_EXCL;

/** Why a directory we keep files in is not safe to write in, or undefined when it is. */
export function dirProblem(dir: string, st: Stats): string | undefined {
  if (st.isSymbolicLink()) return `${dir} is a symbolic link, not a directory: refusing to write through it`;
  if (!st.isDirectory()) return `${dir} is not a directory`;
  const me = euid();
  if (me !== undefined && st.uid !== me) return `${dir} belongs to uid ${st.uid}, not to this supervisor (uid ${me}): someone else could swap its files`;
  if ((st.mode & 0o022) !== 0) return `${dir} is writable by group or others (mode 0${(st.mode & 0o777).toString(8)}): someone else could swap its files; chmod go-w it`;
  return undefined;
}

/** Why an opened file is not ours to write, or undefined when it is. */
export function fileProblem(path: string, st: Stats): string | undefined {
  if (!st.isFile()) return `${path} is not a regular file: refusing to write it`;
  const me = euid();
  if (me !== undefined && st.uid !== me) return `${path} belongs to uid ${st.uid}, not to this supervisor (uid ${me}): refusing to write it`;
  if (st.nlink !== 1) {
    return st.nlink === 0
      ? `${path} was removed while being opened`
      : `${path} has ${st.nlink} hard links: refusing to write it (another name may be a file the supervisor must not touch)`;
  }
  return undefined;
}

/** ELOOP from O_NOFOLLOW says "that name is a symlink"; say it so. */
function explain(path: string, err: NodeJS.ErrnoException): Error {
  if (err.code === 'ELOOP') return new UnsafeFileError(`${path} is a symbolic link: refusing to open it (the supervisor never writes through a link)`);
  return err;
}

/** Create `dir` (and its parents) if missing, then insist that `dir` itself is a safe directory. */
export async function ensureSafeDir(dir: string, mode = 0o700): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  const why = dirProblem(dir, await lstat(dir));
  if (why) throw new UnsafeFileError(why);
}

export function ensureSafeDirSync(dir: string, mode = 0o700): void {
  mkdirSync(dir, { recursive: true, mode });
  const why = dirProblem(dir, lstatSync(dir));
  if (why) throw new UnsafeFileError(why);
}

/**
 * Open `path` with `flags` (APPEND, READ_WRITE, or any O_ flags) as a file of ours:
 * its directory made and checked, no symlink followed, the opened fd checked.
 */
export async function openSafe(path: string, flags: number, mode = 0o600, dirMode = 0o700): Promise<FileHandle> {
  await ensureSafeDir(dirname(path), dirMode);
  let fh: FileHandle;
  try {
    fh = await open(path, flags | SAFE, mode);
  } catch (err) {
    throw explain(path, err as NodeJS.ErrnoException);
  }
  try {
    const why = fileProblem(path, await fh.stat());
    if (why) throw new UnsafeFileError(why);
    return fh;
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/** openSafe, synchronously, returning an fd; the directory must exist (it is checked, not made). */
export function openSafeSync(path: string, flags: number, mode = 0o600): number {
  const why = dirProblem(dirname(path), lstatSync(dirname(path)));
  if (why) throw new UnsafeFileError(why);
  let fd: number;
  try {
    fd = openSync(path, flags | SAFE, mode);
  } catch (err) {
    throw explain(path, err as NodeJS.ErrnoException);
  }
  try {
    const problem = fileProblem(path, fstatSync(fd));
    if (problem) throw new UnsafeFileError(problem);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
