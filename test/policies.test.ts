// The isolation plan, without starting anything: which layers a manifest gets on a
// given machine, what each pledge adds, and that a missing layer refuses the start.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../supervisor/config/index.js';
import { planIsolation, IsolationError } from '../policies/isolation.js';
import type { Machine } from '../policies/machine.js';
import { commandLine } from '../policies/chain.js';
import { manifestSchema } from '../policies/manifest.js';
import { planSandbox } from '../policies/sandbox.js';
import { allocateAccounts, DYNAMIC_MAX, DYNAMIC_MIN, UserError } from '../policies/users.js';
import { tempDir } from './helpers/harness.js';

const FULL: Machine = { root: true, bwrap: '/usr/bin/bwrap', setpriv: '/usr/bin/setpriv', prlimit: '/usr/bin/prlimit', nice: '/usr/bin/nice', namespaces: true, namespacesWhy: undefined, permissionFlag: '--experimental-permission' };
const BARE: Machine = { ...FULL, bwrap: undefined, namespaces: false, namespacesWhy: 'bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)' };

function config(agents: Record<string, unknown>) {
  const dir = tempDir('outheis-pol-');
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'code'), { mode: 0o755 });
  writeFileSync(join(dir, 'code', 'a.js'), '');
  writeFileSync(join(dir, 'outheis.json'), '{}');
  return parseConfig({ state_dir: join(dir, 'state'), agents }, join(dir, 'outheis.json'));
}

test('uids: deterministic, in the dynamic range, distinct, and never a taken id', () => {
  const agents = ['alpha', 'beta', 'gamma'].map((name) => ({ name }));
  const a = allocateAccounts(agents, [], new Set());
  const b = allocateAccounts([...agents].reverse(), [], new Set());
  assert.deepEqual([...a.entries()].sort(), [...b.entries()].sort(), 'same names, same uids, whatever the order');
  const uids = [...a.values()].map((x) => x.uid);
  assert.equal(new Set(uids).size, 3);
  for (const u of uids) assert.ok(u >= DYNAMIC_MIN && u <= DYNAMIC_MAX);
  // The uid alpha would get is taken by a real account: it moves on.
  const taken = a.get('alpha')!.uid;
  const c = allocateAccounts([{ name: 'alpha' }], [{ name: 'someone', uid: taken, gid: taken }], new Set());
  assert.notEqual(c.get('alpha')!.uid, taken);
});

test('uids: a named user is used as is; root and unknown users are refused with the key path', () => {
  const passwd = [{ name: 'svc', uid: 1234, gid: 999 }, { name: 'root', uid: 0, gid: 0 }];
  assert.deepEqual(allocateAccounts([{ name: 'a', user: 'svc' }], passwd, new Set()).get('a'), { uid: 1234, gid: 999, name: 'svc' });
  assert.throws(() => allocateAccounts([{ name: 'a', user: 'root' }], passwd, new Set()), (e: Error) => e instanceof UserError && /agents\.a\.user: "root" is root/.test(e.message));
  assert.throws(() => allocateAccounts([{ name: 'a', user: 'ghost' }], passwd, new Set()), /agents\.a\.user: no user named "ghost"/);
});

test('the full chain on a capable machine: every layer, in order, and pledges widen only what they name', () => {
  const cfg = config({
    shut: { run: 'code/a.js', unveil: { data: 'rw', docs: 'r' }, limits: { nofile: 64, nproc: 8, memory: '128MiB' } },
    open: { run: 'code/a.js', pledge: ['net', 'spawn', 'worker'] },
  });
  const acct = { uid: 61200, gid: 61200, name: 'outheis-shut' };
  const shut = planSandbox(cfg.agents.shut!, { config: cfg, machine: FULL, account: acct });
  assert.deepEqual(shut.missing, []);
  assert.deepEqual(shut.layers, ['env', 'fds', 'uid', 'rlimits', 'netns', 'namespaces', 'permission', 'heap']);
  const argv = shut.argv.join(' ');
  const order = ['/usr/bin/nice', '/usr/bin/setpriv', '/usr/bin/bwrap', '/usr/bin/prlimit', process.execPath];
  const at = order.map((p) => shut.argv.indexOf(p));
  assert.deepEqual([...at].sort((x, y) => x - y), at, `hardening order: ${argv}`);
  assert.match(argv, /--reuid=61200 --regid=61200 --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all/);
  assert.match(argv, /--nofile=64:64 --nproc=8:8/);
  assert.match(argv, /--unshare-all --die-with-parent --new-session --cap-drop ALL/);
  assert.doesNotMatch(argv, /--share-net|--allow-child-process|--allow-worker|--allow-addons/);
  assert.ok(argv.includes(`--bind ${join(cfg.dir, 'data')} ${join(cfg.dir, 'data')}`), 'rw is a writable bind');
  assert.ok(argv.includes(`--ro-bind ${join(cfg.dir, 'docs')} ${join(cfg.dir, 'docs')}`), 'r is read-only');
  assert.ok(argv.includes(`--allow-fs-write=${join(cfg.dir, 'data')}`) && !argv.includes(`--allow-fs-write=${join(cfg.dir, 'docs')}`));
  assert.match(argv, /--max-semi-space-size=6 --max-old-space-size=78\b/);
  const open = planSandbox(cfg.agents.open!, { config: cfg, machine: FULL, account: acct }).argv.join(' ');
  assert.match(open, /--share-net/);
  assert.match(open, /--allow-child-process/);
  assert.match(open, /--allow-worker/);
  assert.doesNotMatch(open, /--allow-addons/);
});

test('secure by default: a missing layer refuses the start, naming agent, layer and fix; --allow-weaker-isolation runs it, marked', () => {
  const cfg = config({ a: { run: 'code/a.js' } });
  assert.throws(() => planIsolation(cfg, { allowWeaker: false, machine: BARE }), (e: Error) => e instanceof IsolationError && /agents\.a: namespaces: bubblewrap is not installed \(Debian\/Ubuntu: apt-get install bubblewrap\)/.test(e.message));
  const weaker = planIsolation(cfg, { allowWeaker: true, machine: { ...BARE, root: false } }).plans.get('a')!;
  assert.equal(weaker.weaker, true);
  assert.ok(weaker.layers.includes('permission') && !weaker.layers.includes('namespaces'), weaker.layers.join());
  const rootless = planIsolation(cfg, { allowWeaker: false, machine: { ...FULL, root: false } }).plans.get('a')!;
  assert.equal(rootless.weaker, false, 'rootless: no uid layer to miss');
  assert.ok(!rootless.layers.includes('uid') && rootless.layers.includes('namespaces'));
});

test('root: an agent whose uid could not read its own code is refused up front', () => {
  const cfg = config({ a: { run: 'code/a.js' } });
  chmodSync(join(cfg.dir, 'code'), 0o700);
  assert.throws(() => planIsolation(cfg, { allowWeaker: false, machine: FULL }), /agents\.a: code: .*code is mode 0700; an agent's own uid needs o\+rx/);
});

test('the plan is data: steps in exec order with the layers each provides, mounts with their reasons, and argv rendered from them', () => {
  const cfg = config({
    shut: { run: 'code/a.js', unveil: { data: 'rw', docs: 'r' }, limits: { nofile: 64, nproc: 8, memory: '128MiB' } },
    open: { run: 'code/a.js', pledge: ['net', 'spawn'], owns: ['code/theirs'] },
  });
  mkdirSync(join(cfg.dir, 'code', 'theirs'));
  const plan = planSandbox(cfg.agents.shut!, { config: cfg, machine: FULL, account: { uid: 61200, gid: 61201, name: 'outheis-shut' } });
  assert.deepEqual(plan.steps.map((s) => [s.tool, s.layers]), [
    ['nice', []], ['setpriv', ['uid']], ['bwrap', ['netns', 'namespaces']], ['prlimit', ['rlimits']], ['node', ['permission', 'heap']],
  ]);
  assert.deepEqual(plan.argv, plan.steps.flatMap((s) => s.argv));
  assert.deepEqual(plan.argv, commandLine(plan.chain));
  assert.deepEqual(plan.chain.setpriv && [plan.chain.setpriv.uid, plan.chain.setpriv.gid], [61200, 61201]);
  assert.deepEqual(plan.chain.prlimit && [plan.chain.prlimit.nofile, plan.chain.prlimit.nproc], [64, 8]);
  assert.deepEqual(plan.chain.node.heap, { memory: 128 * 2 ** 20, semiSpaceMiB: 6, oldSpaceMiB: 78 });
  assert.deepEqual(plan.chain.node.permission?.write, [join(cfg.dir, 'data')]);
  assert.ok(plan.chain.node.permission?.read.includes(join(cfg.dir, 'docs')));
  const mounts = plan.chain.bwrap!.mounts;
  const at = (dest: string) => mounts.filter((m) => m.dest === dest).map((m) => [m.why, m.writable]);
  assert.deepEqual(at(join(cfg.dir, 'data')), [['unveil', true]]);
  assert.deepEqual(at(join(cfg.dir, 'docs')), [['unveil', false]]);
  assert.deepEqual(at(join(cfg.dir, 'code')), [['code', false]]);
  assert.deepEqual(at(join(cfg.dir, 'code', 'theirs')), [['mask', true]], 'another agent\'s domain inside the code directory is an empty tmpfs');
  assert.deepEqual(at('/usr'), [['runtime', false]]);
  assert.ok(mounts.some((m) => m.why === 'sdk' && m.dest === '/node_modules/outheis/package.json'));
  assert.ok(!mounts.some((m) => m.why === 'net'), 'no name resolution without the net pledge');
  assert.equal(plan.chain.bwrap!.shareNet, false);

  const open = planSandbox(cfg.agents.open!, { config: cfg, machine: BARE, account: undefined });
  assert.deepEqual(open.steps.map((s) => s.tool), ['nice', 'node']);
  assert.deepEqual(open.chain.node.permission?.grants, ['child-process']);
  assert.deepEqual(open.gaps.map((g) => [g.layer, g.fix]), [['uid', 'apt-get install util-linux (setpriv)'], ['namespaces', 'apt-get install bubblewrap']]);
  assert.deepEqual(open.missing, open.gaps.map((g) => `${g.layer}: ${g.why}`));
});

test('a config\'s agent is a manifest: policies\' schema alone gives the same capability fields', () => {
  const cfg = config({ a: { run: 'code/a.js', args: ['x'], qos: 'background', owns: ['vault'], unveil: { docs: 'r' }, pledge: ['net'], env: ['TZ'], limits: { memory: '64MiB', cpu: '50%' }, user: 'auto' } });
  const manifest = manifestSchema(cfg.dir).parse({ run: 'code/a.js', args: ['x'], qos: 'background', owns: ['vault'], unveil: { docs: 'r' }, pledge: ['net'], env: ['TZ'], limits: { memory: '64MiB', cpu: '50%' }, user: 'auto' });
  const a = cfg.agents.a!;
  for (const key of Object.keys(manifest) as (keyof typeof manifest)[]) assert.deepEqual(a[key], manifest[key], key);
  assert.throws(() => manifestSchema(cfg.dir).parse({ run: 'code/a.js', heartbeat: '1s' }), /unknown key/);
});
