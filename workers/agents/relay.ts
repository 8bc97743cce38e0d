// outheis:relay — the user's interface: `ask {text}` → `{text, sources}`.
// With a model (llm's `complete` works): a tool-using loop (relay/loop.ts) whose
// tools are messages to the agents that own each capability. Without one (ENOMODEL,
// no llm agent, llm not pledged, or the model failing): a small grammar answered
// from the vault (relay/grammar.ts, relay/answers.ts). Either way the exchange is
// appended to the conversation log in --log, a directory this agent owns.
//
// Its only write to the vault is a new note in --inbox, through `data`.
//
// args: --data <agent> (data)  --agenda <agent> (agenda)  --llm <agent> (llm)
//       --inbox <dir> (inbox)  --log <dir> (none: no log)  --max-steps <n> (6)
//       --model-timeout <duration> (120s, one model call)
import { parseArgs } from 'node:util';
import { agent } from '../sdk.js';
import { agentCodeOf, askReq, completeRes, parseBody, todayRes, type AskRes, type CompleteReq } from './messages.js';
import { localDate, parseDuration } from './agenda/time.js';
import { dataVault, type Request } from './agenda/vault.js';
import { answerWithoutModel } from './relay/answers.js';
import { parseCommand } from './relay/grammar.js';
import { inboxNote } from './relay/inbox.js';
import { appendExchange } from './relay/log.js';
import { modelAnswer } from './relay/loop.js';
import type { ToolDeps } from './relay/tools.js';

const { values: opt } = parseArgs({
  options: {
    data: { type: 'string', default: 'data' },
    agenda: { type: 'string', default: 'agenda' },
    llm: { type: 'string', default: 'llm' },
    inbox: { type: 'string', default: 'inbox' },
    log: { type: 'string' },
    'max-steps': { type: 'string', default: '6' },
    'model-timeout': { type: 'string', default: '120s' },
  },
  strict: true,
});
const maxSteps = Number(opt['max-steps']);
if (!Number.isInteger(maxSteps) || maxSteps < 1 || maxSteps > 50) throw new Error(`--max-steps: expected a whole number from 1 to 50, got "${opt['max-steps']}"`);
const modelTimeout = parseDuration(opt['model-timeout'], '--model-timeout');
if (!opt.log) process.stderr.write('relay: no --log directory: conversations are not logged, and pattern cannot say what was asked most\n');

const request = agent.request as Request;
const deps: ToolDeps = {
  vault: dataVault(request, opt.data),
  agendaToday: async (date) => todayRes.parse(await request(opt.agenda, 'today', date ? { date } : {}, { timeout: 15_000 })),
  async saveNote(text, title) {
    const note = inboxNote(opt.inbox, text, new Date(), title);
    return (await deps.vault.write(note.path, note.text)).path;
  },
  askAgent: (to, question) => request(to, 'ask', { text: question }, { timeout: 60_000 }),
};

const complete = async (req: CompleteReq) => completeRes.parse(await request(opt.llm, 'complete', req, { timeout: modelTimeout }));

/**
 * When the model is known to be absent, questions go straight to the grammar, and
 * the relay asks again only after a while: a llm on `--provider none` stays that
 * way until it restarts, and an unpledged llm until the relay restarts.
 */
let noModelUntil = 0;
const RETRY_AFTER: Record<string, number> = { ENOMODEL: 60_000, ENOAGENT: 5_000, EDENIED: Infinity };

async function ask(text: string): Promise<AskRes & { mode: 'model' | 'grammar' }> {
  const today = localDate();
  let note = '';
  if (Date.now() >= noModelUntil) {
    try {
      const r = await modelAnswer(text, complete, deps, maxSteps, today);
      return { text: r.text, sources: r.sources, mode: 'model' };
    } catch (err) {
      const code = agentCodeOf(err) ?? (err as { code?: string }).code ?? 'error';
      const retry = RETRY_AFTER[code];
      if (retry !== undefined) noModelUntil = Date.now() + retry;
      else {
        // Not an absent model but a failing one (EBUDGET, EPROVIDER, a timeout): say so, and answer anyway.
        note = `(The model could not answer: ${code}. Answering from the vault.)\n`;
        process.stderr.write(`relay: model failed, answering without it: ${(err as Error).message}\n`);
      }
    }
  }
  const r = await answerWithoutModel(parseCommand(text, today), deps);
  return { text: note + r.text, sources: r.sources, mode: 'grammar' };
}

agent.handle('ask', async (body): Promise<AskRes> => {
  const { text } = parseBody(askReq, body, 'ask');
  const r = await ask(text);
  if (opt.log) {
    const time = new Date();
    await appendExchange(opt.log, localDate(time), { time: time.toISOString(), question: text, answer: r.text, sources: r.sources, mode: r.mode })
      .catch((err: Error) => process.stderr.write(`relay: could not log the exchange: ${err.message}\n`));
  }
  return { text: r.text, sources: r.sources };
});

await agent.ready();
