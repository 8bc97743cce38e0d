import type { CommandModule } from 'yargs';
import { parseDuration } from '../../protocol/units.js';
import { QOS } from '../../protocol/constants.js';
import { ask } from '../client.js';
import { UsageError } from '../errors.js';
import { printJson, withTarget, type TargetArgs } from './target.js';

interface Args extends TargetArgs { agent: string; kind: string; body?: string; wait?: boolean; timeout?: string; qos?: (typeof QOS)[number] }

function parseBody(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`the message body must be JSON (quote it for the shell: '{"a":1}'); got ${JSON.stringify(text.slice(0, 80))}: ${(err as Error).message}`);
  }
}

function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseDuration(/^\d+$/.test(text) ? `${text}ms` : text);
  } catch (err) {
    throw new UsageError(`--timeout: ${(err as Error).message}`);
  }
}

export const send: CommandModule<object, Args> = {
  command: 'send <agent> <kind> [body]',
  describe: 'inject a message as the operator; with --wait, send it as a request and print the reply',
  builder: (y) =>
    withTarget(y)
      .positional('agent', { type: 'string', demandOption: true })
      .positional('kind', { type: 'string', demandOption: true })
      .positional('body', { type: 'string', describe: 'the body, as JSON' })
      .option('wait', { type: 'boolean', describe: 'wait for the reply and print it' })
      .option('timeout', { type: 'string', describe: 'how long --wait waits (default 30s)' })
      .option('qos', { choices: QOS, describe: 'priority class (default: interactive, as for any operator message)' }) as never,
  handler: async (argv) => {
    const body = parseBody(argv.body);
    const timeout = parseTimeout(argv.timeout);
    if (timeout !== undefined && !argv.wait) throw new UsageError('--timeout only applies with --wait');
    const r = await ask(argv, { op: 'send', to: argv.agent, kind: argv.kind, body, qos: argv.qos, wait: argv.wait, timeout });
    if (argv.json) return printJson(r);
    if ('reply' in r) console.log(JSON.stringify(r.reply, null, 2));
    else console.log(`accepted: ${argv.kind} → ${argv.agent}`);
  },
};
