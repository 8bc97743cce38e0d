// `outheis logs`: reads the log files directly, so it works whether or not a
// supervisor is running (like journalctl), and follows them across rotation.
// One agent's log comes with the supervisor's records about that agent (spawned,
// ready, exited, restarting, limit kills), merged by time.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { followFiles, type Followed } from '../../logs/follow.js';
import { aboutAgent, logFileOf, SUPERVISOR_LOG } from '../../logs/log-files.js';
import { createRenderer } from '../../logs/render.js';
import { tailThenFollow, type LineFilter } from '../../logs/tail.js';
import { stateFiles } from '../../supervisor/control/state-dir.js';
import { ask, stateDirFor, ClientError } from '../client.js';
import { colorEnabled } from '../render/color.js';
import { UsageError } from '../errors.js';
import { withTarget, type TargetArgs } from './target.js';

interface Args extends TargetArgs { agent?: string; follow?: boolean; lines: number }

/** A log and its rotated predecessors, oldest first: x.log.3, x.log.2, x.log.1, x.log. */
function filesOf(dir: string, name: string, present: string[]): string[] {
  const base = `${name}.log`;
  const rotated = present
    .filter((f) => f.startsWith(`${base}.`) && /^\d+$/.test(f.slice(base.length + 1)))
    .sort((a, b) => Number(b.slice(base.length + 1)) - Number(a.slice(base.length + 1)));
  return [...rotated.map((f) => join(dir, f)), logFileOf(dir, name)];
}

/** Every log in the directory: the supervisor's first, then the agents' by name. */
function namesIn(present: string[]): string[] {
  const names = present.filter((f) => f.endsWith('.log')).map((f) => f.slice(0, -4));
  return [SUPERVISOR_LOG, ...names.filter((n) => n !== SUPERVISOR_LOG).sort()];
}

const timeOf = (line: string): number => {
  const m = /"time":(?:(\d+)|"([^"]+)")/.exec(line);
  return m ? (m[1] ? Number(m[1]) : Date.parse(m[2]!)) || 0 : 0;
};

/** One log to show: its name, and which of its lines (all, or the supervisor's about one agent). */
interface Shown { name: string; keep?: LineFilter }

export const logs: CommandModule<object, Args> = {
  command: 'logs [agent]',
  describe: "supervisor and agent output: one agent's (with the supervisor's events about it), or everything merged by time",
  builder: (y) =>
    withTarget(y)
      .positional('agent', { type: 'string', describe: `an agent's name, or "${SUPERVISOR_LOG}"; default: all` })
      .option('follow', { alias: 'f', type: 'boolean', describe: 'keep printing new lines (across rotation) until Ctrl-C' })
      .option('lines', { alias: 'n', type: 'number', default: 50, describe: 'how many of the last lines to print first' }) as never,
  handler: async (argv) => {
    if (!Number.isInteger(argv.lines) || argv.lines < 0) throw new UsageError(`-n expects a whole number of lines, 0 or more; got ${String(argv.lines)}`);
    const dir = stateFiles(stateDirFor(argv)).logs;
    let present: string[];
    try {
      present = readdirSync(dir);
    } catch {
      throw new ClientError('ENOENT', `no logs at ${dir}: no supervisor has run on this state directory yet`);
    }
    const agent = argv.agent;
    const oneAgent = agent !== undefined && agent !== SUPERVISOR_LOG;
    const shown: Shown[] = agent === undefined ? namesIn(present).map((name) => ({ name }))
      : oneAgent ? [{ name: agent }, { name: SUPERVISOR_LOG, keep: aboutAgent(agent) }]
      : [{ name: agent }];
    const render = argv.json ? (line: string) => line : createRenderer({ color: colorEnabled(process.stdout), showAgent: !oneAgent });
    const print = (line: string) => process.stdout.write(render(line) + '\n');

    // Each newest file stays open where its tail ended, and is followed from there: no line is lost in between.
    const tails = await Promise.all(shown.map((s) => tailThenFollow(filesOf(dir, s.name, present), argv.lines, { keep: s.keep, whole: !argv.follow })));
    // Merged by time; the sort is stable, so each file keeps its own order.
    const merged = tails.length === 1 ? tails[0]!.lines : tails.flatMap((t) => t.lines).map((line) => ({ line, t: timeOf(line) })).sort((a, b) => a.t - b.t).map((x) => x.line);
    const ownLog = agent === undefined || present.some((f) => f === `${agent}.log` || f.startsWith(`${agent}.log.`));
    if (!argv.follow) await Promise.all(tails.map((t) => t.end?.file.close()));
    // Nothing of its own, and nothing the supervisor said about it (with -n 0, nothing was looked for): a typo, most likely.
    if (!ownLog && !argv.follow && (merged.length === 0 || argv.lines === 0)) {
      throw new ClientError('ENOENT', `no log for "${agent}" in ${dir}, and no supervisor record about it (agents log once they print something; logs there: ${namesIn(present).join(', ')})`);
    }
    for (const line of merged.slice(Math.max(0, merged.length - argv.lines))) print(line);
    if (!argv.follow) return;

    const abort = new AbortController();
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => abort.abort());
    process.stdout.on('error', () => abort.abort()); // `outheis logs -f | head`
    // A file that was not there for the tail is new: all of it is followed, from its start.
    const followed: Followed[] = shown.map((s, i) => ({ path: logFileOf(dir, s.name), resume: tails[i]!.end ?? undefined, fromStart: true }));
    const keepOf = new Map(shown.map((s) => [logFileOf(dir, s.name), s.keep]));
    // An agent that has printed nothing yet has no file: ask the supervisor (if one runs)
    // for every agent, so that their first lines are followed too.
    if (agent === undefined) {
      const running = await ask(argv, { op: 'status' }).catch(() => undefined);
      for (const a of running?.agents ?? []) {
        if (!shown.some((s) => s.name === a.name)) followed.push({ path: logFileOf(dir, a.name), fromStart: true });
      }
    }
    await followFiles(followed, {
      onLine: (line, path) => {
        const keep = keepOf.get(path);
        if (!keep || keep(line)) print(line);
      },
      signal: abort.signal,
    });
  },
};
