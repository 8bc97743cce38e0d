// Close what this process inherited without close-on-exec. Node opens its own fds
// with O_CLOEXEC and marks fds 0-15 close-on-exec at start-up, but a stray higher
// descriptor from whoever started the supervisor (a shell's `exec 100<file`, a
// leaky service manager) would otherwise pass straight through to every agent:
// the channel on fd 3 must be the only fd an agent inherits.
import { closeSync, readFileSync, readdirSync } from 'node:fs';

const O_CLOEXEC = 0o2000000;

export function closeInheritedFds(keep: ReadonlySet<number> = new Set()): number[] {
  const closed: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc/self/fdinfo');
  } catch {
    return closed; // no procfs: nothing we can inspect
  }
  for (const entry of entries) {
    const fd = Number(entry);
    if (!(fd > 2) || keep.has(fd)) continue;
    try {
      const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
      const flags = /^flags:\s*([0-7]+)/m.exec(info);
      if (flags && (parseInt(flags[1]!, 8) & O_CLOEXEC) === 0) {
        closeSync(fd);
        closed.push(fd);
      }
    } catch {
      // The fd was the directory handle itself, or closed meanwhile.
    }
  }
  return closed;
}
