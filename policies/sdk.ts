// The SDK inside a sandbox: where its files are, where they are bound, and whether
// an agent's own uid can reach them at all.
import { chmodSync, cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PACKAGE_ROOT } from './package-root.js';

const requireHere = createRequire(import.meta.url);

/** What an agent needs of outheis to run: the SDK's files and msgpackr. Bound read-only. */
export function sdkPaths(forOthers = false): { real: string[]; mounts: [string, string][] } {
  const root = PACKAGE_ROOT.replace(/\/$/, '');
  // msgpackr's exports hide its package.json; its entry point lives in its package root or dist/.
  let msgpackr = dirname(requireHere.resolve('msgpackr'));
  while (!existsSync(join(msgpackr, 'package.json')) && msgpackr !== dirname(msgpackr)) msgpackr = dirname(msgpackr);
  const files: [string, string][] = [
    [join(root, 'package.json'), 'package.json'],
    [join(root, 'dist/workers'), 'dist/workers'],
    [join(root, 'dist/protocol'), 'dist/protocol'],
    [msgpackr, 'node_modules/msgpackr'],
  ];
  // bubblewrap runs as the agent's uid, so it must reach what it binds: an install
  // under /root is out of reach, and is then staged (once) to a world-readable copy.
  const source = forOthers && !files.every(([src]) => readableByOthers(src)) ? stagedCopies(files) : (src: string) => src;
  // At their real paths (for agents inside this package: self-reference) and as
  // /node_modules/outheis (for agents anywhere else: `import 'outheis/worker'` walks up to /).
  const mounts: [string, string][] = [
    ...files.map(([src]) => [source(src), src] as [string, string]),
    ...files.slice(0, 3).map(([src, rel]) => [source(src), `/node_modules/outheis/${rel}`] as [string, string]),
    [source(msgpackr), '/node_modules/msgpackr'],
  ];
  return { real: files.map(([src]) => src), mounts };
}

/** Can a uid that is neither owner nor group read this path (every directory above it searchable)? */
export function readableByOthers(path: string): boolean {
  try {
    if ((statSync(path).mode & 0o004) === 0) return false;
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) return false;
      if (dir === dirname(dir)) return true;
    }
  } catch {
    return false;
  }
}

let stage: { dir: string; copies: Map<string, string> } | undefined;

/**
 * World-readable copies of `files` (source, and where under the stage it goes), in
 * one private root-owned directory (mkdtemp: nobody can plant one first), each
 * copied once: the SDK, and the bundled agents' packages (bundled.ts).
 */
export function stagedCopies(files: readonly (readonly [string, string])[]): (src: string) => string {
  if (!stage) {
    const dir = mkdtempSync(join(tmpdir(), 'outheis-sdk-'));
    chmodSync(dir, 0o755);
    stage = { dir, copies: new Map() };
    // The agents that read it are gone when the supervisor exits.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const { dir, copies } = stage;
  for (const [src, rel] of files) {
    if (copies.has(src)) continue;
    const dst = join(dir, rel);
    cpSync(src, dst, { recursive: true });
    openUp(dst);
    for (let d = dirname(dst); d !== dir && d.startsWith(dir); d = dirname(d)) chmodSync(d, 0o755);
    copies.set(src, dst);
  }
  return (src) => copies.get(src) ?? src;
}

/** Symlinks are left alone: cpSync makes their targets absolute, so following one would chmod the original. */
function openUp(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  chmodSync(path, st.isDirectory() ? 0o755 : 0o644);
  if (st.isDirectory()) for (const entry of readdirSync(path)) openUp(join(path, entry));
}
