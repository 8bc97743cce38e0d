// A really full disk, for the tests of what happens on ENOSPC: a small tmpfs filled
// to the last byte. (A symlink to /dev/full is no longer a stand-in: the supervisor
// refuses to write through a symlink.) Needs root, as the suite does.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FullDisk {
  /** Fill it to the last byte (again). */
  fill(): void;
  /** Give the room back. */
  free(): void;
  unmount(): void;
}

/**
 * Mount a 64 KiB tmpfs at `dir` (made if missing; mode 0700) and fill it. Files can
 * still be created (inodes are not bytes), but a new file's first byte finds no room.
 */
export function fullDisk(dir: string): FullDisk {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir]);
  const filler = join(dir, '.filler');
  const disk: FullDisk = {
    fill() {
      const fd = openSync(filler, 'a');
      try {
        const chunk = Buffer.alloc(4096, 1);
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
    },
    free: () => rmSync(filler, { force: true }),
    unmount: () => execFileSync('umount', ['-l', dir]),
  };
  disk.fill();
  return disk;
}

/** An empty file at `path` (a regular file, root's, one link) whose every write fails with ENOSPC: a full tmpfs's file bound over it. */
export function fullFile(path: string): { unmount(): void } {
  const mnt = mkdtempSync(join(tmpdir(), 'outheis-full-'));
  const src = join(mnt, 'file');
  mkdirSync(mnt, { recursive: true });
  const disk = fullDisk(mnt);
  writeFileSync(src, '');
  writeFileSync(path, '', { mode: 0o600 });
  execFileSync('mount', ['--bind', src, path]);
  return {
    unmount() {
      execFileSync('umount', ['-l', path]);
      disk.unmount();
      rmSync(mnt, { recursive: true, force: true });
    },
  };
}
