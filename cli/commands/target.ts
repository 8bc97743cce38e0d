// Options shared by the verbs that talk to a running supervisor.
import type { Argv } from 'yargs';

/** `timeout` is the global --timeout (cli/main.ts): how long the supervisor has to answer. */
export interface TargetArgs { config?: string; stateDir?: string; json?: boolean; timeout?: string }

/** --json on every read verb; --state-dir (or the config's state_dir) says which supervisor. */
export function withTarget<T>(y: Argv<T>): Argv<T & { stateDir?: string; json?: boolean }> {
  return y
    .option('state-dir', { type: 'string', describe: "the supervisor's state directory (default: the config's state_dir)" })
    .option('json', { type: 'boolean', describe: 'machine-readable output' }) as Argv<T & { stateDir?: string; json?: boolean }>;
}

export const printJson = (value: unknown): void => {
  process.stdout.write(JSON.stringify(value) + '\n');
};
