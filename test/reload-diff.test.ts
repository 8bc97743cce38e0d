// The difference a reload applies, computed from two configs: what restarts, what
// applies in place, what cannot change while the supervisor runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../supervisor/config/index.js';
import { diffConfigs } from '../supervisor/reload/diff.js';

const FILE = '/srv/outheis/outheis.yaml';
const cfg = (raw: Record<string, unknown>) => parseConfig(raw, FILE);
const base = {
  groups: { g: { strategy: 'one_for_one' } },
  agents: {
    a: { run: 'a.js' },
    b: { run: 'b.js', group: 'g' },
    c: { run: 'c.js', group: 'g' },
    d: { run: 'd.js', after: ['a'] },
  },
};
const edit = (f: (raw: typeof base & Record<string, unknown>) => void) => {
  const raw = structuredClone(base) as typeof base & Record<string, unknown>;
  f(raw);
  return cfg(raw);
};

test('the same file: nothing to do', () => {
  const d = diffConfigs(cfg(base), cfg(base));
  assert.deepEqual([d.added, d.removed, d.restarted, d.rebuilt, d.inPlace, d.notApplied], [[], [], [], [], [], []]);
});

test('added, removed and changed agents; the changed keys named as in the file', () => {
  const next = edit((r) => {
    delete (r.agents as Record<string, unknown>).d;
    (r.agents as Record<string, unknown>).e = { run: 'e.js' };
    (r.agents.a as Record<string, unknown>).qos = 'background';
    (r.agents.c as Record<string, unknown>).start_timeout = '20s';
  });
  const d = diffConfigs(cfg(base), next);
  assert.deepEqual(d.added, ['e']);
  assert.deepEqual(d.removed, ['d']);
  assert.deepEqual(d.changed, [{ agent: 'a', keys: ['qos'] }, { agent: 'c', keys: ['start_timeout'] }]);
  assert.deepEqual(d.restarted, ['a', 'c']);
});

test('a group whose strategy changed is rebuilt: its agents restart; its intensity alone applies in place', () => {
  const rebuilt = diffConfigs(cfg(base), edit((r) => (r.groups.g.strategy = 'rest_for_one')));
  assert.deepEqual(rebuilt.rebuilt, ['g']);
  assert.deepEqual(rebuilt.restarted, ['b', 'c']);
  assert.deepEqual(rebuilt.changed, []);
  const inPlace = diffConfigs(cfg(base), edit((r) => ((r.groups.g as Record<string, unknown>).intensity = 9)));
  assert.deepEqual(inPlace.restarted, [], 'an agent whose inherited start limit moved is not restarted');
  assert.ok(inPlace.inPlace.includes('groups.g.intensity'), inPlace.inPlace.join());
  assert.ok(inPlace.inPlace.includes('agents.b.start_limit'), inPlace.inPlace.join());
});

test('the root\'s strategy changes in place; moving an agent in the order restarts it; env values read differently restart it', () => {
  const root = diffConfigs(cfg(base), edit((r) => (r.supervisor = { strategy: 'one_for_all' })));
  assert.deepEqual(root.inPlace, ['supervisor.strategy']);
  assert.deepEqual(root.restarted, []);
  const moved = diffConfigs(cfg(base), edit((r) => {
    (r.agents.d as Record<string, unknown>).after = [];
    (r.agents.a as Record<string, unknown>).after = ['d'];
  }));
  // a now waits for d: it moves to the end of the start order; b and c keep their places.
  assert.deepEqual(moved.changed, [{ agent: 'd', keys: ['after'] }, { agent: 'a', keys: ['after', 'position'] }]);
  const env = diffConfigs(cfg(base), cfg(base), (n) => n === 'b');
  assert.deepEqual(env.changed, [{ agent: 'b', keys: ['env_file (its values)'] }]);
});

test('cluster: added, removed or changed is reported as not applied (it needs a restart), each changed key as in the file', () => {
  const cluster = { nats: 'nats://127.0.0.1:4222', host: 'h1', agents: { archive: 'h2' } };
  const withCluster = edit((r) => { r.cluster = cluster; });
  assert.deepEqual(diffConfigs(cfg(base), withCluster).notApplied.map((s) => s.key), ['cluster']);
  assert.deepEqual(diffConfigs(withCluster, cfg(base)).notApplied.map((s) => [s.key, s.file]), [['cluster', null]]);
  const d = diffConfigs(withCluster, edit((r) => { r.cluster = { ...cluster, nats: 'nats://10.0.0.2:4222', agents: { archive: 'h3' }, owed_max: 10 }; }));
  assert.deepEqual(d.notApplied.map((s) => s.key).sort(), ['cluster.agents', 'cluster.nats', 'cluster.owed_max']);
  assert.deepEqual(d.notApplied.find((s) => s.key === 'cluster.agents'), { key: 'cluster.agents', running: { archive: 'h2' }, file: { archive: 'h3' } });
  assert.deepEqual([d.restarted, d.inPlace], [[], []]);
});

test('state_dir and journal settings are reported as not applied, with both values', () => {
  const d = diffConfigs(cfg(base), edit((r) => {
    r.state_dir = 'elsewhere';
    r.journal = { fsync: 'always', max_attempts: 9 };
  }));
  assert.deepEqual(d.notApplied.map((s) => s.key).sort(), ['journal.fsync', 'journal.max_attempts', 'state_dir']);
  assert.deepEqual(d.notApplied.find((s) => s.key === 'journal.fsync'), { key: 'journal.fsync', running: 'batch', file: 'always' });
  assert.deepEqual(d.restarted, []);
});
