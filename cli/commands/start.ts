import type { CommandModule } from 'yargs';
import { readConfig } from '../config-arg.js';
import { colorEnabled } from '../render/color.js';

interface Args { config?: string; allowWeakerIsolation?: boolean; detach?: boolean }

export const start: CommandModule<object, Args> = {
  command: 'start',
  describe: 'run the supervisor in the foreground (for systemd, or a terminal)',
  builder: (y) => y
    .option('allow-weaker-isolation', { type: 'boolean', describe: 'start agents even where this machine cannot apply every isolation layer their manifests need (logged, and shown in status)' })
    .option('detach', { type: 'boolean', describe: 'run it in the background (hosts without systemd): exit 0 once it is ready, 1 with the reason if it fails to come up; output in state_dir/logs/' }) as never,
  handler: async (argv) => {
    const { cfg, warnings } = readConfig(argv.config);
    if (argv.detach) {
      const { detach } = await import('../detach.js');
      process.exitCode = await detach(cfg, argv.allowWeakerIsolation ? ['--allow-weaker-isolation'] : []);
      return;
    }
    // Loaded only here, so that the other verbs stay light.
    const supervisor = await import('../../supervisor/main.js');
    await supervisor.main(cfg, { allowWeakerIsolation: argv.allowWeakerIsolation, color: colorEnabled(process.stdout), warnings });
  },
};
