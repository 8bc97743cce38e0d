// `status <agent>`: one agent in depth, for finding out why it failed. Its manifest
// as configured (environment variable names only, never values), its last exits with
// the stderr lines before each (supervisor/exit-history.ts), the restarts the tree
// ordered within its group's intensity window, and the backoff it waits out.
import type { AgentConfig, Config } from '../config/index.js';
import { ExitHistory } from '../exit-history.js';
import type { Supervisor } from '../supervisor.js';
import type { AgentStatusJson, DetailResult, ManifestJson } from './protocol.js';

/** The agent's group's policy: the group it names, or the root supervisor's. */
function groupOf(config: Config, agent: string): { name: string; intensity: number; period: number } {
  const group = config.agents[agent]?.group;
  const policy = (group !== undefined ? config.groups[group] : undefined) ?? config.supervisor;
  return { name: group ?? 'root', intensity: policy.intensity, period: policy.period };
}

/** The history of every agent of `sup`, from now on. */
export function listenForExits(sup: Supervisor): ExitHistory {
  return ExitHistory.listen(sup, (agent) => groupOf(sup.config, agent).period);
}

/** Names, whatever shape `env` has (`NAME` and `NAME=value` entries; a map): values never leave the supervisor. */
function envNames(env: unknown): string[] {
  if (Array.isArray(env)) return env.filter((n): n is string => typeof n === 'string').map((entry) => entry.split('=', 1)[0]!);
  return env !== null && typeof env === 'object' ? Object.keys(env) : [];
}

/** An allowlist, not a copy: a key added to the config later (a secret, say) does not show up here by accident. */
function manifestOf(cfg: AgentConfig): ManifestJson {
  const l = cfg.limits;
  return {
    run: cfg.bundled === undefined ? cfg.run : `outheis:${cfg.bundled}`, args: cfg.args, group: cfg.group ?? null, after: cfg.after, restart: cfg.restart, qos: cfg.qos,
    owns: cfg.owns, unveil: { ...cfg.unveil }, pledge: cfg.pledge, env: envNames(cfg.env),
    limits: { memory: l.memory ?? null, cpu: l.cpu ?? null, nofile: l.nofile ?? null, nproc: l.nproc ?? null, frame: l.frame, mailbox: l.mailbox },
    heartbeatMs: cfg.heartbeat, shutdownMs: cfg.shutdown, startTimeoutMs: cfg.startTimeout, user: cfg.user ?? null,
  };
}

export function detailOf(sup: Supervisor, history: ExitHistory, row: AgentStatusJson, now = Date.now()): DetailResult {
  const name = row.name;
  const group = groupOf(sup.config, name);
  const h = history.get(name, now);
  return {
    agent: row,
    manifest: manifestOf(sup.config.agents[name]!),
    exits: h.exits.map((e) => ({ code: e.code, signal: e.signal, at: e.at, reason: e.reason, clean: e.clean, stderr: e.stderr })),
    restarts: { inWindow: h.restarts.length, windowMs: group.period, intensity: group.intensity, group: group.name },
    backoff: row.state === 'backoff' && h.nextStartAt !== undefined ? { nextStartAt: h.nextStartAt, delayMs: h.lastDelayMs ?? 0 } : null,
  };
}
