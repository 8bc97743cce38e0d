// `outheis chat`: a conversation with `relay` as the operator. Each line is an
// interactive `ask` request over one control connection; the answer is printed with
// the vault paths it came from. The up arrow walks the history, which is kept in the
// state directory (the operator's, 0700) between runs.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { CommandModule } from 'yargs';
import { ControlClient, parseTimeout, stateDirFor } from '../client.js';
import { withTarget, type TargetArgs } from './target.js';

interface Args extends TargetArgs { agent?: string }

const HISTORY_MAX = 500;
const REPLY_MS = 120_000;

function loadHistory(file: string): string[] {
  try {
    // readline wants the newest first.
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(-HISTORY_MAX).reverse();
  } catch {
    return [];
  }
}

/** The reply of an `ask`, as shown: its text, then its sources. */
export function renderAnswer(reply: unknown): string {
  const r = reply as { text?: unknown; sources?: unknown };
  const text = typeof r?.text === 'string' ? r.text : JSON.stringify(reply, null, 2);
  const sources = Array.isArray(r?.sources) ? r.sources.filter((s): s is string => typeof s === 'string') : [];
  return sources.length ? `${text}\n\nsources:\n${sources.map((s) => `  - ${s}`).join('\n')}` : text;
}

export const chat: CommandModule<object, Args> = {
  command: 'chat',
  describe: 'talk to the relay agent (ask, answer, sources); up arrow for history, Ctrl-D to leave',
  builder: (y) => withTarget(y).option('agent', { type: 'string', default: 'relay', describe: 'the agent to ask' }) as never,
  handler: async (argv) => {
    const stateDir = stateDirFor(argv);
    const client = await ControlClient.connect(stateDir);
    const historyFile = join(stateDir, 'chat-history');
    const timeout = parseTimeout(argv.timeout) ?? REPLY_MS;
    const to = argv.agent ?? 'relay';
    const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: process.stdin.isTTY ? 'you> ' : '', history: loadHistory(historyFile), historySize: HISTORY_MAX, terminal: process.stdin.isTTY });
    if (process.stdin.isTTY) console.log(`talking to ${to} (Ctrl-D to leave)`);
    rl.prompt();
    for await (const line of rl) {
      const text = line.trim();
      if (text) {
        try {
          appendFileSync(historyFile, text.replace(/\n/g, ' ') + '\n', { mode: 0o600 });
        } catch {
          // history is a convenience: a read-only state dir does not stop the conversation
        }
        try {
          const r = await client.call({ op: 'send', to, kind: 'ask', body: { text }, qos: 'interactive', wait: true, timeout } as never, { long: true, capMs: timeout + 5000 });
          console.log(`${to}> ${renderAnswer((r as { reply: unknown }).reply).replace(/\n/g, `\n${' '.repeat(to.length + 2)}`)}`);
        } catch (err) {
          const e = err as { code?: string; message?: string };
          console.log(`${to}> (${e.code ?? 'error'}) ${e.message ?? String(err)}`);
          if (e.code === 'ECLOSED' || e.code === 'EIO') break;
        }
      }
      rl.prompt();
    }
    rl.close();
    client.close();
  },
};
