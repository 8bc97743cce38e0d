import { parseArgs } from 'node:util';
import type { CommandModule } from 'yargs';
import { readConfig } from '../config-arg.js';
import { colorEnabled } from '../render/color.js';

interface Args { config?: string; allowWeakerIsolation?: boolean; detach?: boolean }

/**
 * start's own flags: one table for yargs (help text, and every command line the
 * short path below does not take) and for that short path.
 */
const FLAGS = {
  'allow-weaker-isolation': { type: 'boolean', describe: 'start agents even where this machine cannot apply every isolation layer their manifests need (logged, and shown in status)' },
  detach: { type: 'boolean', describe: 'run it in the background (hosts without systemd): exit 0 once it is ready, 1 with the reason if it fails to come up; output in state_dir/logs/' },
} as const;

async function run(argv: Args): Promise<void> {
  const { cfg, warnings } = readConfig(argv.config);
  if (argv.detach) {
    const { detach } = await import('../detach.js');
    process.exitCode = await detach(cfg, argv.allowWeakerIsolation ? ['--allow-weaker-isolation'] : []);
    return;
  }
  // Loaded only here, so that the other verbs stay light.
  const supervisor = await import('../../supervisor/main.js');
  await supervisor.main(cfg, { allowWeakerIsolation: argv.allowWeakerIsolation, color: colorEnabled(process.stdout), warnings });
}

/**
 * `outheis start` without yargs, for the supervisor's own process: yargs and its
 * string-width tables (an Intl.Segmenter, ICU data) would stay loaded for the
 * supervisor's whole life, about 3.5 MB of its RSS (README, Footprint). Takes only a
 * plain `start [-c FILE] [--timeout T] [flags]`; anything else (help, a typo, a
 * negated flag) returns false and goes to yargs, which says what was wrong.
 */
export async function startShort(args: string[]): Promise<boolean> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: { config: { type: 'string', short: 'c' }, timeout: { type: 'string' }, ...FLAGS },
    });
  } catch {
    return false;
  }
  if (parsed.positionals.length !== 1 || parsed.positionals[0] !== 'start') return false;
  const v = parsed.values;
  await run({ config: v.config, allowWeakerIsolation: v['allow-weaker-isolation'], detach: v.detach });
  return true;
}

export const start: CommandModule<object, Args> = {
  command: 'start',
  describe: 'run the supervisor in the foreground (for systemd, or a terminal)',
  builder: (y) => y.options(FLAGS) as never,
  handler: run,
};
