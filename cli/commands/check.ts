import type { CommandModule } from 'yargs';
import { configPath } from '../config-arg.js';
import { ConfigError, formatConfigIssues, loadConfig, preflight } from '../../supervisor/config/index.js';
import { EXIT } from '../errors.js';

interface Args { config?: string; json?: boolean }

export const check: CommandModule<object, Args> = {
  command: 'check',
  describe: 'validate a config file; exit 2 with path-specific errors (warnings, such as credentials beside an agent\'s code, exit 0)',
  builder: (y) => y.option('json', { type: 'boolean', describe: 'machine-readable result' }),
  handler: (argv) => {
    const file = configPath(argv.config);
    try {
      // What `start` reads (cli/config-arg.ts readConfig), keeping preflight's warnings.
      const cfg = loadConfig(file);
      const warnings = preflight(cfg);
      if (argv.json) {
        console.log(JSON.stringify({ ok: true, file, agents: cfg.order, warnings }));
        return;
      }
      console.log(`${file}: ok (${cfg.order.length} agents: ${cfg.order.join(', ')})`);
      if (warnings.length) console.error(`${file}: ${warnings.length === 1 ? 'warning' : 'warnings'}\n${indent(formatConfigIssues(warnings))}`);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      if (argv.json) console.log(JSON.stringify({ ok: false, file, issues: err.issues }));
      else console.error(`${file}: invalid\n${indent(formatConfigIssues(err.issues))}`);
      process.exitCode = EXIT.usage;
    }
  },
};

export const indent = (text: string): string => text.replace(/^/gm, '  ');
