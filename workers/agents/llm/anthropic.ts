// The Anthropic Messages API through its official SDK: the neutral conversation of
// messages.ts in Anthropic's shape and back. Tool results travel as tool_result
// blocks in a user turn; tool calls come back as tool_use blocks.
import Anthropic, { APIConnectionTimeoutError } from '@anthropic-ai/sdk';
import type { ContentBlockParam, Message, MessageCreateParamsNonStreaming, MessageParam, Tool as AnthropicTool } from '@anthropic-ai/sdk/resources/messages/messages.js';
import type { ChatMessage, CompleteReq, CompleteRes, Tool } from '../messages.js';
import { DEFAULT_MAX_TOKENS, providerError, type Provider, type ProviderOptions } from './provider.js';

export function anthropicProvider(opts: ProviderOptions): Provider {
  const client = new Anthropic({
    // Without a key the SDK refuses to build a request; the provider says so as EPROVIDER below.
    apiKey: opts.apiKey ?? null,
    baseURL: opts.baseURL ?? null,
    timeout: opts.timeoutMs,
    maxRetries: opts.retries,
    // Not ANTHROPIC_LOG: a debug level would print requests.
    logLevel: 'warn',
  });
  return {
    name: 'anthropic',
    model: opts.model,
    async complete(req) {
      if (!opts.apiKey) throw providerError('anthropic', new Error('no ANTHROPIC_API_KEY in llm\'s environment (name it in the agent\'s env:)'), undefined);
      const params = toAnthropic(req, opts.model);
      try {
        const message = opts.stream ? await client.messages.stream(params).finalMessage() : await client.messages.create(params);
        return fromAnthropic(message);
      } catch (err) {
        throw providerError('anthropic', err, opts.apiKey, err instanceof APIConnectionTimeoutError ? opts.timeoutMs : undefined);
      }
    },
  };
}

export function toAnthropic(req: CompleteReq, model: string): MessageCreateParamsNonStreaming {
  const params: MessageCreateParamsNonStreaming = { model, max_tokens: req.max_tokens ?? DEFAULT_MAX_TOKENS, messages: turns(req.messages) };
  if (req.system) params.system = req.system;
  if (req.tools?.length) params.tools = req.tools.map(tool);
  return params;
}

/** Anthropic alternates user and assistant: consecutive user-side turns (tool results, then a question) merge into one. */
function turns(messages: ChatMessage[]): MessageParam[] {
  const out: MessageParam[] = [];
  for (const m of messages) {
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    const blocks = contentOf(m);
    // An empty turn (an assistant that said nothing and called nothing) is refused by the API and carries nothing.
    if (!blocks.length) continue;
    const last = out.at(-1);
    if (last && last.role === role) (last.content as ContentBlockParam[]).push(...blocks);
    else out.push({ role, content: blocks });
  }
  return out;
}

function contentOf(m: ChatMessage): ContentBlockParam[] {
  switch (m.role) {
    case 'user':
      return [{ type: 'text', text: m.content }];
    case 'tool':
      return [{ type: 'tool_result', tool_use_id: m.tool_call_id, content: m.content }];
    case 'assistant': {
      // An empty text block is refused by the API; an assistant turn of tool calls alone has none.
      const text: ContentBlockParam[] = m.content ? [{ type: 'text', text: m.content }] : [];
      return [...text, ...(m.tool_calls ?? []).map((c): ContentBlockParam => ({ type: 'tool_use', id: c.id, name: c.name, input: c.arguments }))];
    }
  }
}

function tool(t: Tool): AnthropicTool {
  // input_schema must be an object schema; a tool declared with bare properties gets the type it implies.
  const schema = { type: 'object', ...t.parameters } as AnthropicTool['input_schema'];
  return { name: t.name, description: t.description, input_schema: schema };
}

export function fromAnthropic(message: Message): CompleteRes {
  let text = '';
  const tool_calls: CompleteRes['tool_calls'] = [];
  for (const block of message.content) {
    if (block.type === 'text') text += block.text;
    else if (block.type === 'tool_use') tool_calls.push({ id: block.id, name: block.name, arguments: asRecord(block.input) });
  }
  return { text, tool_calls, usage: { input_tokens: message.usage.input_tokens ?? 0, output_tokens: message.usage.output_tokens ?? 0 } };
}

const asRecord = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
