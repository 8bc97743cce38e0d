import type { CommandModule } from 'yargs';
import { ask } from '../client.js';
import { colorEnabled, createPaint } from '../render/color.js';
import { renderStatus } from '../render/status.js';
import { printJson, withTarget, type TargetArgs } from './target.js';

interface Args extends TargetArgs { wide?: boolean }

export const status: CommandModule<object, Args> = {
  command: 'status',
  describe: 'every agent: pid, state, uptime, restarts, last exit, cpu, memory, mailbox, qos, isolation',
  builder: (y) => withTarget(y).option('wide', { alias: 'w', type: 'boolean', describe: 'do not drop columns to fit the terminal; long exit reasons' }),
  handler: async (argv) => {
    const s = await ask(argv, { op: 'status' });
    if (argv.json) return printJson(s);
    const out = process.stdout;
    const width = out.isTTY && !argv.wide ? out.columns : undefined;
    process.stdout.write(renderStatus(s, { now: Date.now(), width, wide: argv.wide, paint: createPaint(colorEnabled(out)) }) + '\n');
  },
};
