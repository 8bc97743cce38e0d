// The import rule of DESIGN's layout, as data, and a reader of the imports that break
// it. Folders are layers; a file may import its own folder and the layers listed for
// it, nothing else:
//   cli → supervisor → {policies, logs, cluster} → protocol,   workers → protocol.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

export const MAY_IMPORT: Record<string, readonly string[]> = {
  protocol: [],
  workers: ['protocol'],
  logs: ['protocol'],
  policies: ['protocol'],
  cluster: ['protocol'],
  supervisor: ['policies', 'logs', 'cluster', 'protocol'],
  cli: ['supervisor', 'policies', 'logs', 'cluster', 'protocol'],
};

export interface WrongWay {
  file: string;
  line: number;
  target: string;
  why: string;
}

// Static imports and re-exports (`from '…'`, also `import type`), side-effect imports
// and dynamic `import('…')`: a type-only import is still a dependency of the design.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm;

function* sources(dir: string): Iterable<string> {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (/\.(?:ts|mts|js|mjs|cjs)$/.test(entry) && !entry.endsWith('.d.ts')) yield path;
  }
}

/** Every relative import under `root`'s layer folders that runs the wrong way. */
export function wrongWayImports(root: string): WrongWay[] {
  const found: WrongWay[] = [];
  for (const layer of Object.keys(MAY_IMPORT)) {
    if (!existsSync(join(root, layer))) continue; // a layer not built yet (cluster/) imports nothing
    for (const file of sources(join(root, layer))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(SPECIFIER)) {
        const target = relative(root, normalize(join(dirname(file), m[2]!)));
        const to = target.split(sep)[0]!;
        if (to === layer || MAY_IMPORT[layer]!.includes(to)) continue;
        const line = text.slice(0, m.index).split('\n').length;
        const why = to in MAY_IMPORT ? `${layer}/ may import only ${[layer, ...MAY_IMPORT[layer]!].join(', ')}` : `${target} is outside every layer`;
        found.push({ file: relative(root, file), line, target, why });
      }
    }
  }
  return found;
}
