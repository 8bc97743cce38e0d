// `run: outheis:<name>`: the agents outheis ships, resolved in place, and what
// their sandbox is given of the install (the SDK, and only the npm packages they
// import, with their closure), without starting anything.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BUNDLED, BUNDLED_NAMES, bundledEntry, bundledPackages, packageClosure, packageMounts } from '../policies/bundled.js';
import { codeOf } from '../policies/code.js';
import type { Machine } from '../policies/machine.js';
import { planSandbox, readableByOthers } from '../policies/sandbox.js';
import { ConfigError, parseConfig } from '../supervisor/config/index.js';
import { CLI, ROOT } from './helpers/harness.js';
import { scratchDirs } from './helpers/scratch.js';

const tempDir = scratchDirs('outheis-bundled-');

const FULL: Machine = { root: true, bwrap: '/usr/bin/bwrap', setpriv: '/usr/bin/setpriv', prlimit: '/usr/bin/prlimit', nice: '/usr/bin/nice', namespaces: true, namespacesWhy: undefined, permissionFlag: '--experimental-permission' };
const NM = realpathSync(join(ROOT, 'node_modules'));
const inside = (p: string, dir: string) => p === dir || p.startsWith(dir + '/');

function config(agents: Record<string, unknown>) {
  const dir = tempDir();
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'vault'), { mode: 0o755 });
  return parseConfig({ state_dir: join(dir, 'state'), agents }, join(dir, 'outheis.json'));
}

test('outheis:<name> runs the bundled file where outheis is installed, and keeps the name it was given', () => {
  const cfg = config({ data: { run: 'outheis:data', args: ['--vault', 'vault'] }, mine: { run: 'code/a.js' } });
  assert.equal(cfg.agents.data!.run, join(ROOT, 'dist/workers/agents/data.js'));
  assert.equal(cfg.agents.data!.bundled, 'data');
  assert.equal(cfg.agents.mine!.bundled, undefined, 'a path is a path');
  assert.equal(cfg.agents.mine!.run, join(cfg.dir, 'code/a.js'));
  for (const name of BUNDLED_NAMES) assert.equal(bundledEntry(name), join(ROOT, `dist/workers/agents/${name}.js`));
});

test('an unknown bundled name is a config error at its key, naming every known one', () => {
  assert.throws(() => config({ x: { run: 'outheis:nope' } }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    const issue = err.issues.find((i) => i.path === 'agents.x.run');
    assert.ok(issue, `an issue at agents.x.run: ${err.message}`);
    assert.match(issue.message, /"outheis:nope"/);
    for (const name of ['relay', 'data', 'agenda', 'pattern', 'llm']) assert.match(issue.message, new RegExp(`outheis:${name}\\b`));
    return true;
  });
});

test('outheis check refuses outheis:nope and accepts outheis:data', () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'vault'));
  const file = join(dir, 'outheis.yaml');
  writeFileSync(file, 'agents:\n  x: { run: "outheis:nope" }\n');
  const bad = spawnSync(process.execPath, [CLI, 'check', '-c', file], { encoding: 'utf8' });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /agents\.x\.run: unknown bundled agent "outheis:nope": expected one of outheis:relay, outheis:data/);
  writeFileSync(file, 'agents:\n  data: { run: "outheis:data", args: [--vault, vault], owns: [vault], unveil: { vault: rw } }\n');
  const good = spawnSync(process.execPath, [CLI, 'check', '-c', file], { encoding: 'utf8' });
  assert.equal(good.status, 0, good.stderr);
});

test('a bundled agent\'s code is no package: its packages are its imports and their closure, each once, nothing else of the install', () => {
  const code = codeOf(bundledEntry('data'));
  assert.equal(code.kind, 'bundled');
  assert.deepEqual(code.masks, []);
  assert.deepEqual(code.nodeModules, [], 'not the node_modules above: outheis\'s own dependencies are not the agent\'s');
  const names = code.packages.map((p) => p.slice(NM.length + 1));
  for (const direct of BUNDLED.data!) assert.ok(names.includes(direct), `${direct} among ${names.join(', ')}`);
  // @11ty/gray-matter → section-matter → extend-shallow → is-extendable, kind-of: the closure, walked.
  for (const dep of ['section-matter', 'extend-shallow', 'is-extendable', 'kind-of']) assert.ok(names.includes(dep), `${dep} (a dependency of a dependency) among ${names.join(', ')}`);
  for (const other of ['pino', 'yargs', 'msgpackr', 'croner']) assert.ok(!names.includes(other), `${other} is outheis's, not the data agent's`);
  for (const p of code.packages) assert.ok(!code.packages.some((q) => q !== p && inside(p, q)), `${p} is covered by a package around it and listed once`);
  assert.ok(!bundledPackages('relay').some((p) => p.endsWith('/minisearch')), 'each agent its own packages: the relay does not get the index');
});

test('the closure follows node\'s resolution: nested copies first, then hoisted ones; a missing one is named', () => {
  const root = tempDir();
  const pkg = (dir: string, deps: Record<string, string> = {}) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: dir, dependencies: deps }));
  };
  pkg(join(root, 'node_modules/a'), { b: '1', c: '1' });
  pkg(join(root, 'node_modules/b'), { c: '2' });
  pkg(join(root, 'node_modules/b/node_modules/c'));
  pkg(join(root, 'node_modules/c'));
  pkg(join(root, 'node_modules/unused'));
  mkdirSync(join(root, 'app'));
  const got = packageClosure(['a'], join(root, 'app')).map((p) => p.slice(realpathSync(root).length + 1));
  assert.deepEqual(got, ['node_modules/a', 'node_modules/b', 'node_modules/c']);
  pkg(join(root, 'node_modules/d'), { ghost: '1' });
  assert.throws(() => packageClosure(['d'], join(root, 'app')), /ghost \(imported by d\) is not installed/);
});

test('the sandbox binds the bundled agent\'s packages read-only at their real paths, and not the package around it', () => {
  const cfg = config({ data: { run: 'outheis:data', args: ['--vault', 'vault'], owns: ['vault'], unveil: { vault: 'rw' } } });
  const plan = planSandbox(cfg.agents.data!, { config: cfg, machine: FULL, account: { uid: 61200, gid: 61200, name: 'outheis-data' } });
  const binds = plan.chain.bwrap!.mounts.filter((m) => m.type === 'bind');
  const code = codeOf(bundledEntry('data'));
  for (const p of code.packages) {
    const m = binds.find((b) => b.dest === p);
    assert.ok(m, `${p} is bound`);
    assert.equal(m.writable, false);
  }
  assert.ok(!binds.some((b) => b.dest === ROOT.replace(/\/$/, '') || b.dest === NM), 'neither the outheis package nor its whole node_modules');
  assert.ok(binds.some((b) => b.dest === join(ROOT, 'dist/workers') && b.why === 'sdk'), 'the agent\'s file comes with the SDK');
  assert.equal(plan.chain.node.run, realpathSync(bundledEntry('data')));
  const read = plan.chain.node.permission!.read;
  for (const p of code.packages) assert.ok(read.includes(p), `node may read ${p}`);
  assert.ok(plan.chain.node.permission!.write.includes(join(cfg.dir, 'vault')), 'and write its vault');
});

test('packages out of other uids\' reach are staged to world-readable copies, bound at the real path; readable ones as they are', () => {
  const hidden = tempDir();
  chmodSync(hidden, 0o700);
  const pkg = join(hidden, 'node_modules', 'lib');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'index.js'), 'export default 42;\n');
  chmodSync(join(pkg, 'index.js'), 0o600);
  assert.equal(readableByOthers(pkg), false);
  const [[src, dst]] = packageMounts([pkg], true) as [[string, string]];
  assert.equal(dst, pkg, 'bound where node looks for it');
  assert.notEqual(src, pkg, 'from a copy');
  assert.ok(readableByOthers(join(src, 'index.js')), `${src} is readable by another uid`);
  assert.equal(readFileSync(join(src, 'index.js'), 'utf8'), 'export default 42;\n');
  assert.deepEqual(packageMounts([pkg], false), [[pkg, pkg]], 'a supervisor that is not root binds what it can read itself');
  const open = tempDir();
  chmodSync(open, 0o755);
  assert.deepEqual(packageMounts([open], true), [[open, open]], 'a readable install is bound as it is');
});
