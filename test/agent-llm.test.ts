// The llm agent under a real `outheis start`, sandboxed with `pledge: [net]` and its
// key passed by name (`env:`), against a stub provider on loopback that speaks the
// OpenAI and Anthropic wire formats: the providers' official SDKs are the code path.
// For each provider: a plain and a streamed completion, a tool call round trip, a 429
// retried, a 500 exhausted (EPROVIDER), a spent budget (EBUDGET, surviving a restart,
// and nothing sent), usage, and the key in the right header and nowhere else.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CompleteRes, UsageRes } from '../workers/agents/messages.js';
import { agentOf, replyOf, sendAsync, startDaemon, stop, type Daemon, type Outcome } from './helpers/daemon.js';
import { CLI, tempDir, until } from './helpers/harness.js';
import { startStubModel, type StubModel } from './helpers/stub-model.js';
import { parseLlmArgs } from '../workers/agents/llm/args.js';

/** A key that appears nowhere unless something leaked it. */
const SECRET = `sk-test-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
const LLM = 'outheis:llm';



async function refused(p: Promise<Outcome<unknown>>, pattern: RegExp): Promise<string> {
  const r = await p;
  assert.ok(!r.ok, `expected a refusal matching ${pattern}, got the reply ${JSON.stringify(r.ok && r.reply)}`);
  assert.match(r.error, pattern);
  return r.error;
}

/** Every file under `dir`, as text: logs, journal segments, checkpoints. */
function filesUnder(dir: string): [string, string][] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => [join(e.parentPath, e.name), readFileSync(join(e.parentPath, e.name), 'latin1')]);
}

const question = { system: 'Answer briefly.', messages: [{ role: 'user', content: 'What is the capital of France?' }] };
const searchTool = { name: 'search', description: 'Search the vault', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } };

for (const provider of ['openai', 'anthropic'] as const) {
  const keyVar = provider === 'openai' ? 'OPENAI_API_KEY' : 'ANTHROPIC_API_KEY';
  /** Where each SDK puts the key. */
  const keyOf = (h: Record<string, unknown>) => (provider === 'openai' ? h.authorization : h['x-api-key']);
  const keyHeader = provider === 'openai' ? `Bearer ${SECRET}` : SECRET;

  describe(`llm with ${provider}`, () => {
    let stub: StubModel;
    let d: Daemon;
    /** Everything the CLI printed: replies and errors, searched for the key at the end. */
    const seen: string[] = [];
    const ask = <T = CompleteRes>(to: string, kind: string, body: unknown) => sendAsync<T>(d, to, kind, body, seen);

    before(async () => {
      stub = await startStubModel();
      const dir = tempDir(`outheis-llm-${provider}-`);
      chmodSync(dir, 0o755);
      const common = ['--provider', provider, '--model', 'stub-model-1', '--base-url', stub.baseUrl(provider), '--timeout', '10s'];
      const llm = (args: string[]) => JSON.stringify({ run: LLM, args: [...common, ...args], pledge: ['net'], env: [keyVar] });
      d = await startDaemon([
        'agents:',
        `  llm: ${llm(['--retries', '1'])}`,
        `  streaming: ${llm(['--retries', '1', '--stream'])}`,
        `  budgeted: ${llm(['--retries', '0', '--budget', '20'])}`,
        `  impatient: ${llm(['--retries', '0', '--timeout', '300ms'])}`,
        `  nomodel: ${JSON.stringify({ run: LLM, env: [keyVar] })}`,
      ], { dir, waitReady: ['llm', 'streaming', 'budgeted', 'impatient', 'nomodel'], env: { ...process.env, [keyVar]: SECRET } });
    });

    after(async () => {
      if (d) await stop(d);
      await stub?.close();
    });

    test('a plain completion: the model\'s text and usage, the system prompt and the key where the provider wants them', async () => {
      stub.reply({ text: 'Paris.', usage: { input: 12, output: 3 } });
      const res = await replyOf(ask('llm', 'complete', question));
      assert.deepEqual(res, { text: 'Paris.', tool_calls: [], usage: { input_tokens: 12, output_tokens: 3 } });
      const req = stub.requests.at(-1)!;
      assert.equal(req.provider, provider);
      const isolation = agentOf(d, 'llm').isolation;
      assert.ok(isolation.layers.includes('namespaces'), `llm ran sandboxed (${isolation.layers.join(', ')}), and reached the stub through pledge: [net]`);
      assert.equal(req.stream, false);
      assert.equal(req.body.model, 'stub-model-1');
      assert.equal(keyOf(req.headers), keyHeader, 'the key reached the provider in its header');
      if (provider === 'openai') {
        assert.equal(req.body.max_tokens, 1024, 'a compatible endpoint gets max_tokens, by default 1024');
        assert.deepEqual(req.body.messages, [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'What is the capital of France?' }]);
      } else {
        assert.equal(req.body.max_tokens, 1024, 'max_tokens, required by Anthropic, by default 1024');
        assert.equal(req.body.system, 'Answer briefly.');
        assert.deepEqual(req.body.messages, [{ role: 'user', content: [{ type: 'text', text: 'What is the capital of France?' }] }]);
      }
    });

    test('a streamed completion is put together from the provider\'s events', async () => {
      stub.reply({ text: 'Paris, on the Seine.', usage: { input: 7, output: 6 } });
      const res = await replyOf(ask('streaming', 'complete', question));
      assert.deepEqual(res, { text: 'Paris, on the Seine.', tool_calls: [], usage: { input_tokens: 7, output_tokens: 6 } });
      assert.equal(stub.requests.at(-1)!.stream, true, 'the request asked for a stream');
    });

    for (const agentName of ['llm', 'streaming']) {
      test(`a tool call round trip (${agentName}): the call comes back, and its result goes out in ${provider}'s format`, async () => {
        stub.reply({ toolCalls: [{ id: 'call_1', name: 'search', arguments: { q: 'budget', limit: 3 } }] });
        const first = await replyOf(ask(agentName, 'complete', { messages: [{ role: 'user', content: 'find my budget notes' }], tools: [searchTool] }));
        assert.deepEqual(first.tool_calls, [{ id: 'call_1', name: 'search', arguments: { q: 'budget', limit: 3 } }]);
        assert.equal(first.text, '');
        const sentTools = stub.requests.at(-1)!.body.tools as unknown[];
        assert.deepEqual(sentTools, provider === 'openai'
          ? [{ type: 'function', function: { name: 'search', description: 'Search the vault', parameters: searchTool.parameters } }]
          : [{ name: 'search', description: 'Search the vault', input_schema: searchTool.parameters }]);

        stub.reply({ text: 'Your budget is in notes/budget.md.' });
        const second = await replyOf(ask(agentName, 'complete', {
          messages: [
            { role: 'user', content: 'find my budget notes' },
            { role: 'assistant', content: '', tool_calls: first.tool_calls },
            { role: 'tool', tool_call_id: 'call_1', content: 'notes/budget.md: the budget for 2026' },
          ],
          tools: [searchTool],
        }));
        assert.equal(second.text, 'Your budget is in notes/budget.md.');
        const sent = stub.requests.at(-1)!.body.messages as unknown[];
        assert.deepEqual(sent.slice(1), provider === 'openai'
          ? [
            { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'search', arguments: '{"q":"budget","limit":3}' } }] },
            { role: 'tool', tool_call_id: 'call_1', content: 'notes/budget.md: the budget for 2026' },
          ]
          : [
            { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'search', input: { q: 'budget', limit: 3 } }] },
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: 'notes/budget.md: the budget for 2026' }] },
          ]);
      });
    }

    test('a 429 is retried, and the retry\'s answer is the reply', async () => {
      const before = stub.requests.length;
      stub.fail(429);
      stub.reply({ text: 'after the wait' });
      const res = await replyOf(ask('llm', 'complete', question));
      assert.equal(res.text, 'after the wait');
      assert.equal(stub.requests.length - before, 2, 'the stub saw the first attempt and the retry');
    });

    test('a 500 on every attempt: EPROVIDER with the status and the provider\'s message, after --retries', async () => {
      const before = stub.requests.length;
      stub.fail(500, { message: 'upstream exploded' });
      stub.fail(500, { message: 'upstream exploded' });
      await refused(ask('llm', 'complete', question), new RegExp(`EPROVIDER: ${provider}: 500 (server_error|api_error): upstream exploded`));
      assert.equal(stub.requests.length - before, 2, 'one attempt and one retry (--retries 1)');
      assert.equal(stub.pending(), 0);
    });

    test('a provider that does not answer within --timeout: EPROVIDER saying so', async () => {
      const before = stub.requests.length;
      stub.stall();
      await refused(ask('impatient', 'complete', question), new RegExp(`EPROVIDER: ${provider}: timed out: no answer within 300 ms \\(--timeout\\)`));
      assert.equal(stub.requests.length - before, 1, 'the request was sent, and not retried (--retries 0)');
    });

    test('a provider error that quotes the key is passed on without it', async () => {
      stub.fail(401, { message: `Incorrect API key provided: ${SECRET}. Another try: ...${SECRET.slice(-12)}` });
      const error = await refused(ask('llm', 'complete', question), new RegExp(`EPROVIDER: ${provider}: 401 \\w+: Incorrect API key provided: \\[key\\]`));
      assert.ok(!error.includes(SECRET) && !error.includes(SECRET.slice(-12)), `the key shows in: ${error}`);
    });

    test('a bad body is refused with EBADREQ, naming what was wrong, and nothing is sent', async () => {
      const before = stub.requests.length;
      await refused(ask('llm', 'complete', { messages: [] }), /EBADREQ: complete: messages: /);
      await refused(ask('llm', 'complete', { messages: [{ role: 'wizard', content: 'hi' }] }), /EBADREQ: complete: messages\.0\.role/);
      assert.equal(stub.requests.length, before);
    });

    test('a spent budget answers EBUDGET without asking the provider, also after a restart; usage reports it', async () => {
      stub.reply({ text: 'an expensive answer', usage: { input: 15, output: 10 } });
      assert.equal((await replyOf(ask('budgeted', 'complete', question))).text, 'an expensive answer');
      // Nothing queued: were a request sent, the stub would record it (and answer 400).
      const before = stub.requests.length;
      await refused(ask('budgeted', 'complete', question), /EBUDGET: the daily token budget is spent: 25 of 20 tokens/);
      assert.equal(stub.requests.length, before, 'the refused request did not reach the provider');
      const usage = await replyOf(ask<UsageRes>('budgeted', 'usage', {}));
      assert.deepEqual(usage, { provider, model: 'stub-model-1', day: new Date().toISOString().slice(0, 10), used: 25, budget: 20, requests: 1 });

      const pid = agentOf(d, 'budgeted').pid;
      const r = d.cli(['restart', 'budgeted']);
      assert.equal(r.code, 0, r.stderr);
      await until('budgeted to run again under a new pid', () => {
        const a = agentOf(d, 'budgeted');
        return a.state === 'running' && a.pid !== pid ? true : undefined;
      });
      await refused(ask('budgeted', 'complete', question), /EBUDGET: .* 25 of 20 tokens/);
      assert.equal(stub.requests.length, before, 'not after the restart either');
      assert.equal((await replyOf(ask<UsageRes>('budgeted', 'usage', {}))).used, 25, 'the restarted agent restored what was spent');
    });

    test('usage counts every completion of the day, input and output', async () => {
      // llm answered: the plain 12+3, the tool round trip 10+5 twice, the 429's retry 10+5.
      const usage = await replyOf(ask<UsageRes>('llm', 'usage', {}));
      assert.equal(usage.provider, provider);
      assert.equal(usage.model, 'stub-model-1');
      assert.equal(usage.used, 15 + 15 + 15 + 15);
      assert.equal(usage.requests, 4);
      assert.equal(usage.budget, undefined, 'no --budget, no cap');
    });

    test('--provider none answers ENOMODEL, and sends nothing', async () => {
      const before = stub.requests.length;
      await refused(ask('nomodel', 'complete', question), /ENOMODEL: /);
      assert.equal(stub.requests.length, before);
      const usage = await replyOf(ask<UsageRes>('nomodel', 'usage', {}));
      assert.equal(usage.provider, 'none');
      assert.equal(usage.used, 0);
    });

    test('the key reached the provider in every request, and shows in no reply, log, journal or console', async () => {
      for (const req of stub.requests) assert.equal(keyOf(req.headers), keyHeader, `${req.path} carried the key`);
      const logs = await new Promise<string>((resolve) => execFile(process.execPath, [CLI, 'logs', '-n', '100000'], { cwd: d.dir }, (_e, out, err) => resolve(out + err)));
      assert.match(logs, /llm: provider/, 'the agents\' logs were read');
      const shown: [string, string][] = [['replies', seen.join('\n')], ['outheis logs', logs], ['the console', d.out()], ...filesUnder(d.stateDir)];
      assert.ok(shown.some(([what]) => what.includes('journal')), 'the journal was searched');
      for (const [what, text] of shown) assert.ok(!text.includes(SECRET), `the key shows in ${what}`);
    });
  });
}

test('llm\'s arguments: defaults, and a bad one named with what was passed', () => {
  assert.deepEqual(parseLlmArgs([]), { provider: 'none', model: undefined, baseURL: undefined, budget: undefined, timeoutMs: 60_000, retries: 2, stream: false });
  assert.deepEqual(parseLlmArgs(['--provider=openai', '--base-url', 'http://localhost:11434/v1', '--model', 'llama3.2', '--budget', '50000', '--timeout', '2m', '--retries', '4', '--stream']),
    { provider: 'openai', model: 'llama3.2', baseURL: 'http://localhost:11434/v1', budget: 50_000, timeoutMs: 120_000, retries: 4, stream: true });
  assert.equal(parseLlmArgs(['--provider', 'anthropic']).model, 'claude-haiku-4-5', 'a provider without --model gets a small default model');
  assert.throws(() => parseLlmArgs(['--provider', 'gemini']), /--provider: expected one of anthropic, openai, none, got "gemini"/);
  assert.throws(() => parseLlmArgs(['--timeout', '60']), /--timeout: expected a duration like/);
  assert.throws(() => parseLlmArgs(['--budget=-5']), /--budget: expected a whole number of at least 1, got "-5"/);
  assert.throws(() => parseLlmArgs(['--base-url', 'localhost:11434']), /--base-url: expected a URL/);
  assert.throws(() => parseLlmArgs(['--temperature', '0.2']), /temperature/);
});
