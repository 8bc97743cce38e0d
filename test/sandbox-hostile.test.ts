// What an agent's sandbox shows it of the host, played by a hostile agent against a
// real supervisor started through the real CLI, and checked on the host afterwards:
//   - its code is its package: the secrets beside it (a home directory's .ssh and
//     .env, a package's .env) stay unreadable, its own dependencies import, and
//     `check` warns about both neighbourhoods (issue 10 item 3, item 15);
//   - an entry file that is a symlink runs its target in the target's package
//     (item 8); a dangling one is refused by `check`;
//   - a tree another user owns, unveiled rw, is granted with an ACL, never chown-ed,
//     and the ACL is gone after stop; a domain that did not exist is created and
//     given to its agent; where ACLs cannot be set, the start is refused with the
//     fix (item 2).
// (Long on purpose: each scenario needs its tree built and checked on the host.)
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { codeOf } from '../policies/code.js';
import { prepareDomains } from '../policies/domains.js';
import { probeMachine } from '../policies/machine.js';
import { manifestSchema } from '../policies/manifest.js';
import { planSandbox } from '../policies/sandbox.js';
import { ROOTLESS_USER, startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { CLI, ROOT, tempDir } from './helpers/harness.js';

interface Outcome { ok: boolean; code?: string; detail?: string }

const SDK = join(ROOT, 'dist/workers/sdk.js');
const ROOTED = process.getuid!() === 0;
const MODES = ROOTED ? (['root', 'rootless'] as const) : (['rootless'] as const);
const OTHER = 1234; // the owner of someone else's tree

/** The hostile agent: each message kind is one attempt, answered with what happened. */
const PROBER = `
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const sdk = process.argv.find((a) => a.startsWith('--sdk='))?.slice(6);
const { agent } = await import('outheis/worker').catch(() => import(pathToFileURL(sdk).href));
const reply = (fn) => async (b) => {
  try { return { ok: true, detail: String(await fn(b)) }; } catch (e) { return { ok: false, code: e.code ?? e.name, detail: e.message }; }
};
agent.handle('read', reply(({ path }) => readFileSync(path, 'utf8')));
agent.handle('write', reply(({ path, data }) => (writeFileSync(path, data), 'written')));
agent.handle('append', reply(({ path, data }) => (appendFileSync(path, data), 'appended')));
agent.handle('ls', reply(({ path }) => readdirSync(path).join(',')));
agent.handle('import', reply(async ({ name }) => (await import(name)).default));
agent.handle('uid', reply(() => process.getuid()));
await agent.ready();
`;

const DENIED = ['EACCES', 'EPERM', 'ENOENT', 'EROFS', 'ERR_ACCESS_DENIED'];

function world(path: string, mode = 0o755): string {
  mkdirSync(path, { recursive: true });
  chmodSync(path, mode);
  return path;
}

function put(path: string, text: string, mode = 0o644): string {
  world(join(path, '..'));
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

function ask(d: Daemon, agent: string, kind: string, body: object = {}): Outcome {
  const r = d.cli(['send', agent, kind, JSON.stringify(body), '--wait', '--timeout', '20s', '--json']);
  if (r.code !== 0) throw new Error(`outheis send ${agent} ${kind} exited ${r.code}: ${r.stdout}${r.stderr}\n${d.out().slice(-3000)}`);
  return (JSON.parse(r.stdout) as { reply: Outcome }).reply;
}

function refused(o: Outcome, what: string): void {
  assert.equal(o.ok, false, `${what}: it succeeded: ${JSON.stringify(o)}`);
  assert.ok(DENIED.includes(o.code ?? ''), `${what}: refused for another reason: ${JSON.stringify(o)}`);
}

function allowed(o: Outcome, what: string): string {
  assert.equal(o.ok, true, `${what}: ${JSON.stringify(o)}`);
  return o.detail!;
}

const agentLine = (name: string, run: string, rest = '') => `  ${name}: { run: ${JSON.stringify(run)}, args: ["--sdk=${SDK}"]${rest ? `, ${rest}` : ''} }`;

function check(dir: string, env: NodeJS.ProcessEnv = process.env, json = false) {
  const r = spawnSync(process.execPath, [CLI, 'check', '-c', join(dir, 'outheis.yaml'), ...(json ? ['--json'] : [])], { encoding: 'utf8', env });
  return { code: r.status, out: r.stdout + r.stderr, stdout: r.stdout };
}

/** A package of its own: package.json, the prober, node_modules/<dep> exporting `value`. */
function pkg(dir: string, dep: string, value: string): string {
  put(join(dir, 'package.json'), '{ "name": "my-agent", "type": "module" }\n');
  put(join(dir, 'agent.js'), PROBER);
  put(join(dir, 'node_modules', dep, 'package.json'), `{ "name": "${dep}", "type": "module", "main": "index.js" }\n`);
  put(join(dir, 'node_modules', dep, 'index.js'), `export default ${JSON.stringify(value)};\n`);
  return join(dir, 'agent.js');
}

test('what an agent\'s code is: its package (not a home\'s package.json), else its directory, else in a home the file alone; credentials found', () => {
  const dir = world(tempDir('outheis-code-'));
  const home = world(join(dir, 'home'));
  put(join(home, 'package.json'), '{}'); // `npm init` in a home: not a package
  const inHome = put(join(home, 'agent.mjs'), '');
  const loose = put(join(home, 'tools/agent.mjs'), '');
  put(join(home, 'tools/.npmrc'), '//registry/:_authToken=x');
  const packaged = pkg(join(home, 'proj/pkg'), 'dep', 'x');
  put(join(home, 'proj/pkg/lib/id_ed25519'), 'k');
  put(join(home, 'proj/pkg/node_modules/dep/test.pem'), 'published, not searched');
  world(join(home, 'proj/pkg/.ssh'));
  const saved = process.env.HOME;
  process.env.HOME = home;
  try {
    const a = codeOf(inHome);
    assert.deepEqual([a.kind, a.root, a.home], ['file', inHome, home]);
    const b = codeOf(loose);
    assert.deepEqual([b.kind, b.root, b.masks.map((m) => m.path)], ['directory', join(home, 'tools'), [join(home, 'tools/.npmrc')]]);
    const c = codeOf(packaged);
    assert.deepEqual([c.kind, c.root], ['package', join(home, 'proj/pkg')]);
    assert.deepEqual(c.masks.map((m) => [m.path.slice(c.root.length + 1), m.dir]).sort(), [['.ssh', true], ['lib/id_ed25519', false]]);
    // A deployment's config directory bounds the search: the package above it is not the agent's, its node_modules are.
    const deploy = world(join(dir, 'srv/deploy'));
    put(join(dir, 'srv/package.json'), '{}');
    world(join(dir, 'srv/node_modules'));
    const bounded = codeOf(put(join(deploy, 'agents/a.js'), ''), deploy);
    assert.deepEqual([bounded.kind, bounded.root, bounded.nodeModules], ['directory', join(deploy, 'agents'), [join(dir, 'srv/node_modules')]]);
    assert.equal(codeOf(join(deploy, 'agents/a.js')).root, join(dir, 'srv'), 'unbounded, the package above');
  } finally {
    process.env.HOME = saved;
  }
});

test('a config file inside an agent\'s package is masked in its sandbox, as other agents\' domains are', () => {
  const dir = world(tempDir('outheis-cfgmask-'));
  const entry = pkg(dir, 'dep', 'x');
  const file = put(join(dir, 'outheis.yaml'), 'agents: {}');
  const other = world(join(dir, 'theirs'));
  const agent = (name: string, unveil: Record<string, string>) => ({ name, ...manifestSchema(dir).parse({ run: entry, unveil }) });
  const config = { dir, file, stateDir: join(dir, '.outheis'), order: ['a', 'b'], agents: { a: agent('a', {}), b: agent('b', { theirs: 'rw' }) } };
  const mounts = planSandbox(config.agents.a, { config, machine: probeMachine(), account: undefined }).chain.bwrap!.mounts;
  const masked = mounts.filter((m) => m.why === 'mask').map((m) => m.dest);
  assert.ok(masked.includes(file), `the config is masked: ${masked.join(' ')}`);
  assert.ok(masked.includes(other), `another agent's domain is masked: ${masked.join(' ')}`);
  assert.ok(mounts.some((m) => m.why === 'code' && m.dest === dir), 'the package is the code');
});

for (const mode of MODES) describe(`sandbox (${mode}): an agent sees its code, not its neighbours`, () => {
  const user = mode === 'rootless' && ROOTED ? ROOTLESS_USER : undefined;

  test('an entry file in a home directory: .ssh/id_rsa and .env beside it are unreadable, the home is not listable; check warns', async () => {
    const dir = world(tempDir('outheis-home-'));
    const home = world(join(dir, 'home'));
    const idRsa = put(join(home, '.ssh/id_rsa'), '-----BEGIN OPENSSH PRIVATE KEY----- stolen');
    const env = put(join(home, '.env'), 'API_KEY=stolen');
    put(join(home, 'agent.mjs'), PROBER);
    writeFileSync(join(dir, 'outheis.yaml'), `agents:\n${agentLine('homey', 'home/agent.mjs')}\n`);
    const asHome = { ...process.env, HOME: home };
    const warned = check(dir, asHome);
    assert.equal(warned.code, 0, warned.out);
    assert.match(warned.out, /agents\.homey\.run: the entry file lies directly in the home directory .*home: only the file itself is mounted/);
    const json = JSON.parse(check(dir, asHome, true).stdout) as { ok: boolean; warnings: { path: string; message: string }[] };
    assert.equal(json.ok, true);
    assert.deepEqual(json.warnings.map((w) => w.path), ['agents.homey.run']);

    const d = await startDaemon([`agents:`, agentLine('homey', 'home/agent.mjs')], { dir, waitReady: ['homey'], user, env: asHome });
    try {
      assert.match(d.out(), /"key":"agents\.homey\.run"[^\n]*config warning: the entry file lies directly in the home directory/, 'start logs what check warned');
      refused(ask(d, 'homey', 'read', { path: idRsa }), 'read ~/.ssh/id_rsa');
      refused(ask(d, 'homey', 'read', { path: env }), 'read ~/.env');
      refused(ask(d, 'homey', 'ls', { path: home }), 'ls its parent (the home)');
      refused(ask(d, 'homey', 'ls', { path: join(home, '.ssh') }), 'ls ~/.ssh');
      // The control: its own file is readable, so the refusals above are the sandbox's.
      assert.match(allowed(ask(d, 'homey', 'read', { path: join(home, 'agent.mjs') }), 'read its own entry file'), /agent\.handle/);
    } finally {
      await stop(d);
    }
    assert.equal(readFileSync(idRsa, 'utf8'), '-----BEGIN OPENSSH PRIVATE KEY----- stolen', 'the key is untouched on the host');
  });

  test('an agent in a package of its own imports its dependencies (and hoisted ones) but cannot read the package\'s .env or keys; check warns', async () => {
    const dir = world(tempDir('outheis-pkg-'));
    const project = world(join(dir, 'project'));
    put(join(project, 'node_modules/hoisted/package.json'), '{ "name": "hoisted", "type": "module", "main": "index.js" }\n');
    put(join(project, 'node_modules/hoisted/index.js'), 'export default "from the workspace root";\n');
    const agentDir = join(project, 'packages/agent');
    const entry = pkg(agentDir, 'dep', 'from its own node_modules');
    const env = put(join(agentDir, '.env'), 'API_KEY=stolen');
    const key = put(join(agentDir, 'certs/server.key'), 'PRIVATE stolen');
    writeFileSync(join(dir, 'outheis.yaml'), `agents:\n${agentLine('packaged', entry)}\n`);
    const warned = check(dir);
    assert.equal(warned.code, 0, warned.out);
    assert.match(warned.out, /agents\.packaged\.run: the code directory .*packages\/agent holds credentials \(.*\.env.*certs\/server\.key.*\): they are masked/);

    const d = await startDaemon([`agents:`, agentLine('packaged', entry)], { dir, waitReady: ['packaged'], user });
    try {
      assert.equal(allowed(ask(d, 'packaged', 'import', { name: 'dep' }), 'import dep'), 'from its own node_modules');
      assert.equal(allowed(ask(d, 'packaged', 'import', { name: 'hoisted' }), 'import a hoisted dependency'), 'from the workspace root');
      assert.match(allowed(ask(d, 'packaged', 'read', { path: join(agentDir, 'package.json') }), 'read its package.json'), /my-agent/);
      refused(ask(d, 'packaged', 'read', { path: env }), 'read the package\'s .env');
      refused(ask(d, 'packaged', 'read', { path: key }), 'read certs/server.key');
      refused(ask(d, 'packaged', 'read', { path: join(dir, 'outheis.yaml') }), 'read the config beside the project');
    } finally {
      await stop(d);
    }
  });

  test('an entry file that is a symlink into another tree runs there, in its own package; a dangling one is refused by check', async () => {
    const dir = world(tempDir('outheis-link-'));
    const elsewhere = world(tempDir('outheis-elsewhere-'));
    const target = pkg(join(elsewhere, 'agent'), 'dep', 'beside the real file');
    world(join(dir, 'agents'));
    symlinkSync(target, join(dir, 'agents/linked.js'));
    const d = await startDaemon([`agents:`, agentLine('linked', 'agents/linked.js')], { dir, waitReady: ['linked'], user });
    try {
      assert.equal(allowed(ask(d, 'linked', 'import', { name: 'dep' }), 'import dep beside the real file'), 'beside the real file');
    } finally {
      await stop(d);
    }
    const dangling = world(tempDir('outheis-dangling-'));
    symlinkSync(join(elsewhere, 'gone.js'), join(dangling, 'gone.js'));
    writeFileSync(join(dangling, 'outheis.yaml'), `agents:\n${agentLine('gone', 'gone.js')}\n`);
    const r = check(dangling);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /agents\.gone\.run: entry file .*gone\.js is a symlink to .*gone\.js, which does not exist/);
  });
});

// ---- item 2: someone else's tree, unveiled rw (root only: rootless has no uid to grant) --

/** A tree uid OTHER owns: 0750 directories and 0640 files, out of every other uid's reach. */
function othersTree(root: string): Map<string, { uid: number; mode: number }> {
  world(root, 0o750);
  world(join(root, 'sub'), 0o750);
  put(join(root, 'existing.txt'), 'original\n', 0o640);
  put(join(root, 'sub/deep.txt'), 'deep\n', 0o640);
  execFileSync('chown', ['-R', `${OTHER}:${OTHER}`, root]);
  return snapshot(root);
}

function snapshot(root: string): Map<string, { uid: number; mode: number }> {
  const out = new Map<string, { uid: number; mode: number }>();
  for (const rel of ['', 'sub', 'existing.txt', 'sub/deep.txt']) {
    const st = statSync(join(root, rel));
    out.set(rel, { uid: st.uid, mode: st.mode & 0o7777 });
  }
  return out;
}

/** Entries of the tree with an extended ACL, as getfacl lists them. */
const extendedAcls = (root: string) => execFileSync('getfacl', ['-R', '-P', '-p', '--skip-base', root], { encoding: 'utf8' }).trim();

if (ROOTED) describe('domains (root): a tree another user owns is granted with an ACL, never chown-ed', () => {
  test('rw on someone else\'s tree: the agent writes and modifies; owners stay, modes come back and the ACL is gone after stop; a missing domain is created as the agent\'s', async () => {
    const dir = world(tempDir('outheis-acl-'));
    const tree = join(dir, 'theirs');
    const before = othersTree(tree);
    const code = pkg(join(dir, 'code'), 'dep', 'x');
    const d = await startDaemon(['agents:',
      agentLine('writer', code, `unveil: { ${tree}: rw, fresh: rw }`),
      agentLine('reader', code, `unveil: { ${tree}: r }`),
    ], { dir, waitReady: ['writer', 'reader'] });
    let writerUid: number;
    try {
      writerUid = Number(allowed(ask(d, 'writer', 'uid'), 'uid'));
      const readerUid = Number(allowed(ask(d, 'reader', 'uid'), 'uid'));
      allowed(ask(d, 'writer', 'write', { path: join(tree, 'new.txt'), data: 'new' }), 'write a new file');
      allowed(ask(d, 'writer', 'append', { path: join(tree, 'existing.txt'), data: 'appended\n' }), 'modify an existing file');
      allowed(ask(d, 'writer', 'write', { path: join(tree, 'sub/made.txt'), data: 'made' }), 'write in a subdirectory');
      assert.equal(readFileSync(join(tree, 'existing.txt'), 'utf8'), 'original\nappended\n');
      assert.equal(statSync(join(tree, 'new.txt')).uid, writerUid, 'what it creates is its own');
      assert.equal(allowed(ask(d, 'reader', 'read', { path: join(tree, 'sub/deep.txt') }), 'the reader reads through its rX ACL'), 'deep\n');
      refused(ask(d, 'reader', 'write', { path: join(tree, 'by-reader.txt'), data: 'no' }), 'the reader writes');
      for (const [rel, was] of before) assert.equal(statSync(join(tree, rel)).uid, was.uid, `${rel || '.'}: owner unchanged while granted`);
      assert.match(extendedAcls(tree), new RegExp(`user:${writerUid}:rw`), 'the writer\'s grant is an ACL');
      assert.match(extendedAcls(tree), new RegExp(`user:${readerUid}:r-x`), 'the reader\'s grant is an ACL');
      assert.match(d.out(), /ACL GRANTED/);
      assert.ok(d.out().includes(tree), 'the grant names the path');
      // The domain that did not exist: created, and the writer's.
      const fresh = join(dir, 'fresh');
      assert.equal(statSync(fresh).uid, writerUid, 'a domain outheis created belongs to its agent');
      assert.equal(extendedAcls(fresh), '', 'and needs no ACL');
      allowed(ask(d, 'writer', 'write', { path: join(fresh, 'f'), data: 'f' }), 'write the fresh domain');
      assert.ok(existsSync(join(d.stateDir, 'acl-grants.json')), 'the grants standing are recorded');
    } finally {
      await stop(d);
    }
    assert.deepEqual(snapshot(tree), before, 'owners and modes of every pre-existing entry are as before');
    assert.equal(extendedAcls(tree), '', 'no ACL entry is left in the tree');
    assert.equal(existsSync(join(d.stateDir, 'acl-grants.json')), false);
    assert.equal(statSync(join(dir, 'fresh')).uid, writerUid!, 'the created domain stays its agent\'s');
  });

  test('a supervisor that died leaves its grants recorded; the next start takes them back even when the config no longer asks', async () => {
    const dir = world(tempDir('outheis-acl-crash-'));
    const tree = join(dir, 'theirs');
    const before = othersTree(tree);
    const code = pkg(join(dir, 'code'), 'dep', 'x');
    const d = await startDaemon(['agents:', agentLine('writer', code, `unveil: { ${tree}: rw }`)], { dir, waitReady: ['writer'] });
    await stop(d, 'SIGKILL');
    assert.notEqual(extendedAcls(tree), '', 'killed: the grant still stands');
    const again = await startDaemon(['agents:', agentLine('writer', code)], { dir, waitReady: ['writer'] });
    try {
      assert.equal(extendedAcls(tree), '', 'taken back at the next start');
      assert.deepEqual(snapshot(tree), before);
    } finally {
      await stop(again);
    }
  });

  test('without setfacl, a tree someone else owns refuses the start with the fix; a tree the agent\'s uid owns needs none', () => {
    const dir = world(tempDir('outheis-nosetfacl-'));
    const tree = join(dir, 'theirs');
    const before = othersTree(tree);
    const manifests = (uid: number) => {
      const agent = { name: 'w', ...manifestSchema(dir).parse({ run: 'a.js', unveil: { theirs: 'rw' } }) };
      return [{ dir, stateDir: join(dir, 'state'), order: ['w'], agents: { w: agent } }, new Map([['w', { uid, gid: uid, name: 'w' }]])] as const;
    };
    const tools = { setfacl: undefined, getfacl: undefined };
    assert.throws(() => prepareDomains(...manifests(61300), { tools }), /agents\.w\.unveil\.theirs: .*theirs belongs to uid 1234.*setfacl is not installed \(apt-get install acl\).*chown -R 61300:61300 .*theirs yourself/);
    assert.deepEqual(snapshot(tree), before);
    assert.deepEqual(prepareDomains(...manifests(OTHER), { tools }).grants, [], 'already the agent\'s uid: nothing to grant');
  });

  test('where ACLs cannot be set (ramfs), the agent is refused with the fix, and the tree is untouched', () => {
    const dir = world(tempDir('outheis-noacl-'));
    const mnt = world(join(dir, 'ramfs'));
    execFileSync('mount', ['-t', 'ramfs', 'none', mnt]);
    try {
      const tree = join(mnt, 'theirs');
      const before = othersTree(tree);
      const code = pkg(join(dir, 'code'), 'dep', 'x');
      writeFileSync(join(dir, 'outheis.yaml'), `agents:\n${agentLine('writer', code, `unveil: { ${tree}: rw }`)}\n`);
      const r = spawnSync(process.execPath, [CLI, 'start', '-c', join(dir, 'outheis.yaml')], { encoding: 'utf8', timeout: 30000 });
      assert.equal(r.status, 1, `start: ${r.stdout}${r.stderr}`);
      const msg = r.stderr;
      assert.match(msg, /agents\.writer\.unveil.*theirs: .*theirs belongs to uid 1234/);
      assert.match(msg, /Operation not supported/);
      assert.match(msg, /apt-get install acl/);
      assert.match(msg, /chown -R \d+:\d+ .*theirs yourself/);
      assert.deepEqual(snapshot(tree), before, 'owner and modes untouched');
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
