// outheis:pattern under a real `outheis start`: insights about a vault on disk and
// about the relay's conversation log, which pattern reads through a read-only unveil
// of the relay's directory. Without a model (llm on `--provider none`) the page has
// no summary; with the stub model it has one, written from the counted facts. And a
// `schedules:` entry runs it with nobody asking.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunRes } from '../workers/agents/messages.js';
import { replyOf, sendAsync, startDaemon, stop, uidOf } from './helpers/daemon.js';
import { until } from './helpers/harness.js';
import { startStubModel, type StubModel } from './helpers/stub-model.js';

const TODAY = new Date().toISOString().slice(0, 10); // the agents run in UTC here (no TZ passed)




const NOTES: Record<string, string> = {
  'garden/compost.md': '# Compost\n\nTurn the compost heap weekly. #garden\n',
  'garden/beds.md': '# Beds\n\nMulch the beds with compost in autumn. #garden #autumn\n',
  'house/fence.md': '# Fence\n\n- [ ] fix the fence by the gate\n- [x] buy nails\n',
  'house/fresh.md': '# Fresh\n\n- [ ] a task from today\n',
};

async function setUp(llmArgs: string[], extra: string[] = [], env: NodeJS.ProcessEnv = process.env) {
  const dir = mkdtempSync(join(tmpdir(), 'outheis-pattern-'));
  chmodSync(dir, 0o755);
  const vault = join(dir, 'vault');
  for (const [path, text] of Object.entries(NOTES)) {
    mkdirSync(dirname(join(vault, path)), { recursive: true, mode: 0o755 });
    writeFileSync(join(vault, path), text);
  }
  const month = new Date(Date.now() - 30 * 86_400_000);
  utimesSync(join(vault, 'house/fence.md'), month, month);
  const log = join(dir, 'conversations');
  mkdirSync(log, { mode: 0o755 });
  const d = await startDaemon([
    'agents:',
    `  data: { run: "outheis:data", args: [--vault, ${vault}], owns: [vault], unveil: { vault: rw } }`,
    '  agenda: { run: "outheis:agenda", after: [data], pledge: [send:data, send:llm] }',
    `  llm: ${JSON.stringify({ run: 'outheis:llm', args: llmArgs, pledge: llmArgs.length ? ['net'] : [], env: llmArgs.length ? ['OPENAI_API_KEY'] : [] })}`,
    `  relay: { run: "outheis:relay", args: [--log, ${log}], after: [data, agenda, llm], owns: [conversations], unveil: { conversations: rw }, pledge: [send:data, send:agenda, send:llm] }`,
    `  pattern: { run: "outheis:pattern", args: [--relay-log, ${log}, --stale-days, "14"], after: [data], qos: background, unveil: { conversations: r }, pledge: [send:data, send:llm] }`,
    ...extra,
  ], { dir, waitReady: ['data', 'agenda', 'llm', 'relay', 'pattern'], env });
  return { d, dir, vault, log };
}

describe('pattern without a model', () => {
  let s: Awaited<ReturnType<typeof setUp>>;

  before(async () => {
    s = await setUp([], ['schedules:', '  insights: { every: 1s, to: pattern, kind: run, qos: background }']);
  });
  after(async () => {
    if (s) await stop(s.d);
    if (s) rmSync(s.dir, { recursive: true, force: true });
  });

  test('run writes insights: tags, topics, stale open items and what was asked most', async () => {
    for (const q of ['What is on my agenda today?', 'what is on my agenda today', 'search compost']) await replyOf(sendAsync(s.d, 'relay', 'ask', { text: q }));
    const res = await replyOf(sendAsync<RunRes>(s.d, 'pattern', 'run', {}));
    assert.deepEqual(res, { written: [`insights/${TODAY}.md`] });
    const file = join(s.vault, res.written[0]!);
    const page = readFileSync(file, 'utf8');
    assert.match(page, /## Recurring tags\n\n- `garden`: 2 notes\n- `autumn`: 1 note/);
    assert.match(page, /## Recurring topics\n\n- compost: 2 notes/);
    assert.match(page, /- fix the fence by the gate \(\[house\/fence\.md\]\(\.\.\/house\/fence\.md\), 3\d days\)/);
    assert.doesNotMatch(page, /a task from today|buy nails/, 'fresh and done tasks are not stale');
    assert.match(page, /## Asked most\n\n- “What is on my agenda today\?”: 2 times\n- “search compost”: 1 time/);
    assert.doesNotMatch(page, /## Summary/, 'no model, no summary');
    assert.equal(statSync(file).uid, uidOf(s.d, 'data'), 'written by data, the vault\'s only writer');
  });

  test('the schedule runs it with nobody asking', async () => {
    const file = join(s.vault, `insights/${TODAY}.md`);
    rmSync(file, { force: true });
    await until('the scheduled run to write the insights again', () => (existsSync(file) ? true : undefined));
    const r = s.d.cli(['journal', '--agent', 'pattern', '--json', '-n', '500']);
    const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(records.some((x) => x.type === 'accept' && x.from === 'scheduler' && x.to === 'pattern' && x.kind === 'run'), 'the scheduler sent run');
  });
});

describe('pattern with a model', () => {
  let stub: StubModel;
  let s: Awaited<ReturnType<typeof setUp>>;

  before(async () => {
    stub = await startStubModel();
    s = await setUp(['--provider', 'openai', '--model', 'stub-1', '--base-url', stub.baseUrl('openai'), '--retries', '0'], [], { ...process.env, OPENAI_API_KEY: 'sk-test-pattern' });
  });
  after(async () => {
    if (s) await stop(s.d);
    if (s) rmSync(s.dir, { recursive: true, force: true });
    await stub?.close();
  });

  test('the page opens with the model\'s summary, written from the counted facts', async () => {
    stub.reply({ text: 'Your garden dominates; the fence has waited a month.' });
    const res = await replyOf(sendAsync<RunRes>(s.d, 'pattern', 'run', {}));
    const page = readFileSync(join(s.vault, res.written[0]!), 'utf8');
    assert.match(page, /## Summary\n\n_Written by the model from the counts below\._\n\nYour garden dominates; the fence has waited a month\.\n/);
    assert.match(page, /## Recurring tags/);
    const shown = JSON.stringify(stub.requests.at(-1)!.body.messages);
    assert.match(shown, /fix the fence by the gate/, 'the model was shown the facts');
  });
});
