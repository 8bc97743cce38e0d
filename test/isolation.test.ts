// The sandbox, proven by a hostile agent (test/fixtures/attacker.js) against a real
// supervisor started as root through the real CLI. Each attack must be refused by
// the OS while the supervisor and the other agents carry on, and each refusal has a
// matching grant beside it, so that a refusal for the wrong reason cannot pass.
// (Long on purpose: one hostile agent, one supervisor per mode, and every attack
// beside its grant; the attacks share the fixture and its setup in root and rootless mode.)
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test, type TestContext } from 'node:test';
import type { StatusResult } from '../supervisor/control/protocol.js';
import { ROOTLESS_USER, agentOf, rawAsk, startDaemon, stop, type Daemon } from './helpers/daemon.js';
import { CLI, ROOT, fixture, processesMatching, until } from './helpers/harness.js';

// ---- the attacker's replies ---------------------------------------------------

interface Outcome { ok: boolean; code?: string; detail?: string }

/** Every code that means "the OS (or Node's permission model) said no", or "that does not exist here". */
const DENIED = ['EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ERR_ACCESS_DENIED'];
const SDK = join(ROOT, 'dist/workers/sdk.js');
const SECRET = 'hunter2';

const show = (o: unknown) => JSON.stringify(o);

function refused(o: Outcome, what: string, codes: string[] = DENIED): void {
  assert.equal(o.ok, false, `${what}: expected it to be refused, but it succeeded: ${show(o)}`);
  assert.ok(o.code !== undefined && codes.includes(o.code), `${what}: refused, but not with one of ${codes.join('/')}: ${show(o)}`);
}

function allowed(o: Outcome, what: string): void {
  assert.equal(o.ok, true, `${what}: expected it to be allowed, but it failed: ${show(o)}`);
}

// ---- a supervisor with attackers in it --------------------------------------------

/** A world-traversable directory of its own (mkdtemp makes 0700, which a dropped uid cannot enter). */
function worldDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

function mkdir755(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o755 });
  chmodSync(path, 0o755);
  return path;
}

/** code/<name>/attacker.js, 0755 and 0644: the sandbox binds an agent's code directory, so each gets one. */
function codeDir(dir: string, name: string): string {
  const code = mkdir755(join(dir, 'code', name));
  copyFileSync(fixture('attacker.js'), join(code, 'attacker.js'));
  writeFileSync(join(code, 'package.json'), '{ "type": "module" }\n');
  chmodSync(join(code, 'attacker.js'), 0o644);
  chmodSync(join(code, 'package.json'), 0o644);
  return code;
}

/** One agent's YAML line; `rest` is the rest of its flow mapping. */
const agentLine = (name: string, rest = '') => `  ${name}: { run: code/${name}/attacker.js, args: ["--sdk=${SDK}"]${rest ? `, ${rest}` : ''} }`;

interface Setup { d: Daemon; dir: string }

/** Start a supervisor on `agents` (name → the rest of its flow mapping), with data/<sub> directories made first. */
/** Root: a uid per agent. Rootless: the whole supervisor runs as nobody (setpriv), agents in user namespaces. */
const MODES = process.getuid!() === 0 ? (['root', 'rootless'] as const) : (['rootless'] as const);
type Mode = (typeof MODES)[number];
const NOBODY = 65534;

async function setUp(prefix: string, agents: Record<string, string>, data: string[], head: string[] = [], mode: Mode = 'root'): Promise<Setup> {
  const dir = worldDir(prefix);
  for (const sub of data) mkdir755(join(dir, 'data', sub));
  for (const name of Object.keys(agents)) codeDir(dir, name);
  process.env.OUTHEIS_TEST_SECRET = SECRET;
  try {
    const d = await startDaemon([
      'supervisor: { intensity: 50, period: 10s, backoff: { initial: 50ms, max: 500ms } }',
      ...head,
      'agents:',
      ...Object.entries(agents).map(([name, rest]) => agentLine(name, rest)),
    ], { dir, waitReady: Object.keys(agents), user: mode === 'rootless' && process.getuid!() === 0 ? ROOTLESS_USER : undefined });
    return { d, dir };
  } finally {
    delete process.env.OUTHEIS_TEST_SECRET;
  }
}

async function tearDown(s: Setup | undefined): Promise<void> {
  for (const c of clients) c.kill('SIGKILL');
  if (!s) return;
  await stop(s.d, 'SIGTERM');
  rmSync(s.dir, { recursive: true, force: true });
}

/** What each test's attacks got back, printed as the test's diagnostics. */
const seen: string[] = [];
afterEach((t) => {
  const lines = seen.splice(0);
  if ('diagnostic' in t) for (const line of lines) t.diagnostic(line);
});

/** Send one attack as the operator (`send --wait`) and return the attacker's reply. */
function attack(d: Daemon, agent: string, kind: string, body: object = {}): Outcome {
  const { reply } = rawAsk<{ reply: Outcome }>(d, { op: 'send', to: agent, kind, body, wait: true, timeout: 20_000 }, `send ${agent} ${kind} ${show(body)}`);
  if (kind !== 'ping' && kind !== 'whoami' && kind !== 'env') seen.push(`${agent} ${kind} ${show(body)} → ${show(reply).slice(0, 300)}`);
  return reply;
}

/** CLI clients still waiting for a reply: killed when their supervisor is torn down. */
const clients = new Set<ChildProcess>();

/** The same, without waiting for this process: for what the test does meanwhile. */
function attackLater(d: Daemon, agent: string, kind: string, body: object = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, 'send', agent, kind, JSON.stringify(body), '--wait', '--timeout', '60s', '--json'], { cwd: d.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    clients.add(p);
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (out += c));
    p.on('exit', (code) => {
      clients.delete(p);
      if (code !== 0) return reject(new Error(`outheis send ${agent} ${kind} exited ${code}: ${out}`));
      resolve((JSON.parse(out) as { reply: Outcome }).reply);
    });
  });
}

const status = (d: Daemon) => rawAsk<StatusResult>(d, { op: 'status' }, 'status');

interface Who { uid: number; gid: number; groups: number[]; pid: number }
function whoami(d: Daemon, agent: string): Who {
  const o = attack(d, agent, 'whoami');
  allowed(o, `${agent} whoami`);
  return JSON.parse(o.detail!) as Who;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A TCP server on 127.0.0.1 for agents to try to reach, closed after the test. */
async function listener(t: TestContext): Promise<{ port: number; fromOthers(): Promise<number> }> {
  let taken = 0;
  let own = 0; // the test's own connections: the only ones that say something
  const server = createServer((c) => {
    taken++;
    c.on('error', () => undefined);
    c.once('data', () => own++);
    c.end();
  });
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    /**
     * How many connections others made so far. Connections are taken in the order
     * they were made: once one the test makes now has been taken, so has any made before it.
     */
    async fromOthers() {
      const before = own;
      const c = connect(port, '127.0.0.1', () => c.end('x'));
      c.on('error', () => undefined);
      await until('the test\'s own connection to be taken', () => (own > before ? true : undefined));
      return taken - own;
    },
  };
}

/** After an attack: the supervisor is up, these agents run with no restart, and `bystander` answers. */
function carriesOn(d: Daemon, calm: string[], bystander = 'bystander'): void {
  assert.equal(d.proc.exitCode, null, `the supervisor exited:\n${d.out().slice(-4000)}`);
  const st = status(d);
  assert.ok(isAlive(st.supervisor.pid), 'the supervisor is alive');
  for (const name of calm) {
    const a = st.agents.find((x) => x.name === name);
    assert.ok(a, `no agent ${name} in status`);
    assert.equal(a.state, 'running', `${name} is not running: ${show(a)}`);
    assert.equal(a.restarts, 0, `${name} was restarted: ${show(a)}`);
  }
  allowed(attack(d, bystander, 'ping'), `${bystander} ping`);
}


// ---- one supervisor, six agents, most attacks ---------------------------------

for (const mode of MODES) describe(`isolation (${mode}): a hostile agent among others`, () => {
  let s: Setup | undefined;
  let d: Daemon;
  let dir: string;
  const calm = ['victim', 'reader', 'attacker', 'granted', 'deep', 'bystander'];
  const vaultFile = () => join(dir, 'data/vault/secret.txt');
  const vaultText = 'the victim wrote this';

  before(async () => {
    s = await setUp('outheis-isolation-', {
      victim: 'owns: [data/vault], unveil: { data/vault: rw }',
      reader: 'unveil: { data/vault: r }',
      attacker: 'unveil: { data/scratch: rw }, limits: { nproc: 32, memory: 256MiB, nofile: 64 }',
      granted: 'pledge: [net, spawn, worker], unveil: { data/open: rw }, env: [OUTHEIS_TEST_SECRET]',
      // pledges spawn, so its children run without Node's permission model: the OS layers alone
      deep: 'pledge: [spawn], unveil: { data/vault: r, data/deep: rw }, limits: { nproc: 64 }',
      bystander: '',
    }, ['vault', 'scratch', 'open', 'deep'], [], mode);
    d = s.d;
    dir = s.dir;
    // The owner writes its domain; other tests read it.
    allowed(attack(d, 'victim', 'write', { path: vaultFile(), data: vaultText }), 'victim writes its own vault');
  });
  after(() => tearDown(s));

  test('1. writes outside rw paths are refused; its own rw directory is writable, as its own uid', () => {
    const stray = `/tmp/outheis-isolation-x-${process.pid}`;
    try {
      refused(attack(d, 'attacker', 'write', { path: join(dir, 'code/attacker/attacker.js'), probe: true }), 'attacker rewrites its own code');
      refused(attack(d, 'attacker', 'write', { path: join(dir, 'code/attacker/dropped.js') }), 'attacker drops a file into its code directory');
      refused(attack(d, 'attacker', 'write', { path: join(dir, 'data/vault/forged.txt') }), 'attacker writes into the victim\'s vault');
      refused(attack(d, 'attacker', 'write', { path: vaultFile(), probe: true }), 'attacker opens the victim\'s file for writing');
      refused(attack(d, 'attacker', 'write', { path: stray }), `attacker writes ${stray}`);
      refused(attack(d, 'attacker', 'write', { path: '/etc/passwd', probe: true }), 'attacker opens /etc/passwd for writing');
      assert.equal(existsSync(join(dir, 'code/attacker/dropped.js')), false, 'nothing dropped into the code directory');
      assert.equal(existsSync(join(dir, 'data/vault/forged.txt')), false, 'nothing forged in the vault');
      assert.equal(existsSync(stray), false, `${stray} does not exist on the host`);
      assert.equal(readFileSync(vaultFile(), 'utf8'), vaultText, 'the victim\'s file is intact');
    } finally {
      rmSync(stray, { force: true });
    }
    // The grant: its own rw directory, and the file is the agent's, not root's.
    const mine = join(dir, 'data/scratch/mine.txt');
    allowed(attack(d, 'attacker', 'write', { path: mine, data: 'mine' }), 'attacker writes its own scratch directory');
    assert.equal(readFileSync(mine, 'utf8'), 'mine');
    const me = whoami(d, 'attacker');
    const owner = statSync(mine).uid;
    assert.notEqual(owner, 0, `the file the attacker wrote is owned by root (agent: ${show(me)})`);
    assert.equal(owner, me.uid, 'the file is owned by the agent\'s uid');
    assert.equal(statSync(vaultFile()).uid, whoami(d, 'victim').uid, 'the vault file is owned by the victim\'s uid');
    if (mode === 'rootless') assert.equal(owner, NOBODY, 'rootless: agents write as the supervisor\'s own user');
    carriesOn(d, calm);
  });

  test('2. reads: /etc/shadow and other agents\' domains are refused; an r unveil of an owned domain reads, but cannot write', () => {
    assert.ok(readFileSync('/etc/shadow').length > 0, 'the test itself can read /etc/shadow: there is something to steal');
    refused(attack(d, 'attacker', 'read', { path: '/etc/shadow' }), 'attacker reads /etc/shadow');
    refused(attack(d, 'reader', 'read', { path: '/etc/shadow' }), 'reader reads /etc/shadow');
    const read = attack(d, 'reader', 'read', { path: vaultFile() });
    allowed(read, 'reader reads the vault it unveiled r');
    assert.equal(read.detail, vaultText);
    refused(attack(d, 'attacker', 'read', { path: vaultFile() }), 'attacker reads the victim\'s vault');
    refused(attack(d, 'reader', 'write', { path: join(dir, 'data/vault/by-reader.txt') }), 'reader (not the owner) writes into the vault', ['EROFS', 'EACCES', 'EPERM', 'ERR_ACCESS_DENIED']);
    refused(attack(d, 'reader', 'write', { path: vaultFile(), probe: true }), 'reader opens the victim\'s file for writing', ['EROFS', 'EACCES', 'EPERM', 'ERR_ACCESS_DENIED']);
    assert.equal(existsSync(join(dir, 'data/vault/by-reader.txt')), false);
    // Its own code is readable (the sandbox binds it), so the reads above failed for the right reason.
    allowed(attack(d, 'attacker', 'read', { path: join(dir, 'code/attacker/attacker.js') }), 'attacker reads its own code');
    refused(attack(d, 'attacker', 'read', { path: join(dir, 'code/victim/attacker.js') }), 'attacker reads another agent\'s code directory');
    carriesOn(d, calm);
  });

  test('3. environment: the supervisor\'s secrets do not reach an agent that did not name them, nor through /proc', () => {
    const sup = status(d).supervisor.pid;
    assert.match(readFileSync(`/proc/${sup}/environ`, 'utf8'), new RegExp(`OUTHEIS_TEST_SECRET=${SECRET}`), 'the supervisor holds the secret');
    const env = attack(d, 'attacker', 'env');
    allowed(env, 'attacker reads its env');
    const vars = JSON.parse(env.detail!) as Record<string, string>;
    assert.equal(vars.OUTHEIS_TEST_SECRET, undefined, `the secret reached the attacker: ${env.detail}`);
    assert.equal(vars.OUTHEIS_AGENT, 'attacker', `the probe reads the agent's real env: ${env.detail}`);
    assert.ok(!JSON.stringify(vars).includes(SECRET), `the secret's value is somewhere in the attacker's env: ${env.detail}`);
    // The grant: an agent that names the variable gets it.
    const grantedEnv = JSON.parse(attack(d, 'granted', 'env').detail!) as Record<string, string>;
    assert.equal(grantedEnv.OUTHEIS_TEST_SECRET, SECRET, 'env: [OUTHEIS_TEST_SECRET] passes it');
    const environ = attack(d, 'attacker', 'environ', { pid: sup });
    refused(environ, 'attacker reads the supervisor\'s /proc/<pid>/environ', [...DENIED, 'ESRCH']);
    assert.ok(!(environ.detail ?? '').includes(SECRET));
    const sibling = agentOf(d, 'granted').pid!;
    refused(attack(d, 'attacker', 'environ', { pid: sibling }), 'attacker reads a sibling\'s /proc/<pid>/environ', [...DENIED, 'ESRCH']);
    carriesOn(d, calm);
  });

  test('3b. the control socket and the config are out of reach, even with the net pledge', () => {
    const sock = join(d.stateDir, 'outheis.sock');
    const config = join(dir, 'outheis.yaml');
    // The grant: the operator reaches it (status works), and the file is there.
    assert.ok(existsSync(sock) && existsSync(config));
    for (const name of ['attacker', 'granted']) {
      refused(attack(d, name, 'connect', { path: sock }), `${name} connects to the control socket`, [...DENIED, 'ECONNREFUSED']);
      refused(attack(d, name, 'read', { path: config }), `${name} reads the config`);
      refused(attack(d, name, 'read', { path: 'outheis.yaml' }), `${name} reads the config by a path relative to its cwd`);
    }
    refused(attack(d, 'deep', 'nested', { kind: 'connect', body: { path: sock } }), 'deep\'s child connects to the control socket', [...DENIED, 'ECONNREFUSED']);
    refused(attack(d, 'deep', 'nested', { kind: 'read', body: { path: config } }), 'deep\'s child reads the config');
    refused(attack(d, 'deep', 'nested', { kind: 'read', body: { path: 'outheis.yaml' } }), 'deep\'s child reads the config by a relative path');
    carriesOn(d, calm);
  });

  test('4. network: no connection without the net pledge; with it, one', async (t) => {
    const { port, fromOthers } = await listener(t);
    const denied = attack(d, 'attacker', 'connect', { port });
    refused(denied, `attacker connects to 127.0.0.1:${port}`, ['ECONNREFUSED', 'ENETUNREACH', 'EACCES', 'EPERM', 'ERR_ACCESS_DENIED', 'ETIMEDOUT']);
    const fromAttacker = await fromOthers();
    assert.equal(fromAttacker, 0, `the server saw ${fromAttacker} connection(s) from the attacker`);
    allowed(attack(d, 'granted', 'connect', { port }), `granted (pledge net) connects to 127.0.0.1:${port}`);
    assert.equal(await fromOthers(), 1, 'the server saw the granted connection');
    carriesOn(d, calm);
  });

  test('5. child processes and workers: refused without spawn/worker pledges, allowed with them', () => {
    refused(attack(d, 'attacker', 'spawn'), 'attacker spawns node', ['ERR_ACCESS_DENIED']);
    refused(attack(d, 'attacker', 'worker'), 'attacker starts a worker', ['ERR_ACCESS_DENIED']);
    refused(attack(d, 'bystander', 'spawn'), 'bystander (no pledges) spawns node', ['ERR_ACCESS_DENIED']);
    allowed(attack(d, 'granted', 'spawn'), 'granted (pledge spawn) spawns node');
    allowed(attack(d, 'granted', 'worker'), 'granted (pledge worker) starts a worker');
    carriesOn(d, calm);
  });

  test('7. file descriptors: nothing above the channel is inherited', (t) => {
    // The control: an fd the agent opens itself is seen, so the probe can see a stray one.
    const control = attack(d, 'attacker', 'fds', { control: true });
    allowed(control, 'the fd probe sees an fd the agent opened itself');
    // This test cannot plant a stray fd in the supervisor (startDaemon spawns it
    // directly), but one it inherited from whoever ran the tests shows up here.
    const closed = /closed inherited file descriptors.*/.exec(d.out());
    if (closed) t.diagnostic(`the supervisor inherited stray fds: ${closed[0].slice(0, 200)}`);
    for (const name of calm) {
      const o = attack(d, name, 'fds');
      assert.equal(o.ok, false, `${name} has fds it did not open (foreign: regular files, sockets, devices, lone pipe ends): ${o.detail}`);
    }
    carriesOn(d, calm);
  });

  test('10. symlinks: a link in its rw directory does not reach outside it', () => {
    const scratch = join(dir, 'data/scratch');
    for (const target of ['/etc/passwd', '/etc/shadow', vaultFile()]) {
      const o = attack(d, 'attacker', 'symlink', { dir: scratch, target });
      refused(o, `attacker reads ${target} through ${scratch}/link`);
    }
    // The targets are there to be read by those entitled to them.
    assert.ok(readFileSync('/etc/passwd', 'utf8').includes('root:'));
    allowed(attack(d, 'reader', 'read', { path: vaultFile() }), 'reader reads the vault file');
    carriesOn(d, calm);
  });

  test('11. whoami: each agent its own uid and gid (root), none root, no supplementary groups', () => {
    const who = Object.fromEntries(calm.map((name) => [name, whoami(d, name)]));
    const layers = d.cliJson<{ agents: { name: string; isolation: { layers: string[]; weaker: boolean; cgroup?: string; sampled?: string[] } }[] }>(['status']).agents;
    for (const a of layers) {
      // Rootless here, no cgroup can be written (v1 is root's, nothing delegated on v2):
      // the cgroup fallback, shown WEAKER for that alone. As root: a v1 group each.
      if (mode === 'rootless') assert.ok(a.isolation.weaker && a.isolation.cgroup === undefined && a.isolation.sampled !== undefined, `${a.name}: ${show(a.isolation)}`);
      else assert.ok(!a.isolation.weaker && a.isolation.cgroup === 'v1' && a.isolation.layers.includes('cgroup'), `${a.name} runs weaker: ${show(a.isolation)}`);
    }
    if (mode === 'rootless') {
      // No uid to give away without root: every agent is the supervisor's user, mapped
      // into its own user namespace, and the other layers hold (tests 1-10, 12, 13).
      for (const [name, w] of Object.entries(who)) assert.equal(w.uid, NOBODY, `${name}: ${show(w)}`);
      for (const a of layers) assert.ok(!a.isolation.layers.includes('uid') && a.isolation.layers.includes('namespaces') && a.isolation.layers.includes('permission'), show(a.isolation));
      carriesOn(d, calm);
      return;
    }
    for (const a of layers) assert.ok(a.isolation.layers.includes('uid'), show(a.isolation));
    const uids = new Set(Object.values(who).map((w) => w.uid));
    const gids = new Set(Object.values(who).map((w) => w.gid));
    assert.equal(uids.size, calm.length, `uids are not all different: ${show(who)}`);
    assert.equal(gids.size, calm.length, `gids are not all different: ${show(who)}`);
    for (const [name, w] of Object.entries(who)) {
      assert.notEqual(w.uid, 0, `${name} runs as uid 0: ${show(w)}`);
      assert.notEqual(w.gid, 0, `${name} runs as gid 0: ${show(w)}`);
      assert.ok(w.groups.every((g) => g === w.gid), `${name} has supplementary groups: ${show(w)}`);
    }
    carriesOn(d, calm);
  });

  // ---- below Node's permission model --------------------------------------------------

  test('12. below Node\'s permission model: a child of an agent pledged spawn is still held by uid, namespaces and rlimits', async (t) => {
    const nested = (kind: string, body: object = {}) => attack(d, 'deep', 'nested', { kind, body });
    // The control: the child really is outside the permission model (its parent cannot read /proc/self/status).
    refused(attack(d, 'deep', 'creds'), 'deep reads /proc/self/status under the permission model', ['ERR_ACCESS_DENIED']);
    const credsOutcome = nested('creds');
    allowed(credsOutcome, 'deep\'s child reads /proc/self/status');
    const creds = JSON.parse(credsOutcome.detail!) as Record<string, string>;
    const me = whoami(d, 'deep');
    assert.deepEqual(creds.Uid!.split(/\s+/).map(Number), [me.uid, me.uid, me.uid, me.uid], `real, effective, saved and fs uid are the agent's: ${show(creds)}`);
    assert.deepEqual(creds.Gid!.split(/\s+/).map(Number), [me.gid, me.gid, me.gid, me.gid], `gids: ${show(creds)}`);
    assert.ok(creds.Groups === '' || creds.Groups === String(me.gid), `no supplementary groups: ${show(creds)}`);
    assert.equal(creds.NoNewPrivs, '1', `no_new_privs: ${show(creds)}`);
    for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.match(creds[cap] ?? '', /^0+$/, `${cap} is empty: ${show(creds)}`);

    // The file system: only what it unveiled exists, read-only unless rw.
    const dataDeep = join(dir, 'data/deep');
    const ownFile = join(dataDeep, 'nested.txt');
    allowed(nested('write', { path: ownFile, data: 'deep' }), 'deep\'s child writes its rw directory');
    assert.equal(statSync(ownFile).uid, me.uid, 'as the agent\'s uid');
    const read = nested('read', { path: vaultFile() });
    allowed(read, 'deep\'s child reads the vault it unveiled r');
    assert.equal(read.detail, vaultText);
    refused(nested('write', { path: vaultFile(), probe: true }), 'deep\'s child opens the vault file for writing', ['EROFS', 'EACCES', 'EPERM']);
    refused(nested('write', { path: join(dir, 'data/vault/by-deep.txt') }), 'deep\'s child writes into the vault', ['EROFS', 'EACCES', 'EPERM']);
    refused(nested('write', { path: join(dir, 'code/deep/dropped.js') }), 'deep\'s child writes its code directory', ['EROFS', 'EACCES', 'EPERM']);
    refused(nested('write', { path: '/etc/passwd', probe: true }), 'deep\'s child opens /etc/passwd for writing');
    refused(nested('read', { path: '/etc/shadow' }), 'deep\'s child reads /etc/shadow');
    refused(nested('read', { path: join(dir, 'code/victim/attacker.js') }), 'deep\'s child reads another agent\'s code');
    refused(nested('read', { path: join(dir, 'data/scratch/mine.txt') }), 'deep\'s child reads another agent\'s rw directory');
    refused(nested('read', { path: join(dir, '.outheis/outheis.pid') }), 'deep\'s child reads the supervisor\'s state directory');
    const stray = `/tmp/outheis-isolation-deep-${process.pid}`;
    try {
      nested('write', { path: stray }); // may succeed in a private /tmp; it must not reach the host's
      assert.equal(existsSync(stray), false, `${stray} reached the host's /tmp`);
    } finally {
      rmSync(stray, { force: true });
    }
    for (const p of [join(dir, 'code/deep/dropped.js'), join(dir, 'data/vault/by-deep.txt')]) assert.equal(existsSync(p), false, `${p} exists`);
    assert.equal(readFileSync(vaultFile(), 'utf8'), vaultText);

    // Symlinks can be made here (no permission model), but lead only where it may go anyway.
    for (const target of ['/etc/shadow', join(dir, 'code/victim/attacker.js'), join(dir, 'data/scratch/mine.txt')]) {
      refused(nested('symlink', { dir: dataDeep, target }), `deep's child reads ${target} through a link`);
    }
    const viaLink = nested('symlink', { dir: dataDeep, target: vaultFile() });
    allowed(viaLink, 'deep\'s child reads the vault (which it may) through a link');
    assert.equal(viaLink.detail, vaultText);

    // Other processes and the network.
    const st = status(d);
    const sup = st.supervisor.pid;
    const victim = st.agents.find((a) => a.name === 'victim')!.pid!;
    refused(nested('kill', { pid: sup, signal: 'SIGKILL' }), 'deep\'s child SIGKILLs the supervisor', ['ESRCH', 'EPERM']);
    refused(nested('kill', { pid: victim, signal: 'SIGKILL' }), 'deep\'s child SIGKILLs the victim', ['ESRCH', 'EPERM']);
    refused(nested('environ', { pid: sup }), 'deep\'s child reads the supervisor\'s environ', [...DENIED, 'ESRCH']);
    assert.ok(isAlive(sup) && isAlive(victim));
    const { port, fromOthers } = await listener(t);
    refused(nested('connect', { port }), 'deep\'s child connects to the host', ['ECONNREFUSED', 'ENETUNREACH', 'EACCES', 'EPERM', 'ETIMEDOUT']);
    const fromChild = await fromOthers();
    assert.equal(fromChild, 0, `the server saw ${fromChild} connection(s) from deep's child`);
    const fds = nested('fds');
    assert.equal(fds.ok, false, `deep's child has fds it did not open: ${fds.detail}`);
    carriesOn(d, calm);
  });

  test('13. open files: limits.nofile stops an agent that opens without bound (EMFILE)', () => {
    allowed(attack(d, 'attacker', 'openmany', { n: 10 }), 'attacker opens 10 files');
    const o = attack(d, 'attacker', 'openmany', { n: 200 });
    refused(o, 'attacker opens 200 files under nofile: 64', ['EMFILE']);
    assert.ok(Number(o.detail) < 64, `it opened ${o.detail} files: ${show(o)}`);
    // No limit set: the same attack goes through, so the limit, not the attack, stopped it.
    allowed(attack(d, 'bystander', 'openmany', { n: 200 }), 'bystander (no nofile limit) opens 200 files');
    carriesOn(d, calm);
  });
});

// ---- attacks that take a supervisor of their own --------------------------------------

for (const mode of MODES) test(`6. signals: an agent cannot kill the supervisor or a sibling (${mode})`, async (t) => {
  let s: Setup | undefined;
  t.after(() => tearDown(s));
  s = await setUp('outheis-isolation-sig-', { attacker: '', sibling: '', bystander: '' }, [], [], mode);
  const d = s.d;
  const st = status(d);
  const sup = st.supervisor.pid;
  const sibling = st.agents.find((a) => a.name === 'sibling')!.pid!;
  assert.ok(isAlive(sup) && isAlive(sibling));
  // The grant: it may signal itself, so kill() works and the refusals below are the sandbox's.
  const me = whoami(d, 'attacker');
  allowed(attack(d, 'attacker', 'kill', { pid: me.pid, signal: 0 }), 'attacker signals itself (signal 0)');
  refused(attack(d, 'attacker', 'kill', { pid: sibling, signal: 'SIGKILL' }), `attacker SIGKILLs its sibling (pid ${sibling})`, ['ESRCH', 'EPERM']);
  refused(attack(d, 'attacker', 'kill', { pid: sup, signal: 'SIGKILL' }), `attacker SIGKILLs the supervisor (pid ${sup})`, ['ESRCH', 'EPERM']);
  // A process SIGKILLed runs no more code of its own: the sibling answering, through the
  // supervisor, after the attacks shows that neither was hit (carriesOn: and not restarted).
  allowed(attack(d, 'sibling', 'ping'), 'the sibling answers after the attacks');
  assert.ok(isAlive(sup), 'the supervisor is alive');
  assert.ok(isAlive(sibling), 'the sibling is alive');
  carriesOn(d, ['attacker', 'sibling', 'bystander']);
});

for (const mode of MODES) test(`8. fork bomb: nproc stops it (EAGAIN), and the supervisor answers meanwhile (${mode})`, async (t) => {
  let s: Setup | undefined;
  t.after(() => tearDown(s));
  s = await setUp('outheis-isolation-fork-', {
    bomber: 'pledge: [spawn], limits: { nproc: 16 }',
    bystander: '',
  }, [], [], mode);
  const d = s.d;
  const bomber = agentOf(d, 'bomber').pid!;
  const bomb = attackLater(d, 'bomber', 'forkbomb', { n: 200, hold: 3000 });
  await until('the bomber to hold its children', () => (processesMatching('outheis-forkbomb-holding').some((l) => Number(l.trim().split(/\s+/)[0]) === bomber) ? true : undefined));
  // While it holds what it started: the supervisor answers and the bystander carries on.
  const during = status(d);
  assert.ok(isAlive(during.supervisor.pid));
  allowed(attack(d, 'bystander', 'ping'), 'bystander ping during the bomb');
  const o = await bomb;
  seen.push(`bomber forkbomb {n: 200} → ${show(o)}`);
  const started = Number(o.detail);
  assert.equal(o.ok, false, `the bomb started all 200 children: ${show(o)}`);
  assert.ok(started < 200, `started ${started}: ${show(o)}`);
  assert.equal(o.code, 'EAGAIN', `the fork that failed failed with EAGAIN: ${show(o)}`);
  // The grant: with the same pledge it could start one child, so the limit, not the pledge, stopped it.
  assert.ok(started >= 1, `the bomber could not start even one child (is the limit or the pledge stopping it?): ${show(o)}`);
  carriesOn(d, ['bystander']);
});

for (const mode of MODES) test(`9. memory bomb: killed for it and restarted; the others carry on (${mode})`, async (t) => {
  let s: Setup | undefined;
  t.after(() => tearDown(s));
  s = await setUp('outheis-isolation-mem-', {
    hog: 'limits: { memory: 128MiB }',
    bystander: '',
  }, [], ['metrics: { interval: 200ms }'], mode);
  const d = s.d;
  const sent = d.cli(['send', 'hog', 'membomb', '{}']);
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  const hog = await until('the hog to be restarted', () => {
    const a = agentOf(d, 'hog');
    return a.restarts >= 1 && a.lastExit ? a : undefined;
  }, 30000);
  const exit = hog.lastExit!;
  assert.equal(exit.clean, false, `the hog's exit counts as a failure: ${show(exit)}`);
  assert.ok(/memory/i.test(exit.reason) || exit.signal !== null || (exit.code ?? 0) !== 0, `the hog exited abnormally: ${show(exit)}`);
  t.diagnostic(`hog's last exit: ${show(exit)}`);
  await until('the hog to run again', () => (agentOf(d, 'hog').state === 'running' ? true : undefined), 15000);
  allowed(attack(d, 'hog', 'ping'), 'the restarted hog answers');
  carriesOn(d, ['bystander']);
});

test('9b. heap bomb: the V8 heap cap from limits.memory stops it, with sampling off', async (t) => {
  let s: Setup | undefined;
  t.after(() => tearDown(s));
  s = await setUp('outheis-isolation-heap-', {
    heaphog: 'limits: { memory: 128MiB }',
    bystander: '',
  }, [], ['metrics: { interval: 0 }']);
  const d = s.d;
  // Up to 512 MiB on the heap: a reply means the heap grew to 4× the limit.
  let reply: Outcome | Error | undefined;
  attackLater(d, 'heaphog', 'heapbomb', { max: 512 * 2 ** 20 }).then((r) => (reply = r), (e: Error) => (reply = e));
  const how = await until('the heap hog to die or to reply', () => (agentOf(d, 'heaphog').restarts >= 1 ? 'restarted' : reply !== undefined ? 'replied' : undefined), 30000);
  assert.equal(how, 'restarted', `the heap grew past limits.memory (128 MiB): ${show(reply instanceof Error ? reply.message : reply)}`);
  const exit = agentOf(d, 'heaphog').lastExit!;
  seen.push(`heaphog's last exit: ${show(exit)}`);
  assert.equal(exit.clean, false, show(exit));
  await until('the heap hog to run again', () => (agentOf(d, 'heaphog').state === 'running' ? true : undefined), 15000);
  carriesOn(d, ['bystander']);
});

test('14. memory bomb in a child process: limits.memory holds for what an agent pledged spawn starts', async (t) => {
  let s: Setup | undefined;
  t.after(() => tearDown(s));
  s = await setUp('outheis-isolation-child-mem-', {
    parent: 'pledge: [spawn], limits: { memory: 128MiB }',
    bystander: '',
  }, [], ['metrics: { interval: 200ms }']);
  const d = s.d;
  // The child allocates 1 GiB outside the V8 heap (which no heap cap bounds) and holds it for 4 s.
  let reply: Outcome | Error | undefined;
  attackLater(d, 'parent', 'nested', { kind: 'membomb', body: { max: 2 ** 30, hold: 4000 } }).then((r) => (reply = r), (e: Error) => (reply = e));
  const how = await until('the parent to be restarted or its child to report', () => (agentOf(d, 'parent').restarts >= 1 ? 'restarted' : reply !== undefined ? 'replied' : undefined), 30000);
  if (how === 'replied') {
    // An allocation refused inside the child (an address-space rlimit, a cgroup's OOM kill) is enforcement too.
    const r = reply as Outcome;
    const stopped = !(reply instanceof Error) && r.ok === false && (/RangeError|ENOMEM|ERR_MEMORY/.test(r.code ?? '') || /SIGKILL|SIGABRT|memory/i.test(r.detail ?? ''));
    assert.ok(stopped, `a child of an agent limited to 128 MiB held 1 GiB: ${show(reply instanceof Error ? reply.message : reply)}`);
  } else {
    seen.push(`parent's last exit: ${show(agentOf(d, 'parent').lastExit)}`);
  }
  carriesOn(d, ['bystander']);
});

test('15. a link planted in a domain does not hand its target over when the supervisor starts again', async (t) => {
  let s: Setup | undefined;
  t.after(() => tearDown(s));
  const agents = { deep: 'pledge: [spawn], unveil: { data/deep: rw }', bystander: '' };
  s = await setUp('outheis-isolation-plant-', agents, ['deep']);
  const { d, dir } = s;
  // Canaries outside any domain, root's: a file and a directory with a file in it.
  const canary = join(dir, 'canary.txt');
  const canaryDir = mkdir755(join(dir, 'canary-dir'));
  writeFileSync(canary, 'root\'s');
  writeFileSync(join(canaryDir, 'inner.txt'), 'root\'s');
  const domain = join(dir, 'data/deep');
  // The child (no permission model) can make a link; it leads nowhere inside its namespace, and stays.
  refused(attack(d, 'deep', 'nested', { kind: 'symlink', body: { dir: domain, target: canary } }), 'deep\'s child reads a canary through a link');
  assert.ok(lstatSync(join(domain, 'link')).isSymbolicLink(), 'the planted link is there');
  // A second link, to the directory: made here by the test, as the agent could have made it.
  const me = whoami(d, 'deep');
  symlinkSync(canaryDir, join(domain, 'dirlink'));
  lchownSync(join(domain, 'dirlink'), me.uid, me.gid);
  await stop(d, 'SIGTERM');
  // The next start hands the domain to its agent again: not what its links point at.
  process.env.OUTHEIS_TEST_SECRET = SECRET;
  try {
    s.d = await startDaemon(readFileSync(d.file, 'utf8').trimEnd().split('\n'), { dir, waitReady: Object.keys(agents) });
  } finally {
    delete process.env.OUTHEIS_TEST_SECRET;
  }
  // Not chown-ed, nor granted an ACL, through a link; the domain (the test made it, as
  // root) keeps its owner, and the agent's uid has an ACL on it (policies/domains.ts).
  const acl = (p: string) => execFileSync('getfacl', ['-p', '--skip-base', p], { encoding: 'utf8' });
  for (const p of [canary, canaryDir, join(canaryDir, 'inner.txt')]) {
    assert.equal(statSync(p).uid, 0, `${p} was handed to uid ${statSync(p).uid}`);
    assert.equal(acl(p), '', `${p} was granted an ACL through a link`);
  }
  assert.equal(statSync(domain).uid, 0, 'the domain keeps its owner');
  assert.match(acl(domain), new RegExp(`user:${me.uid}:rwx`), 'the agent\'s uid has an ACL on its domain');
  carriesOn(s.d, ['deep', 'bystander']);
});
