// Checks against the machine rather than the file: a config can be valid and still
// name an entry file that is not there, or ask for more open files than this host
// lets any process have. `check` and `start` both run these, so such a config is
// refused at once, not a crash loop ending in escalation. What runs but deserves a
// look (code in a home directory, credentials beside the code) comes back as warnings.
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { codeOf, codeWarnings, type Code } from '../../policies/code.js';
import { hardLimits, limitsAboveHost } from '../../policies/machine.js';
import type { Config } from './schema.js';
import { ConfigError, type ConfigIssue } from './load.js';
import { envFileIssues } from './env-file.js';

/** Why an entry file cannot be run, or undefined when it can. A symlink is followed: its target is what runs. */
function entryProblem(run: string): string | undefined {
  try {
    if (!statSync(run).isFile()) return 'is not a file';
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return `cannot be read (${code})`;
    const link = lstatSync(run, { throwIfNoEntry: false });
    return link?.isSymbolicLink() ? `is a symlink to ${readlinkSync(run)}, which does not exist` : 'does not exist';
  }
}

/** Throws a ConfigError listing every problem; returns the warnings (each with its key path). */
export function preflight(cfg: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const hard = hardLimits();
  const scanned = new Map<string, Code['masks']>();
  for (const name of cfg.order) {
    const agent = cfg.agents[name]!;
    const what = entryProblem(agent.run);
    // A bundled agent is named as written; its file is missing only from an unbuilt checkout.
    const shown = agent.bundled === undefined ? `entry file ${agent.run}` : `outheis:${agent.bundled} (${agent.run})`;
    if (what) issues.push({ path: `agents.${name}.run`, message: `${shown} ${what}${agent.bundled === undefined ? '' : ': is outheis built (npm run build)?'}` });
    else {
      try {
        for (const message of codeWarnings(codeOf(agent.run, cfg.dir, scanned))) warnings.push({ path: `agents.${name}.run`, message });
      } catch (err) {
        issues.push({ path: `agents.${name}.run`, message: `${shown}: ${(err as Error).message}` });
      }
    }
    for (const [key, message] of limitsAboveHost(agent.limits, hard)) issues.push({ path: `agents.${name}.limits.${key}`, message });
  }
  issues.push(...envFileIssues(cfg));
  if (issues.length) throw new ConfigError(issues, cfg.file);
  return warnings;
}
