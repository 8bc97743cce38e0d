// `outheis top`: the status table, live, in place. One connection, one status
// request per refresh; q or Ctrl-C quits, s changes the sort order.
import type { CommandModule } from 'yargs';
import { answerWithin, ControlClient, stateDirFor } from '../client.js';
import { colorEnabled, createPaint } from '../render/color.js';
import { cycleSort, renderTopFrame, TopScreen, type SortKey } from '../render/top-screen.js';
import { UsageError } from '../errors.js';
import { printJson, withTarget, type TargetArgs } from './target.js';

interface Args extends TargetArgs { interval: number; iterations?: number }

export const top: CommandModule<object, Args> = {
  command: 'top',
  describe: 'the status table, refreshed in place (q quits, s sorts)',
  builder: (y) =>
    withTarget(y)
      .option('interval', { alias: 'd', type: 'number', default: 1, describe: 'seconds between refreshes' })
      .option('iterations', { alias: 'n', type: 'number', describe: 'stop after this many refreshes' }) as never,
  handler: async (argv) => {
    if (!(argv.interval >= 0.1)) throw new UsageError(`--interval expects seconds, at least 0.1; got ${String(argv.interval)}`);
    if (argv.iterations !== undefined && !(Number.isInteger(argv.iterations) && argv.iterations > 0)) throw new UsageError(`--iterations expects a whole number above 0; got ${String(argv.iterations)}`);
    const client = await ControlClient.connect(stateDirFor(argv), { answerMs: answerWithin(argv) });
    const out = process.stdout;
    const paint = createPaint(colorEnabled(out));
    const screen = argv.json ? undefined : new TopScreen(out, { paint });
    let sort: SortKey | undefined; // start order
    let quit = false;
    let wake: () => void = () => undefined;
    const stopNow = () => {
      quit = true;
      wake();
    };
    const stdin = process.stdin;
    const keys = !argv.json && stdin.isTTY;
    if (keys) {
      stdin.setRawMode(true);
      stdin.setEncoding('utf8');
      stdin.on('data', (key: string) => {
        if (key === 'q' || key === '\u0003' || key === '\u001b') stopNow();
        else if (key === 's') {
          sort = cycleSort(sort);
          wake();
        }
      });
    }
    process.once('SIGINT', stopNow);
    process.once('SIGTERM', stopNow);
    process.stdout.on('resize', () => wake());
    let frames = 0;
    try {
      while (!quit) {
        const s = await client.call({ op: 'status' });
        if (argv.json) printJson(s);
        else screen!.draw(renderTopFrame(s, { now: Date.now(), width: out.columns || 80, height: out.rows || 24, paint, sortBy: sort }));
        if (argv.iterations !== undefined && ++frames >= argv.iterations) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, argv.interval * 1000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      screen?.close();
      if (keys) stdin.setRawMode(false);
      stdin.pause();
      client.close();
    }
  },
};
