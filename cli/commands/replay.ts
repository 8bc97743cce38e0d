// `outheis replay`: the state the journal describes as of a seq or a time (agents
// up or down, restarts, pending mailboxes, last checkpoints). Reads the segment
// files, so it works on a stopped system; --live asks a running supervisor for the
// same view of now, to set beside it.
import type { CommandModule } from 'yargs';
import { replay as replayJournal, type StateView, type Until } from '../../logs/journal/replay.js';
import { ask } from '../client.js';
import { parsePoint, POINT_FORMS } from '../point.js';
import { colorEnabled, createPaint } from '../render/color.js';
import { renderReplay } from '../render/replay.js';
import { journalDirOf } from './journal.js';
import { printJson, withTarget, type TargetArgs } from './target.js';

interface Args extends TargetArgs { until?: string; live?: boolean }

export const replay: CommandModule<object, Args> = {
  command: 'replay',
  describe: 'the state the journal describes at a point: agents, restarts, pending messages, checkpoints; works on a stopped system',
  builder: (y) =>
    withTarget(y)
      .option('until', { alias: 'u', type: 'string', describe: `replay up to here: ${POINT_FORMS}. Default: the end of the journal` })
      .option('live', { type: 'boolean', describe: 'the running supervisor\'s view of now instead, in the same form (to compare)' })
      .conflicts('live', 'until') as never,
  handler: async (argv) => {
    let view: StateView;
    if (argv.live) {
      view = await ask(argv, { op: 'snapshot' });
    } else {
      const until: Until = argv.until === undefined ? { seq: Number.MAX_SAFE_INTEGER } : parsePoint('--until', argv.until, Date.now());
      view = await replayJournal(journalDirOf(argv), until);
    }
    // Exactly replay()'s value: it is compared with the live snapshot elsewhere.
    if (argv.json) return printJson(view);
    const out = process.stdout;
    process.stdout.write(renderReplay(view, { width: out.isTTY ? out.columns : undefined, paint: createPaint(colorEnabled(out)) }) + '\n');
  },
};
