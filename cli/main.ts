#!/usr/bin/env -S node --max-semi-space-size=2
// The `outheis` command. The flag keeps the supervisor's young generation small:
// it routes small frames, and 2 MB semi-spaces cost it no throughput (bench/)
// while saving ~11 MB of RSS. Keep in step with SUPERVISOR_NODE_FLAGS.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError, formatConfigIssues } from '../supervisor/config/index.js';
import { check, indent } from './commands/check.js';
import { start } from './commands/start.js';
import { stop } from './commands/stop.js';
import { status } from './commands/status.js';
import { top } from './commands/top.js';
import { logs } from './commands/logs.js';
import { send } from './commands/send.js';
import { restart } from './commands/restart.js';
import { reload } from './commands/reload.js';
import { journal } from './commands/journal.js';
import { replay } from './commands/replay.js';
import { redrive } from './commands/redrive.js';
import { doctor } from './commands/doctor.js';
import { service } from './commands/service.js';
import { init } from './commands/init.js';
import { chat } from './commands/chat.js';
import { shieldBody } from './body.js';
import { ClientError } from './client.js';
import { EXIT, UsageError } from './errors.js';

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

try {
  await yargs(shieldBody(hideBin(process.argv)))
    .scriptName('outheis')
    .option('config', { alias: 'c', type: 'string', describe: 'config file (default: ./outheis.yaml)', global: true })
    .option('timeout', { type: 'string', global: true, describe: 'how long the supervisor has to answer a client verb (default 5s); with send --wait, how long the reply may take (default 30s)' })
    .command(start)
    .command(stop)
    .command(status)
    .command(top)
    .command(logs)
    .command(send)
    .command(restart)
    .command(reload)
    .command(journal)
    .command(replay)
    .command(redrive)
    .command(check)
    .command(doctor)
    .command(service)
    .command(init)
    .command(chat)
    .demandCommand(1, 'name a command')
    .strict()
    .fail((msg, err) => {
      if (err) fail(err);
      console.error(`outheis: ${msg}\nRun 'outheis --help' for usage.`);
      process.exit(EXIT.usage);
    })
    .help()
    .parseAsync();
} catch (err) {
  fail(err);
}
