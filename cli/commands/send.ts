import type { CommandModule } from 'yargs';
import { QOS } from '../../protocol/constants.js';
import { readBody } from '../body.js';
import { ask, DEFAULT_ANSWER_MS, parseTimeout } from '../client.js';
import { printJson, withTarget, type TargetArgs } from './target.js';

interface Args extends TargetArgs { agent: string; kind: string; body?: string; wait?: boolean; qos?: (typeof QOS)[number] }

/** The supervisor's own default for how long a request waits for its reply (supervisor/operator.ts). */
const REPLY_MS = 30_000;

export const send: CommandModule<object, Args> = {
  command: 'send <agent> <kind> [body]',
  describe: 'inject a message as the operator; with --wait, send it as a request and print the reply',
  builder: (y) =>
    withTarget(y)
      .positional('agent', { type: 'string', demandOption: true })
      .positional('kind', { type: 'string', demandOption: true })
      .positional('body', { type: 'string', describe: "the body, as JSON; @FILE reads it from a file, - from stdin (for bodies over argv's ~128 KiB)" })
      .option('wait', { type: 'boolean', describe: 'wait for the reply (--timeout, default 30s) and print it' })
      .option('qos', { choices: QOS, describe: 'priority class (default: interactive, as for any operator message)' }) as never,
  handler: async (argv) => {
    const body = await readBody(argv.body);
    const timeout = parseTimeout(argv.timeout);
    const req = { op: 'send', to: argv.agent, kind: argv.kind, body, qos: argv.qos } as const;
    // With --wait, --timeout is the reply's budget, which the supervisor enforces; the
    // supervisor itself must still answer (a ping) within the usual window meanwhile.
    const r = argv.wait
      ? await ask(argv, { ...req, wait: true, timeout }, { long: true, answerMs: Math.min(DEFAULT_ANSWER_MS, timeout ?? DEFAULT_ANSWER_MS), capMs: (timeout ?? REPLY_MS) + DEFAULT_ANSWER_MS })
      : await ask(argv, req);
    if (argv.json) return printJson(r);
    if ('reply' in r) console.log(JSON.stringify(r.reply, null, 2));
    else console.log(`accepted: ${argv.kind} → ${argv.agent}`);
  },
};
