// The first half of a reload, which changes nothing: the config file read again
// through `start`'s pipeline (loadConfig with its path rules, preflight with the env
// files), its difference from the running config, and the new manifests planned
// against the machine probed at start. A config that fails any of it is refused
// with its key paths.
import { IsolationError, replanIsolation, type IsolationPlans, type Replan } from '../../policies/isolation.js';
import type { AgentSlots } from '../agent-slot.js';
import { ConfigError, loadConfig, preflight, type Config, type ConfigIssue } from '../config/index.js';
import { readEnvFile } from '../config/env-file.js';
import { diffConfigs, envDigest, type ConfigDiff } from './diff.js';

export interface ReloadContext {
  readonly slots: AgentSlots;
  readonly isolation: IsolationPlans | undefined;
  readonly allowWeaker: boolean;
  readonly nodeArgs: string[] | undefined;
}

export type Prepared =
  | {
    ok: true;
    /** What goes into force: the file's config, with the settings that cannot change live kept as they run. */
    next: Config;
    diff: ConfigDiff;
    replan: Replan | undefined;
    warnings: ConfigIssue[];
  }
  | { ok: false; issues: ConfigIssue[] };

/** Whether the agent's env file reads differently now from what its running process was given. */
function envFileChanged(slots: AgentSlots, next: Config, name: string): boolean {
  const slot = slots.find(name);
  const file = next.agents[name]?.envFile;
  if (!slot || file === undefined || slot.envFileDigest === undefined) return false;
  try {
    return envDigest(readEnvFile(file)) !== slot.envFileDigest;
  } catch {
    return true; // preflight has reported it already
  }
}

/** The issues of an isolation refusal, one per `agents.x: …` line. */
function isolationIssues(err: IsolationError): ConfigIssue[] {
  const lines = err.message.split('\n').slice(1).map((l) => l.trim());
  return lines.map((l) => {
    const m = /^(agents\.[^:]+): (.*)$/.exec(l);
    return m ? { path: m[1]!, message: `${m[2]!} (or start with --allow-weaker-isolation)` } : { path: '', message: l };
  });
}

export function prepareReload(run: Config, ctx: ReloadContext): Prepared {
  let file: Config;
  let warnings: ConfigIssue[];
  try {
    file = loadConfig(run.file);
    warnings = preflight(file);
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, issues: err.issues };
    throw err;
  }
  const diff = diffConfigs(run, file, (name) => envFileChanged(ctx.slots, file, name));
  // The settings that cannot change live stay as they run (and the diff reports them).
  const next: Config = { ...file, stateDir: run.stateDir, journal: run.journal, logs: run.logs, metrics: run.metrics, cluster: run.cluster };
  // The running cluster stays (the diff lists its changes): an agent it routes to another host cannot also start here.
  const remote = run.cluster?.agents ?? {};
  const clash = diff.added.filter((name) => Object.hasOwn(remote, name));
  if (clash.length) {
    return { ok: false, issues: clash.map((name) => ({ path: `agents.${name}`, message: `"${name}" runs on host ${JSON.stringify(remote[name])} under the running cluster.agents; a cluster: change takes effect at the next start, so start it here then` })) };
  }
  let replan: Replan | undefined;
  if (ctx.isolation) {
    try {
      replan = replanIsolation(ctx.isolation, next, [...diff.added, ...diff.restarted], { allowWeaker: ctx.allowWeaker, nodeArgs: ctx.nodeArgs });
    } catch (err) {
      if (err instanceof IsolationError) return { ok: false, issues: isolationIssues(err) };
      throw err;
    }
    for (const name of replan.uidMoved) {
      diff.changed.push({ agent: name, keys: ['uid (a new agent took its uid)'] });
      diff.restarted.push(name);
    }
    diff.restarted.sort((a, b) => next.order.indexOf(a) - next.order.indexOf(b));
  }
  return { ok: true, next, diff, replan, warnings };
}
