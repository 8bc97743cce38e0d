import type { CommandModule } from 'yargs';
import { configPath, readConfig } from '../config-arg.js';
import { ConfigError, formatConfigIssues } from '../../supervisor/config/index.js';
import { EXIT } from '../errors.js';

interface Args { config?: string; json?: boolean }

export const check: CommandModule<object, Args> = {
  command: 'check',
  describe: 'validate a config file; exit 2 with path-specific errors',
  builder: (y) => y.option('json', { type: 'boolean', describe: 'machine-readable result' }),
  handler: (argv) => {
    const file = configPath(argv.config);
    try {
      const cfg = readConfig(file);
      if (argv.json) console.log(JSON.stringify({ ok: true, file, agents: cfg.order }));
      else console.log(`${file}: ok (${cfg.order.length} agents: ${cfg.order.join(', ')})`);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      if (argv.json) console.log(JSON.stringify({ ok: false, file, issues: err.issues }));
      else console.error(`${file}: invalid\n${indent(formatConfigIssues(err.issues))}`);
      process.exitCode = EXIT.usage;
    }
  },
};

export const indent = (text: string): string => text.replace(/^/gm, '  ');
