import type { CommandModule } from 'yargs';
import { ask } from '../client.js';
import { printJson, withTarget, type TargetArgs } from './target.js';

interface Args extends TargetArgs { agent?: string }

export const stop: CommandModule<object, Args> = {
  command: 'stop [agent]',
  describe: 'stop everything gracefully, in reverse start order (the supervisor exits); or one agent, which stays stopped until restarted',
  builder: (y) => withTarget(y).positional('agent', { type: 'string', describe: 'only this agent' }),
  handler: async (argv) => {
    if (argv.agent !== undefined) {
      const r = await ask<{ agent: string; state: string }>(argv, { op: 'stop', agent: argv.agent });
      return argv.json ? printJson(r) : console.log(`stopped ${r.agent} (${r.state}); 'outheis restart ${r.agent}' starts it again`);
    }
    const r = await ask<{ stopped: string[] }>(argv, { op: 'stop' });
    if (argv.json) return printJson(r);
    console.log(r.stopped.length ? `stopped ${r.stopped.join(', ')}; the supervisor has exited` : 'the supervisor has exited');
  },
};
