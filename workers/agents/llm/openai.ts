// Any OpenAI-compatible chat completions endpoint (OpenAI, Ollama, vLLM, llama.cpp's
// server) through the official openai SDK: the neutral conversation of messages.ts
// in that shape and back. Tool calls carry their arguments as JSON text both ways.
import OpenAI, { APIConnectionTimeoutError } from 'openai';
import type {
  ChatCompletion, ChatCompletionCreateParamsNonStreaming, ChatCompletionFunctionTool, ChatCompletionMessageParam,
} from 'openai/resources/chat/completions/completions.js';
import type { ChatMessage, CompleteReq, CompleteRes, Tool } from '../messages.js';
import { DEFAULT_MAX_TOKENS, parseArguments, providerError, type Provider, type ProviderOptions } from './provider.js';

export function openaiProvider(opts: ProviderOptions): Provider {
  const client = new OpenAI({
    // Local servers (Ollama, llama.cpp) want no key, but the SDK wants one to build a request.
    apiKey: opts.apiKey ?? 'no-key',
    baseURL: opts.baseURL ?? null,
    timeout: opts.timeoutMs,
    maxRetries: opts.retries,
    // Not OPENAI_LOG: a debug level would print requests.
    logLevel: 'warn',
  });
  return {
    name: 'openai',
    model: opts.model,
    async complete(req) {
      const params = toOpenAI(req, opts.model, opts.baseURL === undefined);
      try {
        const completion = opts.stream
          ? await client.chat.completions.stream({ ...params, stream: true, stream_options: { include_usage: true } }).finalChatCompletion()
          : await client.chat.completions.create(params);
        return fromOpenAI(completion);
      } catch (err) {
        throw providerError('openai', err, opts.apiKey, err instanceof APIConnectionTimeoutError ? opts.timeoutMs : undefined);
      }
    },
  };
}

/** `official`: OpenAI's own API (no --base-url), which refuses max_tokens for its reasoning models. */
export function toOpenAI(req: CompleteReq, model: string, official: boolean): ChatCompletionCreateParamsNonStreaming {
  const messages: ChatCompletionMessageParam[] = req.system ? [{ role: 'system', content: req.system }] : [];
  messages.push(...req.messages.map(message));
  const params: ChatCompletionCreateParamsNonStreaming = { model, messages };
  // Compatible servers (Ollama, llama.cpp, older vLLM) know only the older name.
  if (official) params.max_completion_tokens = req.max_tokens ?? DEFAULT_MAX_TOKENS;
  else params.max_tokens = req.max_tokens ?? DEFAULT_MAX_TOKENS;
  if (req.tools?.length) params.tools = req.tools.map(tool);
  return params;
}

function message(m: ChatMessage): ChatCompletionMessageParam {
  switch (m.role) {
    case 'user':
      return { role: 'user', content: m.content };
    case 'tool':
      return { role: 'tool', tool_call_id: m.tool_call_id, content: m.content };
    case 'assistant':
      if (!m.tool_calls?.length) return { role: 'assistant', content: m.content };
      return {
        role: 'assistant',
        content: m.content || null,
        tool_calls: m.tool_calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } })),
      };
  }
}

const tool = (t: Tool): ChatCompletionFunctionTool => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } });

export function fromOpenAI(completion: ChatCompletion): CompleteRes {
  const choice = completion.choices[0];
  const tool_calls: CompleteRes['tool_calls'] = [];
  for (const c of choice?.message.tool_calls ?? []) {
    if (c.type === 'function') tool_calls.push({ id: c.id, name: c.function.name, arguments: parseArguments(c.function.arguments) });
  }
  return {
    text: choice?.message.content ?? '',
    tool_calls,
    usage: { input_tokens: completion.usage?.prompt_tokens ?? 0, output_tokens: completion.usage?.completion_tokens ?? 0 },
  };
}
