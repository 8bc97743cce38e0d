// A reload, start to end: prepared (nothing changes: prepare.ts), announced
// (`reloading`), carried out between the tree's own actions (apply.ts), then awaited
// until every agent it started is ready or out of time, journaled and announced
// (`reloaded`). Refused ones are journaled too, with their issues.
import type { ConfigIssue } from '../config/index.js';
import type { ReloadResult } from '../control/protocol.js';
import { applyReload, type Applied, type ApplyContext } from './apply.js';
import { unchanged } from './diff.js';
import { prepareReload, type ReloadContext } from './prepare.js';

export { diffConfigs, unchanged, type ConfigDiff } from './diff.js';

/** Why a reload did not even begin (one in progress, a stop under way): a control error code and what to do. */
export class ReloadRefused extends Error {
  constructor(readonly code: 'EBUSY' | 'ESHUTDOWN', message: string) {
    super(message);
  }
}

export interface RunContext extends ApplyContext, ReloadContext {
  /** Carry `step` out between the tree's own actions, never during one. */
  serialize<T>(step: () => Promise<T>): Promise<T>;
  /** Resolves when the agent is ready (true), or has exited or run out of time (false). */
  whenReady(name: string, timeoutMs: number): Promise<boolean>;
}

/** Beyond an agent's start timeout: its spawn, and the `after` chain before it. */
const READY_SLACK_MS = 2000;

export async function reload(ctx: RunContext): Promise<ReloadResult> {
  const run = ctx.running();
  const refused = (issues: ConfigIssue[]): ReloadResult => {
    const result: ReloadResult = {
      ok: false, file: run.file, agents: [...run.order], added: [], removed: [], restarted: [], changed: [], rebuilt: [], inPlace: [], notApplied: [],
      deadLettered: 0, notReady: [], issues: issues.map((i) => ({ path: i.path, message: i.message, ...(i.line !== undefined ? { line: i.line } : {}) })),
    };
    ctx.log.error({ config: run.file, issues: result.issues }, 'reload refused: the running config stays');
    ctx.note({ type: 'reload', ...withoutClientFields(result) });
    ctx.emit('reloaded', false);
    return result;
  };
  const p = prepareReload(run, ctx);
  if (!p.ok) return refused(p.issues);
  for (const w of p.warnings) ctx.log.warn({ key: w.path }, `config warning: ${w.message}`);
  const { diff } = p;
  ctx.emit('reloading');
  const applied: Applied = unchanged(diff) ? { ok: true, started: [], deadLettered: 0 } : await ctx.serialize(() => applyReload(ctx, p));
  if (!applied.ok) return refused(applied.issues);
  for (const s of diff.notApplied) ctx.log.warn({ key: s.key, running: s.running, file: s.file }, 'reload: this setting cannot change while the supervisor runs; it takes effect at the next start');
  if (diff.inPlace.includes('supervisor.strategy')) ctx.log.warn({ strategy: p.next.supervisor.strategy }, 'reload: the root\'s strategy changed in place; nothing was restarted for it');
  const ready = await Promise.all(applied.started.map((n) => ctx.whenReady(n, p.next.agents[n]!.startTimeout + READY_SLACK_MS)));
  const result: ReloadResult = {
    ok: true, file: run.file, agents: [...p.next.order], added: diff.added, removed: diff.removed, restarted: diff.restarted,
    changed: diff.changed, rebuilt: diff.rebuilt, inPlace: diff.inPlace, notApplied: diff.notApplied,
    deadLettered: applied.deadLettered, notReady: applied.started.filter((_, i) => !ready[i]), issues: [],
  };
  const { agents: _agents, file: _file, notReady: _notReady, issues: _issues, ...said } = result;
  ctx.log.info({ config: run.file, ...said }, 'reloaded');
  if (result.notReady.length) ctx.log.error({ agents: result.notReady }, 'reload: these agents did not become ready within their start timeout');
  ctx.note({ type: 'reload', ...withoutClientFields(result) });
  ctx.emit('reloaded', true);
  return result;
}

function withoutClientFields(r: ReloadResult): Omit<ReloadResult, 'file'> {
  const { file: _f, ...rest } = r;
  return rest;
}
