// Where the outheis package is installed. Its files beside the compiled code (the probe
// script, the sample vault, package.json, the SDK the sandboxes bind) are found from
// here. Found by walking up to outheis's package.json rather than by a fixed `../..`,
// because the CLI runs as a bundle (dist/cli/main.js and its chunks), where every
// module's import.meta.url is the bundle's, not its own file's.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Manifest { name?: string; version?: string }

function findPackage(from: string): { root: string; manifest: Manifest } {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
      if (manifest.name === 'outheis') return { root: dir, manifest };
    } catch {
      // no package.json here, or not JSON: keep walking up
    }
    if (dirname(dir) === dir) throw new Error(`outheis: no package.json of outheis above ${from}`);
  }
}

const found = findPackage(dirname(fileURLToPath(import.meta.url)));

/** The package's directory (no trailing slash). */
export const PACKAGE_ROOT = found.root;
/** The package's version, from its package.json. */
export const PACKAGE_VERSION = String(found.manifest.version);
