import type { CommandModule } from 'yargs';
import { readConfig } from '../config-arg.js';

interface Args { config?: string }

export const start: CommandModule<object, Args> = {
  command: 'start',
  describe: 'run the supervisor in the foreground (for systemd, or a terminal)',
  handler: async (argv) => {
    const cfg = readConfig(argv.config);
    const { supervise } = await import('../supervise.js');
    await supervise(cfg);
  },
};
