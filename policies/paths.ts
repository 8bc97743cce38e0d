// Two path facts the policies ask everywhere: whether a path lies in a directory,
// and what a path really is when it may not exist (yet).
import { realpathSync } from 'node:fs';
import { sep } from 'node:path';

/** `p` is `dir` or inside it (by name: resolve both first where links matter). */
export const under = (p: string, dir: string): boolean => p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** The real path, or `p` as given when it cannot be resolved. */
export function realOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
