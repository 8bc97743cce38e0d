// The systemd unit for one config: pure, from the config and the facts of the host
// (systemd.ts gathers those), so that every choice here is testable without systemd.
// The sandboxing directives and their reasons are in hardening.ts.
import path from 'node:path';
import type { Config } from '../config/index.js';
import { TERM_GRACE_MS } from '../terminate.js';
import { hardening, type Scope } from './hardening.js';

export type { Scope } from './hardening.js';

export interface HostFacts {
  scope: Scope;
  /** `systemctl --version`'s number; undefined when unknown (then plain notify, which every version has). */
  systemdVersion: number | undefined;
  /** Absolute, real paths: what ExecStart runs. */
  node: string;
  nodeFlags: readonly string[];
  outheis: string;
  configFile: string;
  /** state_dir, symlinks resolved. */
  stateDir: string;
  /**
   * Where StateDirectory= puts things: /var/lib for the system manager. Undefined for a
   * user manager, whose base moved between versions (~/.config, then ~/.local/state):
   * there state_dir is always a ReadWritePaths entry.
   */
  stateBase: string | undefined;
  /** The agents' domains (owns, unveiled paths), resolved, and whether each exists now. */
  domains: { path: string; exists: boolean }[];
  /** Everything else the supervisor must read (code, env files), resolved: only to decide ProtectHome. */
  reads: string[];
  /** Home directories' roots, for ProtectHome (default /home, /root, /run/user). */
  homes?: string[];
  /** What PrivateTmp replaces (default /tmp, /var/tmp). */
  tmps?: string[];
}

export interface Unit {
  text: string;
  type: 'notify' | 'notify-reload';
  timeoutStopSec: number;
  /** StateDirectory= (relative to stateBase) when systemd makes state_dir; undefined when it is a ReadWritePaths entry. */
  stateDirectory: string | undefined;
  /** What the operator must know before starting it (a domain that does not exist yet...). */
  notes: string[];
}

/** After the agents' own budgets: the journal's last checkpoint and ACL release (supervisor/main.ts), and reaping. */
export const STOP_MARGIN_MS = 5_000;
/** What may come before READY besides the agents' start timeouts: journal recovery, domains and ACL grants. */
export const START_MARGIN_MS = 60_000;
/**
 * Pings come at half of it, from the supervisor's loop. 30s: a wedged supervisor is
 * restarted within half a minute, while a GC pause, an fsync on a loaded disk or the
 * synchronous setfacl of a reload stay far inside it (it is armed only once READY=1 came).
 */
export const WATCHDOG_SEC = 30;
export const RESTART_SEC = 5;
export const START_LIMIT_INTERVAL_SEC = 600;
export const START_LIMIT_BURST = 5;
/** Exit 2 is a config error (cli/errors.ts): restarting cannot fix it, so systemd does not loop on it. */
const CONFIG_ERROR_EXIT = 2;

/** notify-reload (systemd ≥ 253) sends SIGHUP and waits for RELOADING=1 then READY=1 itself. */
export function serviceType(systemdVersion: number | undefined): Unit['type'] {
  return systemdVersion !== undefined && systemdVersion >= 253 ? 'notify-reload' : 'notify';
}

/**
 * The longest a graceful stop takes: halt() stops the agents one after another in
 * reverse start order, each with terminate.ts's stages (its shutdown budget, SIGTERM,
 * TERM_GRACE_MS, SIGKILL); then the margin.
 */
export function stopBudgetMs(cfg: Pick<Config, 'agents'>): number {
  return Object.values(cfg.agents).reduce((sum, a) => sum + a.shutdown + TERM_GRACE_MS, STOP_MARGIN_MS);
}

/** READY=1 waits for every agent; in the worst case they come up one after another (`after` chains). */
export function startBudgetMs(cfg: Pick<Config, 'agents'>): number {
  return Math.max(90_000, Object.values(cfg.agents).reduce((sum, a) => sum + a.startTimeout, START_MARGIN_MS));
}

const seconds = (ms: number) => Math.ceil(ms / 1000);

export class UnitError extends Error {}

/**
 * One word of a unit line: `%` escaped (systemd's specifiers), `$` too in Exec lines
 * (variable expansion), and quoted when it holds blanks or quotes.
 */
export function unitWord(s: string, exec = false): string {
  if (/[\0-\x1f\x7f]/.test(s)) throw new UnitError(`${JSON.stringify(s)} holds a control character, which a unit file cannot carry`);
  let w = s.replace(/%/g, '%%');
  if (exec) w = w.replace(/\$/g, '$$$$');
  return /[\s"'\\;]/.test(w) ? `"${w.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : w;
}

/** A path that is a directive's whole value (WorkingDirectory=): taken as written, so no quotes; `%` still escaped. */
export function unitPath(p: string): string {
  if (/[\0-\x1f\x7f]/.test(p) || p.trim() !== p) throw new UnitError(`${JSON.stringify(p)} holds a control character or edge blanks, which a unit file cannot carry`);
  return p.replace(/%/g, '%%');
}

const within = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/** Paths, without those inside another one of the list. */
function outermost(paths: string[]): string[] {
  const sorted = [...new Set(paths)].sort((a, b) => a.length - b.length);
  return sorted.filter((p, i) => !sorted.slice(0, i).some((q) => within(p, q)));
}

export function renderUnit(cfg: Pick<Config, 'agents' | 'dir'>, facts: HostFacts): Unit {
  const system = facts.scope === 'system';
  const type = serviceType(facts.systemdVersion);
  const net = Object.values(cfg.agents).some((a) => a.pledge.includes('net'));
  const notes: string[] = [];

  // state_dir: systemd makes it (StateDirectory=) where it is systemd's place for state, else it is one more writable path.
  const base = facts.stateBase;
  const stateRel = base && within(facts.stateDir, base) && facts.stateDir !== base ? path.relative(base, facts.stateDir) : undefined;
  const domains = facts.domains.filter((d) => !(stateRel && within(d.path, facts.stateDir)));
  const exists = new Map(domains.map((d) => [d.path, d.exists]));
  const writable = outermost([...(stateRel ? [] : [facts.stateDir]), ...domains.map((d) => d.path)]).map((p) => {
    if (exists.get(p) === false) {
      notes.push(`${p} does not exist yet: outheis creates it for its agent at start, which ProtectSystem=strict forbids under systemd; run \`outheis start -c ${facts.configFile}\` once by hand (or create it), then start the service`);
      return `-${unitWord(p)}`;
    }
    return unitWord(p);
  });
  const homes = facts.homes ?? ['/home', '/root', '/run/user'];
  const all = [facts.node, facts.outheis, facts.configFile, facts.stateDir, ...facts.domains.map((d) => d.path), ...facts.reads];
  const under = (roots: string[]) => all.filter((p) => roots.some((r) => within(p, r)));
  const home = under(homes).length > 0;
  const tmp = under(facts.tmps ?? ['/tmp', '/var/tmp']);
  if (tmp.length) notes.push(`${tmp[0]}${tmp.length > 1 ? ` (and ${tmp.length - 1} more)` : ''} lies under /tmp or /var/tmp: the unit goes without PrivateTmp=, which would hide it`);
  const { directives, leftOut } = hardening({ scope: facts.scope, net, home, tmp: tmp.length > 0, writable });

  const stopMs = stopBudgetMs(cfg);
  const exec = [facts.node, ...facts.nodeFlags, facts.outheis, 'start', '-c', facts.configFile].map((w) => unitWord(w, true)).join(' ');
  const lines: string[] = [];
  const line = (key: string, value: string, why?: string) => {
    if (why) lines.push(`# ${why}`);
    lines.push(`${key}=${value}`);
  };
  lines.push(
    `# Written by \`outheis service install${system ? '' : ' --user'}\` for ${facts.configFile}.`,
    '# It names this config\'s paths (domains, state_dir) and network needs: after adding',
    '# a domain or a `net` pledge, install it again (a reload alone cannot widen the sandbox).',
    '[Unit]',
  );
  line('Description', `outheis supervisor (${facts.configFile.replace(/%/g, '%%')})`);
  // systemd's default (5 starts in 10 s) never trips with RestartSec=5s: a supervisor that
  // fails at every start (its state_dir locked, isolation refused) would loop for ever.
  line('StartLimitIntervalSec', `${START_LIMIT_INTERVAL_SEC}s`, `at most ${START_LIMIT_BURST} starts in ${START_LIMIT_INTERVAL_SEC / 60} minutes, then the unit is failed until \`systemctl reset-failed\``);
  line('StartLimitBurst', String(START_LIMIT_BURST));
  if (system && net) {
    line('Wants', 'network-online.target', 'an agent pledges net');
    line('After', 'network-online.target');
  }
  lines.push('', '[Service]');
  line('Type', type, type === 'notify-reload'
    ? `systemd ${facts.systemdVersion} (≥ 253): it sends SIGHUP for a reload and waits for RELOADING=1 then READY=1`
    : `READY=1 once every agent is ready${facts.systemdVersion === undefined ? ' (systemd version unknown: notify-reload needs 253)' : ` (systemd ${facts.systemdVersion}: notify-reload needs 253)`}`);
  line('NotifyAccess', system ? 'main' : 'all', system
    ? 'root names the supervisor\'s pid to systemd-notify (--pid), so messages carry the main pid'
    : 'a non-root systemd-notify cannot name another pid: messages come from its own (no agent can reach the socket: it is not in their environment or mounts)');
  if (type === 'notify') line('ExecReload', '/bin/kill -HUP $MAINPID', 'SIGHUP re-reads the config and applies only the difference');
  line('ExecStart', exec, `absolute paths: node (with the flags of outheis's shebang), outheis, the config`);
  line('WorkingDirectory', unitPath(cfg.dir), 'the config\'s directory (relative paths in it are resolved against it anyway)');
  line('Restart', 'on-failure');
  line('RestartSec', `${RESTART_SEC}s`);
  line('RestartPreventExitStatus', String(CONFIG_ERROR_EXIT), 'exit 2 is a config error: fix the file, do not loop');
  line('WatchdogSec', `${WATCHDOG_SEC}s`, 'pinged at half of it while the supervisor\'s loop and journal move');
  line('TimeoutStartSec', `${seconds(startBudgetMs(cfg))}s`, 'the agents\' start timeouts in a row, plus recovery and ACL grants');
  line('TimeoutStopSec', `${seconds(stopMs)}s`, `agents stop one after another: their shutdown budgets plus ${TERM_GRACE_MS / 1000}s SIGTERM grace each, plus ${STOP_MARGIN_MS / 1000}s`);
  line('KillMode', 'mixed', 'SIGTERM to the supervisor alone (it stops the agents in order); SIGKILL to all that is left at the timeout');
  line('Delegate', 'yes', 'the service owns its cgroup subtree, for the agents\' groups');
  line('OOMPolicy', 'continue', 'an agent OOM-killed at its cgroup ceiling is the supervisor\'s to restart (reason oom), not a reason to stop the service');
  if (stateRel) {
    line('StateDirectory', unitWord(stateRel), `state_dir is under ${base}: systemd creates it, owned by the service`);
    line('StateDirectoryMode', '0700');
  }
  lines.push('# No LogsDirectory: logs live in state_dir/logs, and stdout goes to the journal.');
  lines.push('', '# Sandboxing (outheis/supervisor/service/hardening.ts)');
  for (const d of directives) line(d.key, d.value, d.why);
  lines.push('# Left out:');
  for (const o of leftOut) lines.push(`#   ${o.key}: ${o.why}`);
  lines.push('', '[Install]');
  line('WantedBy', system ? 'multi-user.target' : 'default.target');
  return { text: lines.join('\n') + '\n', type, timeoutStopSec: seconds(stopMs), stateDirectory: stateRel, notes };
}
