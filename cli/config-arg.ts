// Where the config comes from: -c FILE, or outheis.yaml/.yml/.json in the cwd.
import { resolve } from 'node:path';
import { findConfigFile, loadConfig, preflight, type Config, type ConfigIssue } from '../supervisor/config/index.js';
import { UsageError } from './errors.js';

export function configPath(arg: string | undefined): string {
  if (arg) return resolve(arg);
  const found = findConfigFile(process.cwd());
  if (!found) throw new UsageError('no config file: pass -c FILE, or run where outheis.yaml, outheis.yml or outheis.json is');
  return found;
}

/** Load, validate and preflight (entry files exist): what `check` and `start` both need; with preflight's warnings. */
export function readConfig(arg: string | undefined): { cfg: Config; warnings: ConfigIssue[] } {
  const cfg = loadConfig(configPath(arg));
  return { cfg, warnings: preflight(cfg) };
}

