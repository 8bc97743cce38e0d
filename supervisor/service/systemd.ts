// The facts of this host that a unit names (systemd's version, the real paths of
// node, outheis, the config and what it writes), and the two things `service
// install` asks of systemd: where units live, and systemctl.
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Config } from '../config/index.js';
import { resolveReal } from '../config/index.js';
import type { HostFacts, Scope } from './unit.js';

/** `systemd 252 (252.38-1~deb12u1)` → 252. */
export function parseSystemdVersion(text: string): number | undefined {
  const m = /^systemd (\d+)\b/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** systemctl's version, or systemd-analyze's where systemctl is missing (both ship with systemd). */
export function systemdVersion(): number | undefined {
  for (const tool of ['systemctl', 'systemd-analyze']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    const v = r.status === 0 ? parseSystemdVersion(r.stdout) : undefined;
    if (v !== undefined) return v;
  }
  return undefined;
}

const real = (p: string) => resolveReal(p).real;

/** The user's home: $HOME when set (a user manager sets it), else the password database's. */
const home = () => process.env.HOME || homedir();

export function hostFacts(cfg: Config, scope: Scope, run: { outheis: string; nodeFlags: readonly string[] }): HostFacts {
  const domains = Object.values(cfg.agents).flatMap((a) => [...a.owns, ...a.unveilResolved.map((u) => u.path)]);
  const reads = Object.values(cfg.agents).flatMap((a) => [a.run, ...(a.envFile ? [a.envFile] : [])]);
  return {
    scope,
    systemdVersion: systemdVersion(),
    node: realpathSync(process.execPath),
    nodeFlags: run.nodeFlags,
    outheis: realpathSync(run.outheis),
    configFile: realpathSync(cfg.file),
    stateDir: real(cfg.stateDir),
    stateBase: scope === 'system' ? '/var/lib' : undefined,
    domains: [...new Set(domains.map(real))].map((p) => ({ path: p, exists: existsSync(p) })),
    reads: reads.map(real),
  };
}

/**
 * Where the unit file goes. OUTHEIS_SYSTEMD_UNIT_DIR overrides it: for tests, and for
 * packaging (a package's root, or /usr/lib/systemd/system).
 */
export function unitDir(scope: Scope): string {
  const override = process.env.OUTHEIS_SYSTEMD_UNIT_DIR;
  if (override) return path.resolve(override);
  if (scope === 'system') return '/etc/systemd/system';
  return path.join(process.env.XDG_CONFIG_HOME || path.join(home(), '.config'), 'systemd/user');
}

export interface Ran { ok: boolean; command: string; why: string }

/** `systemctl [--user] args`; `why` is its own words (first line) when it fails. */
export function systemctl(scope: Scope, args: string[]): Ran {
  const argv = [...(scope === 'user' ? ['--user'] : []), ...args];
  const command = `systemctl ${argv.join(' ')}`;
  const r = spawnSync('systemctl', argv, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) return { ok: false, command, why: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'systemctl is not installed' : r.error.message };
  if (r.status === 0) return { ok: true, command, why: '' };
  const said = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).find(Boolean);
  return { ok: false, command, why: said ?? `exit ${r.status ?? r.signal}` };
}
