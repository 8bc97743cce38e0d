// outheis:agenda — the day's items, from the `#date-` and `#time-` tags anywhere in
// the vault. It has no vault access of its own: every read and write goes through
// `data` (pledge send:data), the vault's only writer. It keeps Agenda.md current
// after each `add`, on `refresh` (for a config's `schedules:`), every --refresh, and
// at start. Dates are the agent's local dates: the TZ its manifest passes (`env:
// [TZ]`), UTC without one.
//
// args: --data <agent> (data)  --page <path> (Agenda.md)  --inbox <path> (Agenda/inbox.md)
//       --days <n> (14, how far Agenda.md looks ahead)  --refresh <duration> (10m; 0 = off)
import { parseArgs } from 'node:util';
import { agent } from '../sdk.js';
import { addReq, parseBody, refreshReq, todayReq, type AgendaItem, type RefreshRes, type TodayRes } from './messages.js';
import { appendLine, itemLine } from './agenda/add.js';
import { itemsIn, sortItems, type DatedItem } from './agenda/items.js';
import { renderAgenda } from './agenda/page.js';
import { localDate, parseDuration } from './agenda/time.js';
import { dataVault, NoteCache, type Request } from './agenda/vault.js';

const { values: opt } = parseArgs({
  options: {
    data: { type: 'string', default: 'data' },
    page: { type: 'string', default: 'Agenda.md' },
    inbox: { type: 'string', default: 'Agenda/inbox.md' },
    days: { type: 'string', default: '14' },
    refresh: { type: 'string', default: '10m' },
  },
  strict: true,
});
const days = Number(opt.days);
if (!Number.isInteger(days) || days < 1 || days > 366) throw new Error(`--days: expected a whole number of days from 1 to 366, got "${opt.days}"`);
const refreshEvery = parseDuration(opt.refresh, '--refresh');

const vault = dataVault(agent.request as Request, opt.data);
// The page is derived from the vault; read back as a source it would list every item twice.
const notes = new NoteCache(vault, (path) => path === opt.page);

async function allItems(): Promise<DatedItem[]> {
  return (await notes.all()).flatMap((n) => itemsIn(n.path, n.text));
}

const asItem = (i: DatedItem): AgendaItem => ({ text: i.text, path: i.path, ...(i.time ? { time: i.time } : {}) });

// Writes (an add, a page refresh) run one at a time: an add appends to a note it
// has just read, and two at once would each write back without the other's line.
let chain: Promise<unknown> = Promise.resolve();
function serial<T>(fn: () => Promise<T>): Promise<T> {
  const run = chain.then(fn, fn);
  chain = run.catch(() => undefined);
  return run;
}

/** What Agenda.md holds, as this agent last wrote or read it: an unchanged page is not rewritten. */
let written: string | undefined;

async function refreshPage(): Promise<RefreshRes> {
  const items = await allItems();
  const page = renderAgenda(items, localDate(), days);
  written ??= (await vault.read(opt.page))?.text;
  const changed = page !== written;
  if (changed) {
    await vault.write(opt.page, page);
    written = page;
  }
  return { path: opt.page, changed, items: items.length };
}

agent.handle('today', async (body): Promise<TodayRes> => {
  const req = parseBody(todayReq, body, 'today');
  const date = req.date ?? localDate();
  return { date, items: sortItems((await allItems()).filter((i) => i.date === date)).map(asItem) };
});

agent.handle('add', (body) => {
  const req = parseBody(addReq, body, 'add');
  return serial(async () => {
    const existing = await vault.read(opt.inbox);
    await vault.write(opt.inbox, appendLine(existing?.text, itemLine(req)));
    await refreshPage();
    return { path: opt.inbox, date: req.date };
  });
});

agent.handle('refresh', (body) => {
  parseBody(refreshReq, body, 'refresh');
  return serial(refreshPage);
});

await agent.ready();

const refreshNow = (why: string) =>
  serial(refreshPage).catch((err: Error) => process.stderr.write(`agenda: ${why} refresh of ${opt.page} failed: ${err.message}\n`));
void refreshNow('start-up');
if (refreshEvery > 0) setInterval(() => void refreshNow('periodic'), refreshEvery);
