import type { CommandModule } from 'yargs';
import { ask } from '../client.js';
import { printJson, withTarget, type TargetArgs } from './target.js';

interface Args extends TargetArgs { agent?: string }

export const stop: CommandModule<object, Args> = {
  command: 'stop [agent]',
  describe: 'stop everything gracefully, in reverse start order (the supervisor exits); or one agent, which stays stopped until restarted',
  builder: (y) => withTarget(y).positional('agent', { type: 'string', describe: 'only this agent' }),
  handler: async (argv) => {
    const r = await ask(argv, { op: 'stop', agent: argv.agent }, { long: true });
    if (argv.json) return printJson(r);
    if ('stopped' in r) console.log(r.stopped.length ? `stopped ${r.stopped.join(', ')}; the supervisor has exited` : 'the supervisor has exited');
    else console.log(`stopped ${r.agent} (${r.state}); 'outheis restart ${r.agent}' starts it again`);
  },
};
