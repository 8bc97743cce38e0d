// Imports run one way (DESIGN, "Layout"). The check reads the sources, so a type-only
// import that runs the wrong way fails it too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/harness.js';
import { MAY_IMPORT, wrongWayImports } from './helpers/layers.js';
import { scratchDirs } from './helpers/scratch.js';

const tempDir = scratchDirs('outheis-layers-');

test('every import in the source tree runs the way the layout draws', () => {
  const wrong = wrongWayImports(ROOT);
  assert.deepEqual(wrong.map((w) => `${w.file}:${w.line} → ${w.target} (${w.why})`), []);
});

test('a planted wrong-way import is reported with its file, line and rule', () => {
  const copy = tempDir();
  for (const layer of Object.keys(MAY_IMPORT)) {
    if (existsSync(join(ROOT, layer))) cpSync(join(ROOT, layer), join(copy, layer), { recursive: true });
  }
  assert.deepEqual(wrongWayImports(copy), [], 'the copy starts clean');
  writeFileSync(join(copy, 'protocol/planted.ts'), "// planted\nimport type { Config } from '../supervisor/config/index.js';\nexport type X = Config;\n");
  writeFileSync(join(copy, 'logs/planted.ts'), "\n\nconst m = await import('../cli/main.js');\n");
  const wrong = wrongWayImports(copy);
  assert.deepEqual(
    wrong.map((w) => [w.file, w.line, w.target]).sort(),
    [
      ['logs/planted.ts', 3, 'cli/main.js'],
      ['protocol/planted.ts', 2, 'supervisor/config/index.js'],
    ],
  );
  assert.match(wrong.find((w) => w.file === 'protocol/planted.ts')!.why, /protocol\/ may import only protocol/);
});
