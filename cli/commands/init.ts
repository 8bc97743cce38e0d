// `outheis init [DIR] [--vault PATH]`: a config that runs the five outheis agents on a
// vault, every manifest written out in full so that the operator sees, and can
// narrow, what each agent may do. Without a vault, a small sample one (a copy of
// examples/vault, plus a note dated today so that `agenda today` has something).
import { cpSync, existsSync, mkdirSync, readdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { UsageError } from '../errors.js';
import { agentsConfig, type InitPaths } from './init-config.js';
import { PACKAGE_ROOT } from '../../policies/package-root.js';

const SAMPLE = join(PACKAGE_ROOT, 'examples/vault');

interface Args { dir?: string; vault?: string; keep?: boolean; force?: boolean; json?: boolean }

/** Today in the local time zone, as the agenda reads it. */
export function localDate(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** The sample vault, copied, with today's note. */
export function writeSampleVault(vault: string, today = localDate()): void {
  cpSync(SAMPLE, vault, { recursive: true, errorOnExist: false, force: false });
  writeTodayNote(vault, today);
}

/** The sample's note dated today: written once a day, so that a kept demo's agenda has today in it. */
function writeTodayNote(vault: string, today: string): void {
  mkdirSync(join(vault, 'daily'), { recursive: true });
  const file = join(vault, 'daily', `${today}.md`);
  if (existsSync(file)) return;
  writeFileSync(file, [
    `# ${today}`,
    '',
    `- Call Mira about borrowing the van for the polycarbonate #date-${today} #time-10:00 #gardening`,
    `- Feed the sourdough starter #date-${today} #time-18:00 #cooking`,
    '- [ ] write down what the greenhouse sheets will cost',
    '',
  ].join('\n'));
}

function isEmptyDir(path: string): boolean {
  return !existsSync(path) || (statSync(path).isDirectory() && readdirSync(path).length === 0);
}

export const init: CommandModule<object, Args> = {
  command: 'init [dir]',
  describe: 'write a config running the outheis agents (relay, data, agenda, pattern, llm) on a vault; without --vault, a sample one',
  builder: (y) =>
    y.positional('dir', { type: 'string', describe: 'where the config goes (default: .)' })
      .option('vault', { type: 'string', describe: 'an existing Markdown vault to use (default: DIR/vault, a sample one when it is missing or empty)' })
      .option('keep', { type: 'boolean', describe: 'if DIR already has an outheis.yaml, leave it and succeed (for npm start)' })
      .option('force', { type: 'boolean', describe: 'overwrite an existing outheis.yaml (the vault is never overwritten)' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }) as never,
  handler: (argv) => {
    const dir = resolve(argv.dir ?? '.');
    const file = join(dir, 'outheis.yaml');
    const shown = relative(process.cwd(), file).startsWith('..') ? file : relative(process.cwd(), file);
    const next = [`outheis start -c ${shown}`, `outheis chat -c ${shown}`];
    if (existsSync(file) && !argv.force) {
      if (argv.keep) {
        const sampleDaily = join(dir, 'vault', 'daily');
        if (existsSync(sampleDaily)) writeTodayNote(join(dir, 'vault'), localDate());
        if (argv.json) process.stdout.write(JSON.stringify({ ok: true, config: file, kept: true }) + '\n');
        else console.log(`outheis: ${file} is there already; keeping it`);
        return;
      }
      throw new UsageError(`${file} exists already; --force overwrites it (the vault is left as it is), --keep uses it`);
    }
    mkdirSync(dir, { recursive: true });
    let vault: string;
    let sample = false;
    if (argv.vault) {
      vault = resolve(argv.vault);
      if (!existsSync(vault) || !statSync(vault).isDirectory()) throw new UsageError(`--vault ${argv.vault}: not a directory`);
    } else {
      vault = join(dir, 'vault');
      if (isEmptyDir(vault)) {
        writeSampleVault(vault);
        sample = true;
      }
    }
    const paths: InitPaths = { vault: realpathSync(vault), conversations: join(dir, 'conversations') };
    mkdirSync(paths.conversations, { recursive: true });
    writeFileSync(file, agentsConfig(paths, localDate()));
    if (argv.json) {
      process.stdout.write(JSON.stringify({ ok: true, config: file, vault: paths.vault, sample, next }) + '\n');
      return;
    }
    console.log(`wrote ${file}: relay, data, agenda, pattern and llm on ${sample ? 'a sample vault at ' : ''}${paths.vault}`);
    console.log('no model is configured (llm --provider none): answers come from the vault; see the file to add one');
    console.log('next:');
    for (const cmd of next) console.log(`  ${cmd}`);
  },
};
