// /proc/<pid>/stat, read through one small reused buffer. readFileSync would do,
// but a /proc file says its size is 0, so it reads into a fresh 64 KiB buffer each
// time: a pass over every process for each agent that becomes ready (findSandboxedNode)
// is thousands of those between two collections, and glibc's heap keeps the high-water
// mark for good. With 100 agents that was 15 MB of the supervisor's RSS, about 170 KB
// per agent (bench/footprint.ts; README "Footprint").
import { closeSync, openSync, readSync } from 'node:fs';

// A stat line is a few hundred bytes (comm is at most 16); a longer one is read on in a loop.
const buf = Buffer.allocUnsafeSlow(1024);

/** The fields of /proc/<pid>/stat after `(comm)`: [0] is the state, [1] the ppid, [11] utime, [12] stime. Throws when the process is gone. */
export function statFields(pid: number | string): string[] {
  const fd = openSync(`/proc/${pid}/stat`, 'r');
  let text = '';
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      text += buf.toString('latin1', 0, n);
    }
  } finally {
    closeSync(fd);
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}
