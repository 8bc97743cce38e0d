// What a reload changes: the running config against the file's, as the lists an
// operator reads (added, removed, restarted, rebuilt groups, settings applied in
// place, settings that need a restart of the supervisor). Pure: the caller says
// which env files now read differently from what the running processes got.
import type { AgentConfig, Config } from '../config/index.js';
import { digest } from '../../policies/digest.js';

export interface NotApplied {
  /** The key as written in the file (`journal.fsync`). */
  key: string;
  running: unknown;
  file: unknown;
}

export interface ConfigDiff {
  /** In the new start order. */
  added: string[];
  /** In the old start order. */
  removed: string[];
  /** Kept agents whose manifest changed, with the keys that did (as written in the file), in the new start order. */
  changed: { agent: string; keys: string[] }[];
  /** Groups whose strategy (or parent group) changed: everything in them restarts. */
  rebuilt: string[];
  /** Kept agents that restart (changed, or in a rebuilt group), in the new start order. */
  restarted: string[];
  /** Groups in a rebuilt group, and the rebuilt ones: the tree starts them afresh. */
  freshGroups: string[];
  /** Settings that take effect without restarting anything (`groups.g.intensity`, `supervisor.strategy`). */
  inPlace: string[];
  /** Settings the running supervisor keeps until it is restarted. */
  notApplied: NotApplied[];
}

/** The file's names for the keys the code renames. */
const FILE_KEYS: Record<string, string> = { startTimeout: 'start_timeout', envFile: 'env_file', startLimit: 'start_limit', owedMax: 'owed_max' };
/** Derived from another key that is compared already. */
const DERIVED = new Set(['unveilResolved', 'name']);
/** Applied in place (the tree's start limit), so that a group's new intensity restarts no agent. */
const IN_PLACE_AGENT_KEYS = new Set(['startLimit']);

/** JSON with sorted keys: equal values, equal text. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : x) ?? 'undefined';
}

/** An env file's values as a digest: what a reload compares, without keeping the secrets themselves. */
export const envDigest = (values: Record<string, string> | undefined): string | undefined =>
  values && digest(canonical(values));

const same = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);

function changedKeys<T extends object>(a: T, b: T, skip: ReadonlySet<string>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => !skip.has(k) && !same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** The longest common subsequence of two orders: the agents that kept their relative places. */
function keptInPlace(before: string[], after: string[]): Set<string> {
  const n = before.length;
  const m = after.length;
  const len: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) {
    len[i]![j] = before[i] === after[j] ? len[i + 1]![j + 1]! + 1 : Math.max(len[i + 1]![j]!, len[i]![j + 1]!);
  }
  const out = new Set<string>();
  for (let i = 0, j = 0; i < n && j < m;) {
    if (before[i] === after[j]) {
      out.add(before[i]!);
      i++;
      j++;
    } else if (len[i + 1]![j]! >= len[i]![j + 1]!) i++;
    else j++;
  }
  return out;
}

/** The group and its ancestors, innermost first. */
function chainOf(cfg: Config, group: string | undefined): string[] {
  const chain: string[] = [];
  for (let g = group; g !== undefined && !chain.includes(g); g = cfg.groups[g]?.group) chain.push(g);
  return chain;
}

function agentKeys(a: AgentConfig, b: AgentConfig): string[] {
  return changedKeys(a, b, new Set([...DERIVED, ...IN_PLACE_AGENT_KEYS])).map((k) => FILE_KEYS[k] ?? k);
}

function settingsNotApplied(run: Config, next: Config): NotApplied[] {
  const out: NotApplied[] = [];
  if (run.stateDir !== next.stateDir) out.push({ key: 'state_dir', running: run.stateDir, file: next.stateDir });
  const sections = [['journal', { maxAttempts: 'max_attempts', maxSize: 'max_size', segmentSize: 'segment_size' }], ['logs', { maxSize: 'max_size', maxLine: 'max_line' }], ['metrics', {}]] as const;
  for (const [section, names] of sections) {
    const a = run[section] as Record<string, unknown>;
    const b = next[section] as Record<string, unknown>;
    for (const k of changedKeys(a, b, new Set())) out.push({ key: `${section}.${(names as Record<string, string>)[k] ?? k}`, running: a[k], file: b[k] });
  }
  out.push(...clusterNotApplied(run, next));
  return out;
}

/**
 * `cluster:` needs a restart: the link, the stream's consumer and the remote agents'
 * routes (with what they owe) are made at start. Added or removed as a whole: `cluster`;
 * otherwise each changed key, as written in the file.
 */
function clusterNotApplied(run: Config, next: Config): NotApplied[] {
  const a = run.cluster;
  const b = next.cluster;
  if (!a || !b) return same(a, b) ? [] : [{ key: 'cluster', running: a ?? null, file: b ?? null }];
  return changedKeys(a, b, new Set()).map((k) => ({ key: `cluster.${FILE_KEYS[k] ?? k}`, running: a[k as keyof typeof a] ?? null, file: b[k as keyof typeof b] ?? null }));
}

export function diffConfigs(run: Config, next: Config, envFileChanged: (agent: string) => boolean = () => false): ConfigDiff {
  const added = next.order.filter((n) => !run.agents[n]);
  const removed = run.order.filter((n) => !next.agents[n]);
  const kept = next.order.filter((n) => run.agents[n]);
  const inPlaceOrder = keptInPlace(run.order.filter((n) => next.agents[n]), kept);

  const inPlace: string[] = [];
  for (const k of changedKeys(run.supervisor, next.supervisor, new Set())) inPlace.push(`supervisor.${k}`);
  const rebuilt: string[] = [];
  for (const [name, g] of Object.entries(next.groups)) {
    const was = run.groups[name];
    if (!was) continue;
    if (was.strategy !== g.strategy || was.group !== g.group) rebuilt.push(name);
    else for (const k of changedKeys(was, g, new Set())) inPlace.push(`groups.${name}.${FILE_KEYS[k] ?? k}`);
  }
  const inRebuilt = (group: string | undefined) => chainOf(next, group).some((g) => rebuilt.includes(g));
  const freshGroups = Object.keys(next.groups).filter((g) => inRebuilt(g));

  const changed: ConfigDiff['changed'] = [];
  for (const name of kept) {
    const keys = agentKeys(run.agents[name]!, next.agents[name]!);
    if (envFileChanged(name) && !keys.includes('env_file')) keys.push('env_file (its values)');
    if (!inPlaceOrder.has(name)) keys.push('position');
    if (keys.length) changed.push({ agent: name, keys });
  }
  const restarted = kept.filter((n) => changed.some((c) => c.agent === n) || inRebuilt(next.agents[n]!.group));
  for (const name of kept) {
    if (!restarted.includes(name) && !same(run.agents[name]!.startLimit, next.agents[name]!.startLimit)) inPlace.push(`agents.${name}.start_limit`);
  }
  inPlace.push(...schedulesChanged(run, next));
  return { added, removed, changed, rebuilt, restarted, freshGroups, inPlace, notApplied: settingsNotApplied(run, next) };
}

/** Schedules added, removed or changed: in force at once (`schedules.nightly`), nothing restarts for them. */
function schedulesChanged(run: Config, next: Config): string[] {
  const names = [...new Set([...Object.keys(run.schedules), ...Object.keys(next.schedules)])];
  return names.filter((n) => !same(run.schedules[n], next.schedules[n])).map((n) => `schedules.${n}`);
}

/** Nothing to do: the file says what is running. */
export function unchanged(d: ConfigDiff): boolean {
  return !d.added.length && !d.removed.length && !d.restarted.length && !d.rebuilt.length && !d.inPlace.length;
}
