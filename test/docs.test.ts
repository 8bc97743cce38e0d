// docs/config.md is the configuration reference the README points to. It is checked
// against the schema itself, in both directions, so a key added to the schema without
// a line in the reference (or a key documented that no longer exists) fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { configSchema } from '../supervisor/config/schema.js';
import { ROOT } from './helpers/harness.js';

type JsonSchema = { properties?: Record<string, JsonSchema>; additionalProperties?: unknown; items?: unknown; anyOf?: JsonSchema[]; allOf?: JsonSchema[]; oneOf?: JsonSchema[] };

/** Every key path the schema accepts, with a record's names written as the reference writes them. */
export function schemaKeys(): string[] {
  const js = z.toJSONSchema(configSchema({ file: '/x/outheis.yaml', dir: '/x' }), { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const keys = new Set<string>();
  const placeholder: Record<string, string> = { groups: '<group>', agents: '<agent>' };
  const walk = (s: JsonSchema | undefined, path: string[]) => {
    if (!s || typeof s !== 'object') return;
    for (const alt of [...(s.anyOf ?? []), ...(s.allOf ?? []), ...(s.oneOf ?? [])]) walk(alt, path);
    for (const [k, v] of Object.entries(s.properties ?? {})) {
      keys.add([...path, k].join('.'));
      walk(v, [...path, k]);
    }
    if (s.additionalProperties && typeof s.additionalProperties === 'object') walk(s.additionalProperties as JsonSchema, [...path, placeholder[path.join('.')] ?? '<name>']);
  };
  walk(js, []);
  return [...keys].sort();
}

/** The keys the reference documents: the backquoted names in the first column of its tables. */
export function documentedKeys(markdown: string): string[] {
  const keys = new Set<string>();
  for (const line of markdown.split('\n')) {
    const first = /^\|([^|]*)\|/.exec(line)?.[1];
    if (!first) continue;
    for (const m of first.matchAll(/`([a-z_][\w.<>-]*)`/g)) keys.add(m[1]!);
  }
  keys.delete('key');
  return [...keys].sort();
}

const reference = () => readFileSync(join(ROOT, 'docs/config.md'), 'utf8');

test('every key of the config schema is in docs/config.md, and nothing else is', () => {
  const schema = schemaKeys();
  const documented = documentedKeys(reference());
  assert.ok(schema.length > 40, `the schema walk found ${schema.length} keys`);
  assert.deepEqual(schema.filter((k) => !documented.includes(k)), [], 'keys the reference does not document');
  assert.deepEqual(documented.filter((k) => !schema.includes(k)), [], 'keys the reference documents that the schema does not have');
});

test('the check fails on a key missing from the reference and on a stale one', () => {
  const text = reference();
  const without = text.replace(/^\| `agents\.<agent>\.heartbeat` \|.*$/m, '');
  assert.notEqual(without, text, 'the heartbeat row was found');
  assert.ok(!documentedKeys(without).includes('agents.<agent>.heartbeat'));
  assert.ok(schemaKeys().includes('agents.<agent>.heartbeat'));
  const stale = documentedKeys(text + '\n| `agents.<agent>.colour` | none | a key that does not exist |\n');
  assert.ok(stale.includes('agents.<agent>.colour') && !schemaKeys().includes('agents.<agent>.colour'));
});
