import type { CommandModule } from 'yargs';
import { readConfig } from '../config-arg.js';

interface Args { config?: string; allowWeakerIsolation?: boolean }

export const start: CommandModule<object, Args> = {
  command: 'start',
  describe: 'run the supervisor in the foreground (for systemd, or a terminal)',
  builder: (y) => y.option('allow-weaker-isolation', { type: 'boolean', describe: 'start agents even where this machine cannot apply every isolation layer their manifests need (logged, and shown in status)' }) as never,
  handler: async (argv) => {
    const cfg = readConfig(argv.config);
    const { supervise } = await import('../supervise.js');
    await supervise(cfg, { allowWeakerIsolation: argv.allowWeakerIsolation });
  },
};
