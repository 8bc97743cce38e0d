// `cluster:` in the config: what is accepted and refused (each at its key), and that a
// supervisor without it never loads the NATS client (only a dynamic import reaches it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, parseConfig } from '../supervisor/config/index.js';
import { ROOT } from './helpers/harness.js';
import { renderCluster } from '../cli/render/status.js';
import { createPaint } from '../cli/render/color.js';
import type { StatusResult } from '../supervisor/control/protocol.js';

const NOW = 1_700_000_000_000;

const FILE = '/srv/outheis/outheis.yaml';
const base = { agents: { notes: { run: 'notes.js', pledge: ['send:archive'] } } };

function issues(raw: unknown): { path: string; message: string }[] {
  try {
    parseConfig(raw, FILE);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues;
  }
  return assert.fail('expected a ConfigError');
}

test('a cluster config: remote agents may be pledged by name, defaults filled in, creds resolved against the file', () => {
  const c = parseConfig({ ...base, cluster: { nats: 'nats://127.0.0.1:4222', host: 'h1', agents: { archive: 'h2' }, creds: 'nats.creds' } }, FILE);
  assert.deepEqual(c.cluster, { nats: 'nats://127.0.0.1:4222', host: 'h1', agents: { archive: 'h2' }, creds: '/srv/outheis/nats.creds', stream: 'OUTHEIS', owedMax: 100_000 });
  assert.equal(parseConfig({ agents: { a: { run: 'a.js' } } }, FILE).cluster, undefined);
});

test('without the remote agent in cluster.agents, send:archive is a send to an unknown agent', () => {
  const found = issues({ ...base, cluster: { nats: 'nats://127.0.0.1:4222', host: 'h1' } });
  assert.deepEqual(found.map((i) => i.path), ['agents.notes.pledge.0']);
});

test('cluster keys are checked at their paths: a local name used as a remote one, this host as a remote host, bad names, unknown keys, inline secrets', () => {
  const found = issues({
    agents: { notes: { run: 'notes.js' } },
    cluster: { nats: 'localhost:4222', host: 'H1', agents: { notes: 'h2', mine: 'h1' }, password: 'x' },
  });
  const paths = found.map((i) => i.path).sort();
  assert.ok(paths.includes('cluster.nats'), JSON.stringify(found));
  assert.ok(paths.includes('cluster.host'), JSON.stringify(found));
  assert.ok(paths.some((p) => p.startsWith('cluster') && found.find((i) => i.path === p)!.message.includes('password')), JSON.stringify(found));
  const clash = issues({ ...base, cluster: { nats: 'nats://127.0.0.1:4222', host: 'h1', agents: { notes: 'h2', archive: 'h1' } } });
  assert.match(clash.find((i) => i.path === 'cluster.agents.notes')?.message ?? '', /defined here too/);
  assert.match(clash.find((i) => i.path === 'cluster.agents.archive')?.message ?? '', /is this supervisor/);
});

/** Every module the CLI's entry reaches by static imports (dynamic `import()` is not followed). */
function staticGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'|^import\s+'([^']+)'/gm)) {
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else seen.add(spec);
    }
  };
  visit(entry);
  return seen;
}

test('nothing the CLI or the supervisor loads statically reaches NATS or cluster/: only a config with cluster: does, by import()', () => {
  // The CLI, the supervisor process it starts (by import()), and the package's export for embedders.
  const graph = ['cli/main.js', 'supervisor/main.js', 'supervisor/index.js'].flatMap((f) => [...staticGraph(join(ROOT, 'dist', f))]);
  assert.ok(graph.some((f) => f.endsWith('supervisor/supervisor.js')), 'the walk reached the supervisor');
  assert.deepEqual(graph.filter((f) => f.startsWith('@nats-io') || f.includes('/dist/cluster/') || f.includes('/supervisor/remote/index.js')), []);
});

test('status renders the cluster: connected or, in capitals, unreachable with its last error; what is owed per host and agent; nothing without cluster:', () => {
  const base = { supervisor: {} as StatusResult['supervisor'], agents: [] };
  const cluster = { host: 'h1', connected: true, server: '127.0.0.1:4222', since: NOW - 90_000, lastError: null, peers: ['h2', 'h3'], pending: 3, ackPending: 1,
    owed: [{ agent: 'archive', host: 'h2', owed: 0 }, { agent: 'sink', host: 'h2', owed: 2 }, { agent: 'tally', host: 'h3', owed: 1 }] };
  const opts = { now: NOW, paint: createPaint(false) };
  assert.deepEqual(renderCluster(base, opts), []);
  const up = renderCluster({ ...base, cluster }, opts);
  assert.equal(up[1], 'cluster h1: connected to 127.0.0.1:4222 for 1m30s · peers h2,h3 · owed 3 · lag 3 (unacked 1)');
  assert.deepEqual(up.slice(2), ['  to h2: 2 messages owed (archive 0, sink 2)', '  to h3: 1 message owed (tally 1)']);
  const down = renderCluster({ ...base, cluster: { ...cluster, connected: false, server: null, lastError: 'disconnected from 127.0.0.1:4222', peers: [] } }, opts);
  assert.match(down[1]!, /^cluster h1: NATS UNREACHABLE for 1m30s \(disconnected from 127\.0\.0\.1:4222\) · peers none seen · owed 3/);
});
