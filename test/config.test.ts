// The config's rules, one test per rule (defaults, units, every cross-check, key paths
// and line numbers in errors). Long because it is the whole table of rules, with the
// fixtures they share; split by rule, the shared fixtures would be repeated.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ConfigError,
  durationSchema,
  findConfigFile,
  formatConfigIssues,
  loadConfig,
  parseConfig,
  parseDuration,
  parsePercent,
  parseSize,
  percentSchema,
  sizeSchema,
  type AgentConfig,
  type Config,
  type ConfigIssue,
  type GroupConfig,
  type Qos,
  type RestartType,
  type Strategy,
} from '../supervisor/config/index.js';

// Compile-time: the derived types have the shape the rest of the supervisor is written against.
type Expected = {
  file: string;
  dir: string;
  stateDir: string;
  journal: { fsync: 'always' | 'batch' | 'interval' | 'none'; interval: number; maxAttempts: number; retain: number; maxSize: number; segmentSize: number };
  logs: { maxSize: number; keep: number; maxLine: number };
  metrics: { interval: number };
  supervisor: { strategy: Strategy; intensity: number; period: number; backoff: { initial: number; max: number; reset: number } };
  groups: Record<string, GroupConfig & { group?: string | undefined }>;
  agents: Record<string, {
    name: string; run: string; args: string[]; group?: string | undefined; after: string[]; restart: RestartType; qos: Qos;
    owns: string[]; unveil: Record<string, 'r' | 'rw'>; unveilResolved: { path: string; mode: 'r' | 'rw'; key: string }[];
    pledge: string[]; env: string[];
    limits: { memory?: number | undefined; nofile?: number | undefined; nproc?: number | undefined; cpu?: number | undefined; frame: number; mailbox: number };
    heartbeat: number; shutdown: number; startTimeout: number; user?: string | undefined;
  }>;
  order: string[];
};
const _shape: (c: Config) => Expected = (c) => c;
const _agent: (a: AgentConfig) => Expected['agents'][string] = (a) => a;
void _shape;
void _agent;

const DIR = '/srv/outheis';
const FILE = path.join(DIR, 'outheis.yaml');

function issuesOf(fn: () => unknown): ConfigIssue[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.message, formatConfigIssues(err.issues));
    return err.issues;
  }
  return assert.fail('expected a ConfigError');
}
const issuesFor = (raw: unknown) => issuesOf(() => parseConfig(raw, FILE));
const paths = (issues: ConfigIssue[]) => issues.map((i) => i.path);
function issueAt(issues: ConfigIssue[], p: string): ConfigIssue {
  const found = issues.find((i) => i.path === p);
  assert.ok(found, `no issue at ${p}; got:\n${formatConfigIssues(issues)}`);
  return found;
}

const tmpRoots: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'outheis-config-'));
  tmpRoots.push(d);
  return d;
}
after(() => {
  for (const d of tmpRoots) fs.rmSync(d, { recursive: true, force: true });
});

describe('units', () => {
  test('durations parse to milliseconds', () => {
    assert.equal(parseDuration('100ms'), 100);
    assert.equal(parseDuration('5s'), 5000);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration(0), 0);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('0.1s'), 100);
  });

  test('bad durations are refused with what was received and what was expected', () => {
    assert.throws(() => parseDuration('5 sec'), { message: 'expected a duration like "100ms", "5s" or "2m", got "5 sec"' });
    for (const bad of ['5', '-1s', '', '5S', '1d', 's', '1.5ms', '1000h']) {
      assert.throws(() => parseDuration(bad), RangeError, `should refuse ${JSON.stringify(bad)}`);
    }
    assert.throws(() => parseDuration(5), /got 5 \(a bare number has no unit/);
  });

  test('sizes parse to bytes, binary and decimal', () => {
    assert.equal(parseSize('256MiB'), 256 * 1024 * 1024);
    assert.equal(parseSize('1GiB'), 1024 ** 3);
    assert.equal(parseSize('512KiB'), 512 * 1024);
    assert.equal(parseSize('100B'), 100);
    assert.equal(parseSize('1KB'), 1000);
    assert.equal(parseSize('2MB'), 2_000_000);
    assert.equal(parseSize('1GB'), 1_000_000_000);
    assert.equal(parseSize('1.5KiB'), 1536);
  });

  test('bad sizes are refused', () => {
    assert.throws(() => parseSize('256M'), { message: 'expected a size like "512KiB", "256MiB" or "1GiB", got "256M"' });
    for (const bad of ['', 'MiB', '-1MiB', '1.5B', '256 MiB', '1mib']) {
      assert.throws(() => parseSize(bad), RangeError, `should refuse ${JSON.stringify(bad)}`);
    }
  });

  test('percentages parse to fractions of a core', () => {
    assert.equal(parsePercent('50%'), 0.5);
    assert.equal(parsePercent('150%'), 1.5);
    assert.equal(parsePercent('0%'), 0);
    assert.throws(() => parsePercent('50'), /expected a percentage like "50%" or "150%" \(1.5 cores\), got "50"/);
    assert.throws(() => parsePercent('-5%'), RangeError);
  });

  test('schemas transform strings and refuse bare numbers (except a 0 duration)', () => {
    assert.equal(durationSchema.parse('2m'), 120_000);
    assert.equal(durationSchema.parse(0), 0);
    assert.equal(sizeSchema.parse('1MiB'), 1_048_576);
    assert.equal(percentSchema.parse('25%'), 0.25);

    const d = durationSchema.safeParse(5000);
    assert.equal(d.success, false);
    assert.match(d.error!.issues[0]!.message, /^expected a duration like "100ms", "5s" or "2m", got 5000/);
    const s = sizeSchema.safeParse(0);
    assert.equal(s.success, false);
    assert.match(s.error!.issues[0]!.message, /^expected a size like .* got 0/);
    assert.equal(percentSchema.safeParse(0.5).success, false);
    assert.equal(durationSchema.safeParse(true).success, false);
  });
});

describe('defaults and resolution', () => {
  test('a minimal config gets every default', () => {
    const c = parseConfig({ agents: { a: { run: 'a.js' } } }, FILE);
    assert.equal(c.file, FILE);
    assert.equal(c.dir, DIR);
    assert.equal(c.stateDir, path.join(DIR, '.outheis'));
    assert.deepEqual(c.journal, { fsync: 'batch', interval: 100, maxAttempts: 5, retain: 86_400_000, maxSize: 1024 ** 3, segmentSize: 64 * 1024 ** 2 });
    assert.deepEqual(c.logs, { maxSize: 10 * 1024 * 1024, keep: 5, maxLine: 64 * 1024 });
    assert.deepEqual(c.metrics, { interval: 2000 });
    assert.deepEqual(c.supervisor, { strategy: 'one_for_one', intensity: 5, period: 30_000, escalate: false, backoff: { initial: 100, max: 15_000, reset: 30_000 } });
    assert.deepEqual(c.groups, {});
    assert.deepEqual(c.order, ['a']);
    assert.deepEqual(c.agents.a, {
      name: 'a',
      run: path.join(DIR, 'a.js'),
      args: [],
      after: [],
      restart: 'permanent',
      qos: 'user',
      owns: [],
      unveil: {},
      unveilResolved: [],
      pledge: [],
      env: [],
      limits: { frame: 1_048_576, mailbox: 10_000 },
      heartbeat: 5000,
      shutdown: 5000,
      startTimeout: 10_000,
      startLimit: { burst: 5, interval: 30_000 },
    });
  });

  test('groups inherit the root\'s backoff; reset defaults to the group\'s own period, and an explicit one wins', () => {
    const c = parseConfig(
      {
        supervisor: { period: '1m', backoff: { initial: '1s' } },
        groups: { core: { strategy: 'rest_for_one', intensity: 3, period: '10s' }, io: { group: 'core', backoff: { reset: '2s' } } },
        agents: { a: { run: 'a.js', group: 'io' } },
      },
      FILE,
    );
    assert.deepEqual(c.supervisor.backoff, { initial: 1000, max: 15_000, reset: 60_000 });
    assert.deepEqual(c.groups.core, {
      strategy: 'rest_for_one', intensity: 3, period: 10_000, escalate: true, backoff: { initial: 1000, max: 15_000, reset: 10_000 },
      startLimit: { burst: 5, interval: 60_000 },
    });
    assert.equal(c.groups.io!.group, 'core');
    assert.equal(c.groups.io!.backoff.reset, 2000);
    assert.equal(c.groups.io!.period, 30_000);
    assert.equal(c.agents.a!.group, 'io');
  });

  test('paths resolve against the config file\'s directory; unveil keeps the keys as written', () => {
    const c = parseConfig(
      {
        state_dir: '/var/lib/outheis',
        agents: {
          a: { run: './bin/a.js', owns: ['vault', '/abs/x/'], unveil: { vault: 'rw', '../shared': 'r', '/etc/ssl': 'r' } },
        },
      },
      FILE,
    );
    const a = c.agents.a!;
    assert.equal(c.stateDir, '/var/lib/outheis');
    assert.equal(a.run, path.join(DIR, 'bin/a.js'));
    assert.deepEqual(a.owns, [path.join(DIR, 'vault'), '/abs/x']);
    assert.deepEqual(a.unveil, { vault: 'rw', '../shared': 'r', '/etc/ssl': 'r' });
    assert.deepEqual(a.unveilResolved, [
      { path: path.join(DIR, 'vault'), mode: 'rw', key: 'vault' },
      { path: '/srv/shared', mode: 'r', key: '../shared' },
      { path: '/etc/ssl', mode: 'r', key: '/etc/ssl' },
    ]);
  });

  test('every agent key is accepted and converted', () => {
    const c = parseConfig(
      {
        journal: { fsync: 'always' },
        agents: {
          relay: { run: 'relay.js' },
          data: {
            run: 'data.js',
            args: ['--x', '1'],
            after: ['relay', 'relay'],
            restart: 'transient',
            qos: 'background',
            pledge: ['send:relay', 'net', 'send:relay', 'send:*', 'spawn', 'worker', 'addons'],
            env: ['TZ', 'LANG', 'TZ'],
            limits: { memory: '256MiB', nofile: 256, nproc: 16, cpu: '50%', frame: '64KiB', mailbox: 100 },
            heartbeat: 0,
            shutdown: '2s',
            start_timeout: '1m',
            user: 'auto',
          },
        },
      },
      FILE,
    );
    const d = c.agents.data!;
    assert.equal(c.journal.fsync, 'always');
    assert.deepEqual(d.args, ['--x', '1']);
    assert.deepEqual(d.after, ['relay']);
    assert.equal(d.restart, 'transient');
    assert.equal(d.qos, 'background');
    // Pledging the same thing twice is fine; it is deduplicated.
    assert.deepEqual(d.pledge, ['send:relay', 'net', 'send:*', 'spawn', 'worker', 'addons']);
    assert.deepEqual(d.env, ['TZ', 'LANG']);
    assert.deepEqual(d.limits, { memory: 268_435_456, nofile: 256, nproc: 16, cpu: 0.5, frame: 65_536, mailbox: 100 });
    assert.equal(d.heartbeat, 0);
    assert.equal(d.shutdown, 2000);
    assert.equal(d.startTimeout, 60_000);
    assert.equal(d.user, 'auto');
  });

  test('field-level validation: enums, integers, names, pledges, env, user', () => {
    const issues = issuesFor({
      journal: { fsync: 'sometimes', max_attempts: 0, segment_size: '1KiB', retain: 3 },
      supervisor: { strategy: 'one_for_none', intensity: -1, period: '0s' },
      agents: {
        a: {
          run: 'a.js',
          restart: 'always',
          qos: 'realtime',
          pledge: ['fly', 'send:', 'send:bad name'],
          env: ['1X', 'A-B'],
          limits: { nofile: 0, nproc: 1.5, cpu: '0%', memory: 256, frame: '32MiB' },
          args: [1],
          start_timeout: '0',
          user: 'no body',
        },
        b: {},
      },
    });
    assert.equal(issueAt(issues, 'journal.fsync').message, 'expected one of "always", "batch", "interval", "none", got "sometimes"');
    assert.match(issueAt(issues, 'journal.max_attempts').message, /at least 1, got 0/);
    assert.equal(issueAt(issues, 'journal.segment_size').message, 'expected a segment size of at least 64KiB');
    assert.match(issueAt(issues, 'journal.retain').message, /bare number has no unit/);
    // Retention needs room for a tail and one segment more.
    const small = issuesFor({ journal: { max_size: '1MiB' }, agents: { a: { run: 'a.js' } } });
    assert.match(issueAt(small, 'journal.max_size').message, /at least two segments' worth \(2 × segment_size = 134217728 bytes\)/);
    issueAt(issues, 'supervisor.strategy');
    assert.match(issueAt(issues, 'supervisor.intensity').message, /at least 0, got -1/);
    assert.equal(issueAt(issues, 'supervisor.period').message, 'expected a period greater than 0, got 0');
    issueAt(issues, 'agents.a.restart');
    issueAt(issues, 'agents.a.qos');
    for (const p of ['agents.a.pledge.0', 'agents.a.pledge.1', 'agents.a.pledge.2', 'agents.a.env.0', 'agents.a.env.1']) issueAt(issues, p);
    issueAt(issues, 'agents.a.limits.nofile');
    assert.match(issueAt(issues, 'agents.a.limits.nproc').message, /expected an integer, got 1.5/);
    issueAt(issues, 'agents.a.limits.cpu');
    assert.match(issueAt(issues, 'agents.a.limits.memory').message, /got 256 \(a bare number/);
    assert.equal(issueAt(issues, 'agents.a.limits.frame').message, 'expected a frame size of at most 16MiB (one message is one journal record)');
    assert.equal(issueAt(issues, 'agents.a.args.0').message, 'expected a string, got 1');
    issueAt(issues, 'agents.a.start_timeout');
    issueAt(issues, 'agents.a.user');
    assert.equal(issueAt(issues, 'agents.b.run').message, 'required: expected a string');
  });

  test('backoff.max may not be below backoff.initial', () => {
    const issues = issuesFor({ supervisor: { backoff: { initial: '10s', max: '1s' } }, groups: { g: { backoff: { initial: '20s' } } }, agents: { a: { run: 'a.js' } } });
    assert.deepEqual(paths(issues), ['supervisor.backoff.max', 'groups.g.backoff.max']);
    assert.match(issues[0]!.message, /backoff.max \(1000ms\) to be at least backoff.initial \(10000ms\)/);
  });

  test('agent and group names are checked, and operator/supervisor are reserved', () => {
    const issues = issuesFor({
      groups: { '9g': {} },
      agents: { operator: { run: 'a.js' }, supervisor: { run: 'b.js' }, 'has space': { run: 'c.js' }, ['x'.repeat(64)]: { run: 'd.js' }, ok_name: { run: 'e.js' } },
    });
    assert.match(issueAt(issues, 'agents.operator').message, /reserved/);
    assert.match(issueAt(issues, 'agents.supervisor').message, /reserved/);
    assert.match(issueAt(issues, 'agents["has space"]').message, /invalid agent name "has space"/);
    issueAt(issues, `agents.${'x'.repeat(64)}`);
    assert.match(issueAt(issues, 'groups.9g').message, /invalid group name/);
    assert.ok(!paths(issues).some((p) => p.includes('ok_name')));
    // 63 characters is the longest allowed name.
    assert.doesNotThrow(() => parseConfig({ agents: { ['x'.repeat(63)]: { run: 'a.js' } } }, FILE));
  });

  test('the top level must be a map with agents', () => {
    assert.deepEqual(paths(issuesFor({})), ['agents']);
    assert.match(issuesFor([])[0]!.message, /top level, got a list/);
    assert.match(issuesFor(null)[0]!.message, /empty/);
  });
});

describe('unknown keys', () => {
  test('are rejected at every depth with their path', () => {
    const issues = issuesFor({
      bogus: 1,
      journal: { mode: 'x' },
      supervisor: { strategie: 'one_for_one', backoff: { jitter: '1s' } },
      groups: { g: { colour: 'red' } },
      agents: { a: { run: 'a.js', heartbaet: '1s', limits: { swap: '1GiB' } } },
    });
    assert.deepEqual(paths(issues).sort(), [
      'agents.a.heartbaet',
      'agents.a.limits.swap',
      'bogus',
      'groups.g.colour',
      'journal.mode',
      'supervisor.backoff.jitter',
      'supervisor.strategie',
    ]);
    assert.match(issueAt(issues, 'agents.a.heartbaet').message, /^unknown key "heartbaet"; did you mean "heartbeat"\?/);
    assert.match(issueAt(issues, 'bogus').message, /expected one of: state_dir, journal, logs, metrics, supervisor, groups, agents/);
  });
});

describe('cross-checks', () => {
  test('unknown group references', () => {
    const issues = issuesFor({ groups: { core: { group: 'nope' } }, agents: { a: { run: 'a.js', group: 'cor' } } });
    assert.deepEqual(paths(issues), ['groups.core.group', 'agents.a.group']);
    assert.match(issueAt(issues, 'agents.a.group').message, /unknown group "cor"; did you mean "core"\?/);
    assert.match(issueAt(issues, 'groups.core.group').message, /unknown group "nope"/);
  });

  test('group nesting cycles', () => {
    const issues = issuesFor({ groups: { a: { group: 'b' }, b: { group: 'a' }, c: { group: 'c' } }, agents: { x: { run: 'x.js' } } });
    assert.equal(issueAt(issues, 'groups.a.group').message, 'nesting cycle a -> b -> a; a group must end at the root supervisor');
    assert.match(issueAt(issues, 'groups.c.group').message, /nesting cycle c -> c/);
    assert.equal(issues.length, 2);
  });

  test('unknown agent in after', () => {
    const issues = issuesFor({ agents: { a: { run: 'a.js', after: ['b', 'ghost'] }, b: { run: 'b.js' } } });
    assert.deepEqual(paths(issues), ['agents.a.after.1']);
    assert.match(issues[0]!.message, /unknown agent "ghost"/);
  });

  test('after cycles name the cycle', () => {
    const two = issuesFor({ agents: { a: { run: 'a.js', after: ['b'] }, b: { run: 'b.js', after: ['a'] } } });
    assert.equal(formatConfigIssues(two), 'agents.a.after: dependency cycle a -> b -> a');

    const three = issuesFor({
      agents: { x: { run: 'x.js' }, b: { run: 'b.js', after: ['c'] }, c: { run: 'c.js', after: ['d', 'x'] }, d: { run: 'd.js', after: ['b'] } },
    });
    assert.deepEqual(three, [{ path: 'agents.b.after', message: 'dependency cycle b -> c -> d -> b' }]);

    const self = issuesFor({ agents: { a: { run: 'a.js', after: ['a'] } } });
    assert.deepEqual(self, [{ path: 'agents.a.after', message: 'dependency cycle a -> a' }]);
  });

  test('send:<agent> to an unknown agent', () => {
    const issues = issuesFor({ agents: { a: { run: 'a.js', pledge: ['net', 'send:ghost', 'send:b', 'send:*'] }, b: { run: 'b.js', pledge: ['send:operator'] } } });
    assert.deepEqual(paths(issues), ['agents.a.pledge.1', 'agents.b.pledge.0']);
    assert.match(issues[0]!.message, /unknown agent "ghost"/);
  });

  test('cross-check paths index the lists as written, before deduplication', () => {
    const issues = issuesFor({ agents: { a: { run: 'a.js', pledge: ['send:b', 'send:b', 'send:nobody'] }, b: { run: 'b.js' } } });
    assert.deepEqual(paths(issues), ['agents.a.pledge.2']);
  });

  test('two owners of the same path', () => {
    const issues = issuesFor({ agents: { x: { run: 'x.js', owns: ['vault'] }, y: { run: 'y.js', owns: ['./vault/'] } } });
    assert.deepEqual(paths(issues), ['agents.y.owns.0']);
    assert.match(issues[0]!.message, /already owned by agent x \(agents\.x\.owns\.0\)/);
  });

  test('two owners of nested paths, either way round', () => {
    const inside = issuesFor({ agents: { x: { run: 'x.js', owns: ['data', 'vault'] }, y: { run: 'y.js', owns: ['vault/notes'] } } });
    assert.deepEqual(paths(inside), ['agents.y.owns.0']);
    assert.match(inside[0]!.message, /"vault\/notes" is inside "vault", owned by agent x \(agents\.x\.owns\.1\)/);

    const contains = issuesFor({ agents: { x: { run: 'x.js', owns: ['/a/vault/notes'] }, y: { run: 'y.js', owns: ['/a'] } } });
    assert.deepEqual(paths(contains), ['agents.y.owns.0']);
    assert.match(contains[0]!.message, /contains "\/a\/vault\/notes", owned by agent x/);
  });

  test('overlap is by path segments, and one agent may own nested paths', () => {
    const c = parseConfig(
      { agents: { x: { run: 'x.js', owns: ['/a/vault', '/a/vault/sub'] }, y: { run: 'y.js', owns: ['/a/vault2'], unveil: { '/a/vault2': 'rw', '/a/vault': 'r' } } } },
      FILE,
    );
    assert.deepEqual(c.agents.y!.owns, ['/a/vault2']);
  });

  test('a non-owner may not unveil an owned path rw', () => {
    const issues = issuesFor({
      state_dir: '/var/lib/outheis',
      agents: {
        x: { run: 'x.js', owns: ['vault'], unveil: { vault: 'rw' } },
        y: { run: 'y.js', unveil: { vault: 'rw' } },
        z: { run: 'z.js', unveil: { 'vault/inbox': 'rw', vault: 'r' } },
        w: { run: 'w.js', unveil: { '.': 'rw' } },
        v: { run: 'v.js', unveil: { '../outheis': 'r' } },
      },
    });
    // w's rw on "." is refused twice: it contains x's vault, and the config file itself.
    assert.deepEqual(paths(issues), ['agents.y.unveil.vault', 'agents.z.unveil["vault/inbox"]', 'agents.w.unveil["."]', 'agents.w.unveil["."]']);
    assert.match(issueAt(issues, 'agents.y.unveil.vault').message, /owned by agent x/);
    const onW = issues.filter((i) => i.path === 'agents.w.unveil["."]').map((i) => i.message);
    assert.ok(onW.some((m) => /contains "vault", owned by agent x/.test(m)), onW.join('\n'));
    assert.ok(onW.some((m) => /holds the config file .*rewrite its own manifest/.test(m)), onW.join('\n'));
  });

  test('no agent may see or own the state directory', () => {
    const issues = issuesFor({
      state_dir: 'state',
      agents: { a: { run: 'a.js', unveil: { 'state/journal': 'r' } }, b: { run: 'b.js', owns: ['state'] }, c: { run: 'c.js', unveil: { '.': 'r' } } },
    });
    assert.deepEqual(paths(issues), ['agents.a.unveil["state/journal"]', 'agents.b.owns.0', 'agents.c.unveil["."]']);
    assert.match(issues[0]!.message, /state directory "state"/);
  });

  test('one agent unveiling one path under two keys', () => {
    const issues = issuesFor({ agents: { a: { run: 'a.js', unveil: { data: 'r', './data/': 'rw' } } } });
    assert.deepEqual(issues, [{ path: 'agents.a.unveil["./data/"]', message: 'same path as unveil key "data"' }]);
  });
});

describe('collecting issues', () => {
  test('all structural issues are reported at once, one per line', () => {
    const issues = issuesFor({
      supervisor: { period: '5 sec' },
      agents: { a: { run: 'a.js', heartbeat: 5, qos: 'fast' }, b: { shutdown: 'soon' } },
    });
    assert.deepEqual(paths(issues).sort(), ['agents.a.heartbeat', 'agents.a.qos', 'agents.b.run', 'agents.b.shutdown', 'supervisor.period']);
    const err = (() => {
      try {
        parseConfig({ supervisor: { period: '5 sec' }, agents: { a: { run: 'a.js', heartbeat: 5, qos: 'fast' }, b: { shutdown: 'soon' } } }, FILE);
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('no error');
    })();
    assert.equal(err.message.split('\n').length, 5);
    assert.ok(err.message.split('\n').includes('supervisor.period: expected a duration like "100ms", "5s" or "2m", got "5 sec"'));
  });

  test('all cross-check issues are reported at once', () => {
    const issues = issuesFor({
      agents: {
        a: { run: 'a.js', after: ['b', 'nobody'], owns: ['vault'], pledge: ['send:ghost'] },
        b: { run: 'b.js', after: ['a'], owns: ['vault'], unveil: { vault: 'rw' }, group: 'none' },
      },
    });
    assert.deepEqual(paths(issues).sort(), [
      'agents.a.after',
      'agents.a.after.1',
      'agents.a.pledge.0',
      'agents.b.group',
      'agents.b.owns.0',
      'agents.b.unveil.vault',
    ]);
  });

  test('unknown keys and cross-check issues are reported together', () => {
    const issues = issuesFor({ agents: { a: { run: 'a.js', after: ['b'], colour: 'blue' }, b: { run: 'b.js', after: ['a'] } } });
    assert.deepEqual(paths(issues).sort(), ['agents.a.after', 'agents.a.colour']);
  });

  test('formatConfigIssues: "path: message" per line, file-level issues bare, YAML lines appended', () => {
    assert.equal(
      formatConfigIssues([
        { path: '', message: 'config file not found: /x' },
        { path: 'agents.a.run', message: 'required', line: 4 },
        { path: 'supervisor.period', message: 'bad' },
      ]),
      'config file not found: /x\nagents.a.run: required (line 4)\nsupervisor.period: bad',
    );
  });
});

describe('start order', () => {
  test('declaration order when nothing depends on anything', () => {
    const c = parseConfig({ agents: { zeta: { run: 'z.js' }, alpha: { run: 'a.js' }, mid: { run: 'm.js' } } }, FILE);
    assert.deepEqual(c.order, ['zeta', 'alpha', 'mid']);
  });

  test('after is respected, ties broken by declaration order', () => {
    const c = parseConfig(
      {
        agents: {
          web: { run: 'w.js', after: ['db', 'cache'] },
          cache: { run: 'c.js' },
          worker: { run: 'k.js', after: ['db'] },
          db: { run: 'd.js' },
          log: { run: 'l.js' },
        },
      },
      FILE,
    );
    assert.deepEqual(c.order, ['cache', 'db', 'web', 'worker', 'log']);
    for (const [name, a] of Object.entries(c.agents)) {
      for (const dep of a.after) assert.ok(c.order.indexOf(dep) < c.order.indexOf(name), `${dep} before ${name}`);
    }
  });
});

describe('files', () => {
  const DESIGN_EXAMPLE = `state_dir: .outheis              # journal/, logs/, outheis.sock, outheis.pid
journal:
  fsync: batch
supervisor:
  strategy: one_for_one
  intensity: 5
  period: 30s
  backoff: { initial: 100ms, max: 15s }
groups:
  core: { strategy: rest_for_one, intensity: 3, period: 10s }
agents:
  data:
    run: examples/notes/data.js
    args: []
    group: core
    after: []
    restart: permanent
    qos: utility
    owns: [vault]
    unveil: { vault: rw }
    pledge: [send:relay]
    env: [TZ]
    limits: { memory: 256MiB, nofile: 256, cpu: 50% }
    heartbeat: 5s
    shutdown: 5s
    user: auto
  relay:
    run: examples/notes/relay.js
    after: [data]
    unveil: { vault: r }
`;

  test('the DESIGN example loads from YAML', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'outheis.yaml');
    fs.writeFileSync(file, DESIGN_EXAMPLE);
    const c = loadConfig(file);
    assert.equal(c.file, file);
    assert.equal(c.stateDir, path.join(dir, '.outheis'));
    assert.equal(c.groups.core!.strategy, 'rest_for_one');
    assert.equal(c.groups.core!.period, 10_000);
    const data = c.agents.data!;
    assert.equal(data.run, path.join(dir, 'examples/notes/data.js'));
    assert.deepEqual(data.owns, [path.join(dir, 'vault')]);
    assert.equal(data.limits.memory, 256 * 1024 * 1024);
    assert.equal(data.limits.cpu, 0.5);
    assert.deepEqual(c.order, ['data', 'relay']);
  });

  test('a .yml file and a relative file name', () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'x.yml'), 'agents:\n  a: { run: a.js }\n');
    const rel = path.relative(process.cwd(), path.join(dir, 'x.yml'));
    const c = loadConfig(rel);
    assert.equal(c.file, path.join(dir, 'x.yml'));
    assert.equal(c.agents.a!.run, path.join(dir, 'a.js'));
  });

  test('YAML validation issues carry the line of the key', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'outheis.yaml');
    fs.writeFileSync(file, 'agents:\n  a:\n    run: a.js\n    heartbeat: 5\n    colour: blue\n');
    const issues = issuesOf(() => loadConfig(file));
    assert.equal(issueAt(issues, 'agents.a.heartbeat').line, 4);
    assert.equal(issueAt(issues, 'agents.a.colour').line, 5);
  });

  test('YAML syntax errors report the line', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'outheis.yaml');
    fs.writeFileSync(file, 'agents:\n  a:\n    run: [a.js\n  b: 1\n');
    const issues = issuesOf(() => loadConfig(file));
    assert.ok(issues.length >= 1);
    assert.equal(issues[0]!.path, '');
    assert.match(issues[0]!.message, /^YAML syntax error at line \d+, column \d+: /);
    assert.ok(issues.every((i) => typeof i.line === 'number' && i.line >= 3), formatConfigIssues(issues));
  });

  test('duplicate YAML keys are an error, not a silent override', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'outheis.yaml');
    fs.writeFileSync(file, 'agents:\n  a: { run: a.js }\n  a: { run: b.js }\n');
    const issues = issuesOf(() => loadConfig(file));
    assert.match(issues[0]!.message, /line 3.*unique/i);
  });

  test('an empty YAML file', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'outheis.yaml');
    fs.writeFileSync(file, '# nothing yet\n');
    assert.match(issuesOf(() => loadConfig(file))[0]!.message, /empty/);
  });

  test('a JSON file loads, paths relative to it', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'outheis.json');
    fs.writeFileSync(file, JSON.stringify({ journal: { fsync: 'none' }, agents: { a: { run: 'a.js', heartbeat: '1s' } } }));
    const c = loadConfig(file);
    assert.equal(c.journal.fsync, 'none');
    assert.equal(c.agents.a!.run, path.join(dir, 'a.js'));
    assert.equal(c.agents.a!.heartbeat, 1000);
  });

  test('a JSON syntax error names the line', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'outheis.json');
    fs.writeFileSync(file, '{\n  "agents": {\n    "a": { "run": "a.js", }\n  }\n}\n');
    const issues = issuesOf(() => loadConfig(file));
    assert.equal(issues.length, 1);
    assert.match(issues[0]!.message, /^JSON syntax error.*line 3/);
  });

  test('a missing file names the file', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'nope.yaml');
    let caught: unknown;
    try {
      loadConfig(file);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof ConfigError);
    assert.equal(caught.name, 'ConfigError');
    assert.equal(caught.file, file);
    assert.deepEqual(caught.issues, [{ path: '', message: `config file not found: ${file}` }]);
    assert.equal(caught.message, `config file not found: ${file}`);
  });

  test('an unsupported extension is refused', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'outheis.toml');
    fs.writeFileSync(file, 'x = 1\n');
    assert.match(issuesOf(() => loadConfig(file))[0]!.message, /unsupported config file type "\.toml"/);
  });

  test('findConfigFile prefers outheis.yaml, then .yml, then .json', () => {
    const dir = tmpDir();
    assert.equal(findConfigFile(dir), undefined);
    // A directory by the right name is not a config file.
    fs.mkdirSync(path.join(dir, 'outheis.yaml'));
    assert.equal(findConfigFile(dir), undefined);
    fs.writeFileSync(path.join(dir, 'outheis.json'), '{}');
    assert.equal(findConfigFile(dir), path.join(dir, 'outheis.json'));
    fs.writeFileSync(path.join(dir, 'outheis.yml'), '');
    assert.equal(findConfigFile(dir), path.join(dir, 'outheis.yml'));
    fs.rmdirSync(path.join(dir, 'outheis.yaml'));
    fs.writeFileSync(path.join(dir, 'outheis.yaml'), '');
    assert.equal(findConfigFile(dir), path.join(dir, 'outheis.yaml'));
  });
});

test('the file\'s snake_case keys reach the code under its own names, in one place, and errors still quote the file\'s keys', () => {
  const c = parseConfig({
    state_dir: 'st',
    journal: { max_attempts: 7, max_size: '4MiB', segment_size: '1MiB' },
    logs: { max_size: '2MiB', max_line: '1KiB' },
    agents: { a: { run: 'a.js', start_timeout: '3s' } },
  }, FILE);
  assert.equal(c.stateDir, path.join(DIR, 'st'));
  assert.deepEqual([c.journal.maxAttempts, c.journal.maxSize, c.journal.segmentSize], [7, 4 * 1024 ** 2, 1024 ** 2]);
  assert.deepEqual([c.logs.maxSize, c.logs.maxLine], [2 * 1024 ** 2, 1024]);
  assert.equal(c.agents.a!.startTimeout, 3000);
  const snake = /^[a-z]+_[a-z_]+$/;
  const keys = (o: object): string[] => Object.entries(o).flatMap(([k, v]) => [k, ...(v && typeof v === 'object' && !Array.isArray(v) && k !== 'unveil' ? keys(v) : [])]);
  assert.deepEqual(keys(c).filter((k) => snake.test(k)), [], 'no snake_case key is left in a parsed config');
  const issues = issuesOf(() => parseConfig({ journal: { max_attempts: 0 }, agents: { a: { run: 'a.js', start_timeout: '0s' } } }, FILE));
  assert.deepEqual(issues.map((i) => i.path).sort(), ['agents.a.start_timeout', 'journal.max_attempts']);
});

describe('schedules', () => {
  const agents = { pattern: { run: 'p.js' }, agenda: { run: 'a.js', limits: { frame: '4KiB' } } };
  const withSchedules = (schedules: unknown) => ({ agents, schedules });

  test('the contract\'s example parses: cron with tz and catch_up, every with a body, qos defaults to utility', () => {
    const c = parseConfig(withSchedules({
      nightly: { cron: '30 3 * * *', tz: 'Europe/Berlin', to: 'pattern', kind: 'run', qos: 'background', catch_up: true },
      review: { every: '1h', to: 'agenda', kind: 'review', body: { hours: 1 } },
      tick: { cron: '*/5 * * * * *', to: 'pattern', kind: 'run' },
    }), FILE);
    assert.equal(c.schedules.nightly!.catchUp, true);
    assert.equal(c.schedules.nightly!.qos, 'background');
    assert.equal(c.schedules.review!.every, 3_600_000);
    assert.equal(c.schedules.review!.qos, 'utility');
    assert.equal(c.schedules.review!.catchUp, false);
    assert.ok(Buffer.isBuffer(c.schedules.review!.body), 'the body is msgpack-encoded once, at validation');
    assert.equal(c.schedules.tick!.body, undefined);
  });

  test('a bad cron expression is refused at its key path, and so are wrong field counts and unknown zones', () => {
    const issues = issuesFor(withSchedules({
      nightly: { cron: '61 3 * * *', to: 'pattern', kind: 'run' },
      short: { cron: '* * * *', to: 'pattern', kind: 'run' },
      date: { cron: '2030-01-01T00:00:00', to: 'pattern', kind: 'run' },
      zone: { cron: '0 * * * *', tz: 'Mars/Olympus', to: 'pattern', kind: 'run' },
    }));
    assert.match(issueAt(issues, 'schedules.nightly.cron').message, /invalid cron expression.*minute/);
    assert.match(issueAt(issues, 'schedules.short.cron').message, /expected 5 fields/);
    assert.match(issueAt(issues, 'schedules.date.cron').message, /expected 5 fields/);
    assert.match(issueAt(issues, 'schedules.zone.tz').message, /unknown time zone "Mars\/Olympus"/);
  });

  test('exactly one of cron and every; tz only with cron', () => {
    const issues = issuesFor(withSchedules({
      both: { cron: '* * * * *', every: '1s', to: 'pattern', kind: 'run' },
      neither: { to: 'pattern', kind: 'run' },
      tz: { every: '1s', tz: 'UTC', to: 'pattern', kind: 'run' },
    }));
    assert.match(issueAt(issues, 'schedules.both').message, /exactly one of "cron" and "every", got both/);
    assert.match(issueAt(issues, 'schedules.neither').message, /got neither/);
    assert.match(issueAt(issues, 'schedules.tz.tz').message, /applies to "cron" only/);
  });

  test('an unknown target and a body over the target\'s frame limit are refused at their paths', () => {
    const issues = issuesFor(withSchedules({
      typo: { every: '1s', to: 'patern', kind: 'run' },
      big: { every: '1s', to: 'agenda', kind: 'review', body: 'x'.repeat(8192) },
      fits: { every: '1s', to: 'agenda', kind: 'review', body: 'x'.repeat(1024) },
    }));
    assert.match(issueAt(issues, 'schedules.typo.to').message, /unknown agent "patern"; did you mean "pattern"\?/);
    assert.match(issueAt(issues, 'schedules.big.body').message, /over agenda's frame limit of 4096 bytes/);
    assert.deepEqual(paths(issues).filter((p) => p.startsWith('schedules.fits')), []);
  });

  test('"scheduler" is reserved: no agent may be called that, nor pledge a send to it', () => {
    assert.match(issueAt(issuesFor({ agents: { scheduler: { run: 'x.js' } } }), 'agents.scheduler').message, /reserved/);
    // A cross-check: it runs once the structure is valid.
    const issues = issuesFor({ agents: { a: { run: 'a.js', pledge: ['send:scheduler'] } } });
    assert.match(issueAt(issues, 'agents.a.pledge.0').message, /"scheduler" is not an agent/);
  });
});
