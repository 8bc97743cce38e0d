// A note written so that no reader, and no crash, ever sees half of it: a hidden
// temp file beside it (same directory, so the rename stays on one filesystem),
// on disk before it is renamed over the note, and the directory synced so the
// rename lasts. Node's permission model (the sandbox's last layer) disables
// fsync and fdatasync, so the temp file is opened O_SYNC instead: each write
// returns once it is on disk, which is what the fsync was for.
import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** The temp file's name: hidden, and not *.md, so neither the index nor a scan takes it for a note. */
export const tempNameFor = (file: string): string => join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);

export function writeAtomic(file: string, text: string): number {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  // A note that exists keeps its mode (a person may have made it private).
  const mode = (statSync(file, { throwIfNoEntry: false })?.mode ?? 0o644) & 0o777;
  const tmp = tempNameFor(file);
  const data = Buffer.from(text, 'utf8');
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_SYNC, mode);
  try {
    for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
  syncDir(dir);
  return data.length;
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Refused by the permission model (and by some filesystems): the rename is still atomic, only its durability waits for the kernel's writeback.
  }
}
