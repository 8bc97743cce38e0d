#!/usr/bin/env -S node --max-semi-space-size=2 --v8-pool-size=1
// The `outheis` command. The flags keep the supervisor small: it routes small
// frames, and 2 MB semi-spaces cost it no throughput (bench/) while saving ~11 MB
// of RSS; one V8 worker thread instead of four (2-core servers) saves ~2 MB, the
// other threads' malloc arenas, for ~5-8% more CPU per message while the JIT is
// still compiling the hot path after a start (within noise once warm; README).
// Keep in step with SUPERVISOR_NODE_FLAGS.
import type { CommandModule } from 'yargs';
import { ConfigError, formatConfigIssues } from '../supervisor/config/index.js';
import { indent } from './commands/check.js';
import { shieldBody } from './body.js';
import { ClientError } from './client.js';
import { EXIT, UsageError } from './errors.js';

/**
 * Each verb's module, loaded only when it runs: an operator's `status` or `send` need
 * not load the supervisor (`start`), the journal reader or the service writer. That
 * halves a client verb's start-up, which every script and every `send --wait` pays.
 */
// Each verb's own argument type is its module's business: here they are only handed to yargs.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loader = () => Promise<CommandModule<object, any>>;
const VERBS: Record<string, Loader> = {
  start: async () => (await import('./commands/start.js')).start,
  stop: async () => (await import('./commands/stop.js')).stop,
  status: async () => (await import('./commands/status.js')).status,
  top: async () => (await import('./commands/top.js')).top,
  logs: async () => (await import('./commands/logs.js')).logs,
  send: async () => (await import('./commands/send.js')).send,
  restart: async () => (await import('./commands/restart.js')).restart,
  reload: async () => (await import('./commands/reload.js')).reload,
  journal: async () => (await import('./commands/journal.js')).journal,
  replay: async () => (await import('./commands/replay.js')).replay,
  redrive: async () => (await import('./commands/redrive.js')).redrive,
  check: async () => (await import('./commands/check.js')).check,
  doctor: async () => (await import('./commands/doctor.js')).doctor,
  service: async () => (await import('./commands/service.js')).service,
  init: async () => (await import('./commands/init.js')).init,
  chat: async () => (await import('./commands/chat.js')).chat,
};

/** Global options that take a value: what follows them is no verb. */
const VALUED = new Set(['-c', '--config', '--timeout']);

/** The verb the arguments name: the first word that is neither an option nor an option's value. */
function verbOf(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (VALUED.has(a)) i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/** With --json, a failure is also said as JSON on stdout, so that scripts need not parse stderr. */
const jsonWanted = process.argv.includes('--json');

function fail(err: unknown): never {
  if (jsonWanted) {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' ? e.code : err instanceof ConfigError ? 'ECONFIG' : err instanceof UsageError ? 'EUSAGE' : 'EFAIL';
    process.stdout.write(JSON.stringify({ ok: false, error: { code, message: String(e.message ?? err) } }) + '\n');
  }
  if (err instanceof ClientError) {
    console.error(`outheis: ${err.message}`);
    process.exit(EXIT.failure);
  }
  if (err instanceof ConfigError) {
    console.error(`config error${err.file ? ` in ${err.file}` : ''}:\n${indent(formatConfigIssues(err.issues))}`);
    process.exit(EXIT.usage);
  }
  if (err instanceof UsageError) {
    console.error(`outheis: ${err.message}`);
    process.exit(EXIT.usage);
  }
  console.error(`outheis: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(EXIT.failure);
}

/** Every verb but the supervisor's own start: yargs, with its help and its strict checks. */
async function viaYargs(args: string[]): Promise<void> {
  const { default: yargs } = await import('yargs');
  // A known verb loads its module alone; anything else (no verb, --help, a typo) loads all, for yargs' usage text.
  const verb = verbOf(args);
  const modules = await Promise.all(verb && VERBS[verb] ? [VERBS[verb]()] : Object.values(VERBS).map((load) => load()));
  const cli = yargs(args)
    .scriptName('outheis')
    .option('config', { alias: 'c', type: 'string', describe: 'config file (default: ./outheis.yaml)', global: true })
    .option('timeout', { type: 'string', global: true, describe: 'how long the supervisor has to answer a client verb (default 5s); with send --wait, how long the reply may take (default 30s)' });
  for (const m of modules) cli.command(m);
  await cli
    .demandCommand(1, 'name a command')
    .strict()
    .fail((msg, err) => {
      if (err) fail(err);
      console.error(`outheis: ${msg}\nRun 'outheis --help' for usage.`);
      process.exit(EXIT.usage);
    })
    .help()
    .parseAsync();
}

try {
  const args = shieldBody(process.argv.slice(2));
  // The supervisor's own process (start) parses its few flags without yargs, which would
  // otherwise stay loaded for its whole life (commands/start.ts).
  const done = verbOf(args) === 'start' && (await (await import('./commands/start.js')).startShort(args));
  if (!done) await viaYargs(args);
} catch (err) {
  fail(err);
}
