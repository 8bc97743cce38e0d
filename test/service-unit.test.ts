// `outheis service install`: the unit it prints, as systemd itself judges it
// (systemd-analyze verify and security --offline), and what install writes and
// reports on a machine where systemd is not PID 1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ROOTLESS_USER } from './helpers/daemon.js';
import { CLI, cliReadableBy, fixture } from './helpers/harness.js';
import { scratchDirs } from './helpers/scratch.js';
import { parseConfig } from '../supervisor/config/index.js';
import { TERM_GRACE_MS } from '../supervisor/terminate.js';
import { renderUnit, serviceType, STOP_MARGIN_MS, stopBudgetMs, unitWord, type HostFacts } from '../supervisor/service/unit.js';
import { parseSystemdVersion } from '../supervisor/service/systemd.js';

const tempDir = scratchDirs('outheis-unit-');
/** The issue's bar: systemd-analyze's "OK" ends at 4.5. */
const OK = 4.5;

/** A config with agents, shutdown budgets and an rw domain, in a directory whose name needs quoting and escaping. */
function config(lines: string[] = [], name = 'my outheis %h'): { dir: string; file: string } {
  const dir = join(tempDir(), name);
  mkdirSync(dir);
  const file = join(dir, 'outheis.yaml');
  writeFileSync(file, [
    'agents:',
    `  vault: { run: ${fixture('echo.js')}, owns: [data], shutdown: 10s }`,
    `  reader: { run: ${fixture('echo.js')}, after: [vault], unveil: { data: r }, shutdown: 2s }`,
    `  clock: { run: ${fixture('echo.js')} }`,
    ...lines,
    '',
  ].join('\n'));
  return { dir, file };
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}, argv0: string[] = []) {
  const cmd = [...argv0, process.execPath, CLI, ...args];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function printed(file: string, ...extra: string[]): string {
  const r = cli(['service', 'install', '--print', '-c', file, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** A user manager's analysis wants a runtime directory of its own. */
let runtimeDir: string | undefined;
function analyzeEnv(user: boolean): NodeJS.ProcessEnv {
  if (!user) return process.env;
  if (!runtimeDir) {
    runtimeDir = tempDir();
    chmodSync(runtimeDir, 0o700);
  }
  return { ...process.env, XDG_RUNTIME_DIR: runtimeDir };
}

/** systemd-analyze verify: exit 0, and nothing said about this unit. */
function verify(text: string, user = false, name = 'outheis.service'): void {
  const file = join(tempDir(), name);
  writeFileSync(file, text);
  const r = spawnSync('systemd-analyze', [...(user ? ['--user'] : []), 'verify', file], { encoding: 'utf8', env: analyzeEnv(user) });
  assert.equal(r.status, 0, `verify: ${r.stderr}`);
  assert.deepEqual(`${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes(name)), [], 'verify complains about the unit');
}

/** systemd-analyze security --offline=true: the overall exposure. */
function exposure(text: string, user = false): number {
  const file = join(tempDir(), 'outheis.service');
  writeFileSync(file, text);
  const r = spawnSync('systemd-analyze', [...(user ? ['--user'] : []), 'security', '--offline=true', file], { encoding: 'utf8', env: analyzeEnv(user) });
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(r.stdout);
  assert.ok(m, `no exposure level in: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

function rated(t: TestContext, what: string, text: string, user = false): number {
  verify(text, user);
  const score = exposure(text, user);
  t.diagnostic(`${what}: systemd-analyze security exposure ${score} (OK ≤ ${OK}; PM2's unit 9.6, supervisord's 9.6)`);
  assert.ok(score <= OK, `${what}: exposure ${score} is above ${OK}:\n${text}`);
  return score;
}

const directive = (text: string, key: string) => text.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

test('service install --print: verify finds nothing, security rates it OK, paths are absolute and quoted (the issue\'s case)', (t) => {
  const { dir, file } = config();
  const text = printed(file);
  rated(t, 'system unit, config under /tmp', text);
  const configReal = realpathSync(file);
  assert.deepEqual(directive(text, 'ExecStart'), [
    `${unitWord(realpathSync(process.execPath), true)} --max-semi-space-size=2 --v8-pool-size=1 ${realpathSync(CLI)} start -c "${configReal.replace(/%/g, '%%')}"`,
  ]);
  assert.deepEqual(directive(text, 'WorkingDirectory'), [realpathSync(dir).replace(/%/g, '%%')]);
  assert.deepEqual(directive(text, 'NotifyAccess'), ['main']);
  assert.deepEqual(directive(text, 'KillMode'), ['mixed']);
  assert.deepEqual(directive(text, 'Restart'), ['on-failure']);
  // A start that keeps failing ends in `failed`, not a loop every RestartSec: the limit is in [Unit], where systemd reads it.
  const unitSection = text.slice(text.indexOf('[Unit]'), text.indexOf('[Service]'));
  assert.match(unitSection, /^StartLimitIntervalSec=600s$/m);
  assert.match(unitSection, /^StartLimitBurst=5$/m);
  assert.deepEqual(directive(text, 'Delegate'), ['yes']);
  assert.deepEqual(directive(text, 'WatchdogSec'), ['30s']);
  // The rw domain (and the state_dir beside it) are the only writable places.
  const rw = directive(text, 'ReadWritePaths')[0] ?? '';
  assert.match(rw, /\/data"?( |$)/);
  assert.match(rw, /\/\.outheis"?( |$)/);
  assert.deepEqual(directive(text, 'ProtectSystem'), ['strict']);
  // Nothing here pledges net: no network at all for the service.
  assert.deepEqual(directive(text, 'PrivateNetwork'), ['yes']);
  assert.deepEqual(directive(text, 'RestrictAddressFamilies'), ['AF_UNIX AF_NETLINK']);
  // The config lies under /tmp, which PrivateTmp would hide from the service.
  assert.deepEqual(directive(text, 'PrivateTmp'), []);
  // The directives that break bubblewrap are absent (named only in the comments).
  for (const key of ['ProtectKernelTunables', 'ProtectKernelLogs', 'ProcSubset', 'PrivateUsers', 'MemoryDenyWriteExecute', 'ProtectControlGroups']) {
    assert.deepEqual(directive(text, key), [], key);
  }
  assert.ok(!directive(text, 'RestrictNamespaces')[0]?.split(' ').some((ns) => ns.startsWith('~')));
});

/**
 * Facts of a host where everything lives where a packaged install puts it, outheis too:
 * a checkout under /tmp (as CI clones) must not take PrivateTmp out of this case.
 */
function packagedFacts(overrides: Partial<HostFacts> = {}): HostFacts {
  return {
    scope: 'system', systemdVersion: 252, node: realpathSync(process.execPath), nodeFlags: ['--max-semi-space-size=2', '--v8-pool-size=1'],
    outheis: '/usr/lib/node_modules/outheis/dist/cli/main.js', configFile: '/etc/outheis/outheis.yaml', stateDir: '/var/lib/outheis', stateBase: '/var/lib',
    domains: [{ path: '/srv/vault', exists: true }], reads: ['/opt/agents/vault.js'], ...overrides,
  };
}

const packagedConfig = () => parseConfig({ agents: { vault: { run: 'vault.js', owns: ['/srv/vault'], shutdown: '10s' }, clock: { run: 'clock.js' } } }, '/etc/outheis/outheis.yaml');

test('installed where a package puts things: the whole set, and what each directive buys', (t) => {
  const text = renderUnit(packagedConfig(), packagedFacts()).text;
  const score = rated(t, 'system unit, /etc + /var/lib + /srv', text);
  assert.deepEqual(directive(text, 'StateDirectory'), ['outheis']);
  assert.deepEqual(directive(text, 'ReadWritePaths'), ['/srv/vault']);
  assert.deepEqual(directive(text, 'PrivateTmp'), ['yes']);
  assert.deepEqual(directive(text, 'ProtectHome'), ['yes']);
  // Each sandboxing line, taken out alone: the exposure never drops (none is dead weight that costs).
  const lines = text.split('\n');
  const from = lines.indexOf('# Sandboxing (outheis/supervisor/service/hardening.ts)');
  const to = lines.indexOf('# Left out:');
  assert.ok(from > 0 && to > from);
  const shares: string[] = [];
  lines.forEach((line, i) => {
    if (i <= from || i >= to || line.startsWith('#')) return;
    const without = exposure(lines.filter((_, j) => j !== i).join('\n'));
    assert.ok(without >= score, `without ${line} the exposure drops to ${without}`);
    shares.push(`${(without - score).toFixed(1)} ${line.length > 60 ? `${line.slice(0, 57)}...` : line}`);
  });
  t.diagnostic('exposure added by taking each directive out:');
  for (const share of shares) t.diagnostic(`  ${share}`);
});

test('an agent pledged net keeps the host\'s network, and the unit still rates OK', (t) => {
  const { file } = config(['  llm: { run: ' + fixture('echo.js') + ', pledge: [net] }']);
  const text = printed(file);
  rated(t, 'system unit with a net agent', text);
  assert.deepEqual(directive(text, 'PrivateNetwork'), []);
  assert.deepEqual(directive(text, 'IPAddressDeny'), []);
  assert.deepEqual(directive(text, 'RestrictAddressFamilies'), ['AF_UNIX AF_NETLINK AF_INET AF_INET6']);
  assert.deepEqual(directive(text, 'After'), ['network-online.target']);
  const cfg = parseConfig({ agents: { vault: { run: 'vault.js', owns: ['/srv/vault'] }, llm: { run: 'llm.js', pledge: ['net'] } } }, '/etc/outheis/outheis.yaml');
  rated(t, 'system unit with a net agent, /etc + /var/lib + /srv', renderUnit(cfg, packagedFacts()).text);
});

test('TimeoutStopSec is the agents\' shutdown budgets in a row, each with the SIGTERM grace, plus the margin', () => {
  const { file } = config();
  // vault 10s, reader 2s, clock the default 5s: terminate.ts gives each its budget, then TERM_GRACE_MS.
  const expect = (10_000 + 2_000 + 5_000 + 3 * TERM_GRACE_MS + STOP_MARGIN_MS) / 1000;
  assert.deepEqual(directive(printed(file), 'TimeoutStopSec'), [`${expect}s`]);
  writeFileSync(file, readFileSync(file, 'utf8').replace('shutdown: 10s', 'shutdown: 1m30s'));
  assert.deepEqual(directive(printed(file), 'TimeoutStopSec'), [`${expect + 80}s`]);
  const cfg = packagedConfig();
  assert.equal(stopBudgetMs(cfg), 10_000 + 5_000 + 2 * TERM_GRACE_MS + STOP_MARGIN_MS);
});

test('Type follows systemd\'s version: notify with ExecReload on 252, notify-reload from 253', () => {
  assert.equal(parseSystemdVersion('systemd 252 (252.38-1~deb12u1)\n+PAM +AUDIT'), 252);
  assert.equal(parseSystemdVersion('not systemd'), undefined);
  assert.equal(serviceType(252), 'notify');
  assert.equal(serviceType(253), 'notify-reload');
  assert.equal(serviceType(undefined), 'notify');
  const old = renderUnit(packagedConfig(), packagedFacts({ systemdVersion: 252 })).text;
  assert.deepEqual(directive(old, 'Type'), ['notify']);
  assert.deepEqual(directive(old, 'ExecReload'), ['/bin/kill -HUP $MAINPID']);
  const recent = renderUnit(packagedConfig(), packagedFacts({ systemdVersion: 254 })).text;
  assert.deepEqual(directive(recent, 'Type'), ['notify-reload']);
  assert.deepEqual(directive(recent, 'ExecReload'), [], 'notify-reload sends SIGHUP itself');
  // This machine's systemd is 252: the printed unit says so.
  assert.deepEqual(directive(printed(config().file), 'Type'), ['notify']);
});

test('--user: a rootless unit that verify --user accepts and security rates OK', (t) => {
  const { file } = config();
  const text = printed(file, '--user');
  rated(t, 'user unit', text, true);
  assert.deepEqual(directive(text, 'NotifyAccess'), ['all']);
  assert.deepEqual(directive(text, 'CapabilityBoundingSet'), ['']);
  assert.deepEqual(directive(text, 'User'), []);
  assert.deepEqual(directive(text, 'WantedBy'), ['default.target']);
  assert.deepEqual(directive(text, 'IPAddressDeny'), [], 'a user manager cannot attach BPF firewalls');
});

test('paths under /home make ProtectHome read-only, and blanks, % and $ are quoted and escaped', () => {
  const home = renderUnit(packagedConfig(), packagedFacts({ domains: [{ path: '/home/ann/vault', exists: true }] })).text;
  assert.deepEqual(directive(home, 'ProtectHome'), ['read-only']);
  assert.deepEqual(directive(home, 'ReadWritePaths'), ['/home/ann/vault']);
  verify(home);
  const missing = renderUnit(packagedConfig(), packagedFacts({ domains: [{ path: '/srv/new vault', exists: false }] }));
  assert.deepEqual(directive(missing.text, 'ReadWritePaths'), ['-"/srv/new vault"']);
  assert.match(missing.notes.join('\n'), /\/srv\/new vault does not exist yet/);
  verify(missing.text);
  assert.equal(unitWord('/a b/c%d'), '"/a b/c%%d"');
  assert.equal(unitWord('/x/$HOME', true), '/x/$$HOME');
  assert.equal(unitWord('/x/"q"'), '"/x/\\"q\\""');
  assert.throws(() => unitWord('/x\ny'), /control character/);
});

test('install as root: the unit is written 0644 as --print shows it, and systemctl\'s failure is exit 1 with how to finish', () => {
  const { file } = config([], 'conf');
  const units = tempDir();
  // A tight umask must not leave the unit unreadable to systemd.
  const r = cli(['service', 'install', '-c', file], { OUTHEIS_SYSTEMD_UNIT_DIR: units }, ['sh', '-c', 'umask 077; exec "$@"', 'sh']);
  const unit = join(units, 'outheis.service');
  assert.equal(statSync(unit).mode & 0o777, 0o644);
  assert.equal(readFileSync(unit, 'utf8'), printed(file));
  assert.match(r.stdout, new RegExp(`wrote ${unit}`));
  // systemd is not PID 1 here: daemon-reload fails, and says what to do.
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /systemctl daemon-reload failed: \S/);
  assert.match(r.stderr, /The unit is written .*outheis\.service.*systemctl daemon-reload && systemctl enable --now outheis/);
  // state_dir is the supervisor's own: made now, since ProtectSystem=strict would forbid the service to.
  const state = join(file, '../.outheis');
  assert.equal(statSync(state).mode & 0o777, 0o700);
  assert.deepEqual(readdirSync(units), ['outheis.service'], 'no temp file left behind');
});

test('--name names the unit; a name systemd would not take is refused', () => {
  const { file } = config([], 'conf');
  const units = tempDir();
  const r = cli(['service', 'install', '--name', 'outheis-lab', '-c', file], { OUTHEIS_SYSTEMD_UNIT_DIR: units });
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(readdirSync(units), ['outheis-lab.service']);
  assert.match(r.stderr, /enable --now outheis-lab/);
  for (const bad of ['a/b', 'web@1', '']) {
    const refused = cli(['service', 'install', '--print', '--name', bad, '-c', file]);
    assert.equal(refused.code, 2, `${bad}: ${refused.stdout}`);
    assert.match(refused.stderr, /--name: .* is not a unit name/);
  }
});

test('install refuses --user as root, and a system unit as a non-root user, writing nothing', () => {
  const { file } = config([], 'conf');
  const units = tempDir();
  chmodSync(units, 0o777);
  const asRoot = cli(['service', 'install', '--user', '-c', file], { OUTHEIS_SYSTEMD_UNIT_DIR: units });
  assert.equal(asRoot.code, 2);
  assert.match(asRoot.stderr, /--user is for a rootless supervisor.*drop --user/);
  const cmd = ['setpriv', `--reuid=${ROOTLESS_USER}`, '--regid=nogroup', '--clear-groups', process.execPath, cliReadableBy(ROOTLESS_USER), 'service', 'install', '-c', file];
  const rootless = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', env: { ...process.env, OUTHEIS_SYSTEMD_UNIT_DIR: units } });
  assert.equal(rootless.status, 2, rootless.stderr);
  assert.match(rootless.stderr, /run this as root, or pass --user/);
  assert.deepEqual(readdirSync(units), []);
  assert.ok(!existsSync(join(file, '../.outheis')), 'no state_dir made by a refused install');
});
