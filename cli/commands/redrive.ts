// `outheis redrive`: dead letters sent again through the running supervisor, each as
// a new message (see supervisor/redrive.ts); `outheis journal deadletters` lists them.
import type { CommandModule } from 'yargs';
import { ask } from '../client.js';
import { UsageError } from '../errors.js';
import { printJson, withTarget, type TargetArgs } from './target.js';

interface Args extends TargetArgs { ids?: (string | number)[]; agent?: string; all?: boolean }

/** `77`, `#77` (as `journal` prints it), or several comma-separated. */
function parseIds(values: readonly (string | number)[]): number[] {
  return values.flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter(Boolean).map((v) => {
    const n = Number(v.replace(/^#/, ''));
    if (!/^#?\d+$/.test(v) || !Number.isSafeInteger(n)) throw new UsageError(`a message id is a whole number (as outheis journal deadletters prints it, with or without #); got ${JSON.stringify(v)}`);
    return n;
  });
}

export const redrive: CommandModule<object, Args> = {
  command: 'redrive [ids..]',
  describe: 'send dead letters again, each as a new message to the same agent (it stays in the journal as a dead letter, marked redriven)',
  builder: (y) =>
    withTarget(y)
      .positional('ids', { type: 'string', array: true, describe: 'the dead letters\' message ids' })
      .option('agent', { alias: 'a', type: 'string', describe: 'every dead letter to this agent not redriven yet' })
      .option('all', { type: 'boolean', describe: 'every dead letter not redriven yet' })
      .example('$0 redrive 1784567890123001', 'that dead letter')
      .example('$0 redrive --agent notes', "every pending dead letter to notes") as never,
  handler: async (argv) => {
    const ids = parseIds(argv.ids ?? []);
    const ways = [ids.length > 0, argv.agent !== undefined, argv.all === true].filter(Boolean).length;
    if (ways !== 1) throw new UsageError('name the dead letters: their ids, or --agent A, or --all (exactly one of these)');
    const r = await ask(argv, { op: 'redrive', ...(ids.length ? { ids } : argv.agent !== undefined ? { agent: argv.agent } : { all: true as const }) });
    if (argv.json) return printJson(r);
    for (const x of r.redriven) console.log(`redriven #${x.id} as #${x.as} → ${x.to} kind=${x.kind}`);
  },
};
