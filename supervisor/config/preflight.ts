// Checks against the machine rather than the file: a config can be valid and still
// name an entry file that is not there. `check` and `start` both run these, so a
// typo in `run` is a config error at once, not a crash loop ending in escalation.
import { statSync } from 'node:fs';
import type { Config } from './schema.js';
import { ConfigError, type ConfigIssue } from './load.js';
import { envFileIssues } from './env-file.js';

export function preflight(cfg: Config): void {
  const issues: ConfigIssue[] = [];
  for (const name of cfg.order) {
    const run = cfg.agents[name]!.run;
    let what: string | undefined;
    try {
      if (!statSync(run).isFile()) what = 'is not a file';
    } catch (err) {
      what = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as NodeJS.ErrnoException).code})`;
    }
    if (what) issues.push({ path: `agents.${name}.run`, message: `entry file ${run} ${what}` });
  }
  issues.push(...envFileIssues(cfg));
  if (issues.length) throw new ConfigError(issues, cfg.file);
}
