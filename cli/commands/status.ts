import type { CommandModule } from 'yargs';
import { ask } from '../client.js';
import { renderDetail } from '../render/agent-detail.js';
import { colorEnabled, createPaint } from '../render/color.js';
import { renderCluster, renderSchedules, renderStatus } from '../render/status.js';
import { printJson, withTarget, type TargetArgs } from './target.js';

interface Args extends TargetArgs { agent?: string; wide?: boolean }

export const status: CommandModule<object, Args> = {
  command: 'status [agent]',
  describe: 'every agent: pid, state, uptime, restarts, last exit, cpu, memory, mailbox, qos, isolation; or one agent in depth: manifest, last exits with their stderr, restarts, backoff',
  builder: (y) =>
    withTarget(y)
      .positional('agent', { type: 'string', describe: 'this agent in depth' })
      .option('wide', { alias: 'w', type: 'boolean', describe: 'do not drop columns to fit the terminal; long exit reasons' }) as never,
  handler: async (argv) => {
    const paint = createPaint(colorEnabled(process.stdout));
    if (argv.agent !== undefined) {
      const d = await ask(argv, { op: 'detail', agent: argv.agent });
      if (argv.json) return printJson(d);
      process.stdout.write(renderDetail(d, { now: Date.now(), paint }) + '\n');
      return;
    }
    const s = await ask(argv, { op: 'status' });
    if (argv.json) return printJson(s);
    const out = process.stdout;
    const width = out.isTTY && !argv.wide ? out.columns : undefined;
    const opts = { now: Date.now(), width, wide: argv.wide, paint };
    process.stdout.write([renderStatus(s, opts), ...renderSchedules(s, opts), ...renderCluster(s, opts)].join('\n') + '\n');
  },
};
