// outheis:pattern — insights about the vault and the conversations, written as
// Markdown into insights/ (one page a day: insights/YYYY-MM-DD.md, rewritten by a
// second run that day). Background work: a config's `schedules:` sends it `run`,
// and so can anyone who pledged send:pattern.
//
// Ownership: insights/ lies inside the vault, which `data` owns; `data` is its only
// writer, and this agent writes there only by asking `data`. By the config's
// convention no other agent asks for insights/ paths; `data` does not police that.
// The relay's conversation log is read straight from disk: the relay owns that
// directory, and this agent's manifest unveils it read-only (`unveil: {<dir>: r}`).
//
// args: --data <agent> (data)  --llm <agent> (llm)  --out <dir> (insights)
//       --stale-days <n> (14)  --relay-log <dir> (none: no "asked most")  --top <n> (10)
//       --exclude <path> (Agenda.md; repeatable: derived pages whose words would count twice)
import { parseArgs } from 'node:util';
import { agent } from '../sdk.js';
import { parseBody, runReq, type RunRes } from './messages.js';
import { localDate } from './agenda/time.js';
import { dataVault, NoteCache, type Request } from './agenda/vault.js';
import { mostAsked, mostCited, readConversations } from './pattern/asked.js';
import { factsMarkdown, renderInsights, type Facts } from './pattern/render.js';
import { staleItems } from './pattern/stale.js';
import { summarize } from './pattern/summary.js';
import { tagCounts, topicCounts } from './pattern/topics.js';

const { values: opt } = parseArgs({
  options: {
    data: { type: 'string', default: 'data' },
    llm: { type: 'string', default: 'llm' },
    out: { type: 'string', default: 'insights' },
    'stale-days': { type: 'string', default: '14' },
    'relay-log': { type: 'string' },
    top: { type: 'string', default: '10' },
    exclude: { type: 'string', multiple: true, default: ['Agenda.md'] },
  },
  strict: true,
});
const staleDays = wholeNumber(opt['stale-days'], '--stale-days');
const top = wholeNumber(opt.top, '--top');
const out = opt.out.replace(/\/+$/, '');

function wholeNumber(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what}: expected a whole number, got "${v}"`);
  return n;
}

const request = agent.request as Request;
const vault = dataVault(request, opt.data);
// Its own pages, and pages derived from other notes, are not material for insights.
const excluded = new Set(opt.exclude);
const notes = new NoteCache(vault, (path) => excluded.has(path) || path === out || path.startsWith(`${out}/`));
const log = (line: string) => void process.stderr.write(`${line}\n`);

async function run(): Promise<RunRes> {
  const all = await notes.all();
  const conversations = opt['relay-log'] ? await readConversations(opt['relay-log']) : [];
  const facts: Facts = {
    date: localDate(),
    notes: all.length,
    tags: tagCounts(all, top),
    topics: topicCounts(all, top),
    stale: staleItems(all, Date.now(), staleDays).slice(0, 50),
    staleDays,
    asked: mostAsked(conversations, top),
    cited: mostCited(conversations, top),
    conversations: conversations.length,
  };
  const summary = await summarize(request, opt.llm, factsMarkdown(facts).join('\n'), log);
  const path = `${out}/${facts.date}.md`;
  await vault.write(path, renderInsights(facts, summary));
  return { written: [path] };
}

// One run at a time: a scheduled run and an asked-for one would write the same page.
let running: Promise<RunRes> | undefined;
agent.handle('run', (body) => {
  parseBody(runReq, body, 'run');
  running ??= run().finally(() => (running = undefined));
  return running;
});

await agent.ready();
