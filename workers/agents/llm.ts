// llm: the gateway to the model, and the only agent with network access and the
// provider's key. It answers `complete` (a conversation, maybe with tools, in the
// neutral shape of messages.ts) and `usage` (today's tokens against the budget).
// Everything provider-specific lives in llm/: one file per provider, each through
// that provider's official SDK.
import { agent } from '../sdk.js';
import { agentError, completeReq, parseBody, usageReq, type CompleteRes, type UsageRes } from './messages.js';
import { anthropicProvider } from './llm/anthropic.js';
import { parseLlmArgs, type LlmArgs } from './llm/args.js';
import { Budget } from './llm/budget.js';
import { openaiProvider } from './llm/openai.js';
import type { Provider } from './llm/provider.js';

let args: LlmArgs;
try {
  args = parseLlmArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`llm: ${(err as Error).message}\n`);
  process.exit(2);
}

const provider = providerFor(args);
const restored = agent.restored as { budget?: unknown } | undefined;
const budget = new Budget(args.budget, restored?.budget);

function providerFor(a: LlmArgs): Provider | undefined {
  if (a.provider === 'none') return undefined;
  // The key is read here and handed to the SDK alone: never logged, never in a reply.
  const apiKey = process.env[a.provider === 'anthropic' ? 'ANTHROPIC_API_KEY' : 'OPENAI_API_KEY'] || undefined;
  const opts = { model: a.model!, baseURL: a.baseURL, apiKey, timeoutMs: a.timeoutMs, retries: a.retries, stream: a.stream };
  return a.provider === 'anthropic' ? anthropicProvider(opts) : openaiProvider(opts);
}

agent.handle('complete', async (body: unknown): Promise<CompleteRes> => {
  const req = parseBody(completeReq, body, 'complete');
  if (!provider) throw agentError('ENOMODEL', 'llm runs with --provider none: no model is configured');
  budget.check();
  const res = await provider.complete(req);
  const spent = budget.add(res.usage.input_tokens + res.usage.output_tokens);
  // Journaled before the answer leaves: a crash after it cannot forget what was spent.
  await agent.checkpoint({ budget: spent });
  return res;
});

agent.handle('usage', (body: unknown): UsageRes => {
  parseBody(usageReq, body, 'usage');
  const today = budget.today();
  const res: UsageRes = { provider: args.provider, day: today.day, used: today.used, requests: today.requests };
  if (provider) res.model = provider.model;
  if (budget.limit !== undefined) res.budget = budget.limit;
  return res;
});

process.stdout.write(`llm: provider ${args.provider}${provider ? `, model ${provider.model}${args.baseURL ? ` at ${args.baseURL}` : ''}` : ''}${args.budget ? `, budget ${args.budget} tokens a day` : ''}${args.stream ? ', streaming' : ''}\n`);
await agent.ready();
