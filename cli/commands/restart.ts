import type { CommandModule } from 'yargs';
import { ask } from '../client.js';
import { printJson, withTarget, type TargetArgs } from './target.js';

interface Args extends TargetArgs { agent: string }

export const restart: CommandModule<object, Args> = {
  command: 'restart <agent>',
  describe: 'restart one agent (graceful stop, then start); waits until it is ready',
  builder: (y) => withTarget(y).positional('agent', { type: 'string', demandOption: true }) as never,
  handler: async (argv) => {
    const r = await ask(argv, { op: 'restart', agent: argv.agent }, { long: true });
    if (!r.ready) process.exitCode = 1;
    if (argv.json) return printJson(r);
    const pids = `pid ${r.previousPid ?? '-'} → ${r.pid ?? '-'}`;
    if (r.ready) console.log(`restarted ${r.agent}: ${pids}, ${r.state}`);
    else console.error(`outheis: ${r.agent} did not become ready after the restart (${pids}, ${r.state}); see 'outheis status' and 'outheis logs ${r.agent}'`);
  },
};
