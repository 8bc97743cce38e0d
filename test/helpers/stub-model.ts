// A scripted model provider on loopback, speaking the real wire formats, so that
// tests run the providers' real client code (the official SDKs) end to end.
//
//   const stub = await startStubModel();
//   stub.reply({ text: 'hello' });                                   // the next answer
//   stub.reply({ toolCalls: [{ name: 'search', arguments: { q: 'x' } }] });
//   stub.fail(429);                                                  // retry-after: 0
//   stub.fail(500, { message: 'upstream exploded' });
//   stub.stall();                                                    // never answers (timeouts)
//   ... point the client at stub.baseUrl('openai') (= `${stub.url}/v1`) or
//       stub.baseUrl('anthropic') (= stub.url) ...
//   stub.requests;   // every request: { provider, path, headers, body, stream }
//   await stub.close();
//
// Routes: OpenAI `POST /v1/chat/completions` and Anthropic `POST /v1/messages`, each
// answered as JSON, or as server-sent events when the request says `stream: true`
// (OpenAI: chunks with content and tool_call deltas, a usage chunk when
// stream_options.include_usage, then `[DONE]`; Anthropic: message_start,
// content_block_start/delta/stop per block, message_delta, message_stop).
// One queue serves both routes, in order. With nothing queued a request gets a 400
// (which no client retries) saying so, and the test fails on that, not on a hang.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubToolCall { id?: string; name: string; arguments: Record<string, unknown> }

export interface StubReply {
  text?: string;
  toolCalls?: StubToolCall[];
  /** Token counts reported; default 10 in, 5 out. */
  usage?: { input: number; output: number };
}

export interface StubFailure { status: number; message?: string; retryAfter?: number | undefined }

export interface StubRequest {
  provider: 'openai' | 'anthropic';
  path: string;
  /** Lower-cased header names, as node gives them. */
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, any>;
  stream: boolean;
}

export interface StubModel {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** The base URL each SDK takes: OpenAI's includes /v1, Anthropic's does not. */
  baseUrl(provider: 'openai' | 'anthropic'): string;
  reply(r: StubReply): void;
  /** An HTTP error; `retryAfter` (seconds) defaults to 0 for 429 and is absent otherwise. */
  fail(status: number, opts?: { message?: string; retryAfter?: number }): void;
  /** The next request is read and recorded, then held open without an answer until the client gives up or close(). */
  stall(): void;
  readonly requests: StubRequest[];
  /** What is still queued. */
  pending(): number;
  close(): Promise<void>;
}

type Scripted = { reply: StubReply } | { fail: StubFailure } | { stall: true };

export async function startStubModel(): Promise<StubModel> {
  const queue: Scripted[] = [];
  const requests: StubRequest[] = [];
  const server = createServer((req, res) => void serve(req, res));

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const provider = req.url === '/v1/chat/completions' ? 'openai' : req.url === '/v1/messages' ? 'anthropic' : undefined;
    if (req.method !== 'POST' || !provider) return json(res, 404, { error: { message: `stub-model: no route ${req.method} ${req.url}` } });
    let body: Record<string, any>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>;
    } catch {
      return json(res, 400, { error: { message: 'stub-model: the body is not JSON' } });
    }
    const stream = body.stream === true;
    requests.push({ provider, path: req.url!, headers: { ...req.headers }, body, stream });
    const next = queue.shift();
    if (!next) return json(res, 400, errorBody(provider, 400, 'stub-model: no reply scripted for this request'));
    if ('stall' in next) return;
    if ('fail' in next) {
      const { status, message = `stub-model: scripted ${status}`, retryAfter } = next.fail;
      if (retryAfter !== undefined) res.setHeader('retry-after', String(retryAfter));
      return json(res, status, errorBody(provider, status, message));
    }
    const r = normalise(next.reply);
    if (provider === 'openai') return stream ? openaiStream(res, body, r) : json(res, 200, openaiJson(body, r));
    return stream ? anthropicStream(res, body, r) : json(res, 200, anthropicJson(body, r));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    baseUrl: (p) => (p === 'openai' ? `${url}/v1` : url),
    reply: (r) => void queue.push({ reply: r }),
    fail: (status, opts = {}) => void queue.push({ fail: { status, message: opts.message, retryAfter: opts.retryAfter ?? (status === 429 ? 0 : undefined) } }),
    stall: () => void queue.push({ stall: true }),
    requests,
    pending: () => queue.length,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

type Full = { text: string; toolCalls: Required<StubToolCall>[]; usage: { input: number; output: number } };

function normalise(r: StubReply): Full {
  return {
    text: r.text ?? '',
    toolCalls: (r.toolCalls ?? []).map((c) => ({ ...c, id: c.id ?? `call_${randomUUID().slice(0, 8)}` })),
    usage: r.usage ?? { input: 10, output: 5 },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Each provider's error envelope, from which its SDK takes the message. */
function errorBody(provider: 'openai' | 'anthropic', status: number, message: string): unknown {
  if (provider === 'openai') return { error: { message, type: status === 429 ? 'rate_limit_exceeded' : 'server_error', code: null } };
  return { type: 'error', error: { type: status === 429 ? 'rate_limit_error' : 'api_error', message } };
}

function sse(res: ServerResponse, events: [string | undefined, unknown][]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const [event, data] of events) res.write(`${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  res.end();
}

/** Split a string in a few pieces, as a model streams it. */
const pieces = (s: string): string[] => (s.length < 2 ? [s] : [s.slice(0, Math.ceil(s.length / 2)), s.slice(Math.ceil(s.length / 2))]);

// ---- OpenAI chat completions -----------------------------------------------------

function openaiJson(req: Record<string, any>, r: Full): unknown {
  const message: Record<string, unknown> = { role: 'assistant', content: r.text || (r.toolCalls.length ? null : ''), refusal: null };
  if (r.toolCalls.length) {
    message.tool_calls = r.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } }));
  }
  return {
    id: `chatcmpl-${randomUUID()}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: req.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: r.toolCalls.length ? 'tool_calls' : 'stop' }],
    usage: { prompt_tokens: r.usage.input, completion_tokens: r.usage.output, total_tokens: r.usage.input + r.usage.output },
  };
}

function openaiStream(res: ServerResponse, req: Record<string, any>, r: Full): void {
  const base = { id: `chatcmpl-${randomUUID()}`, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: req.model };
  const chunk = (delta: unknown, finish: string | null = null) => [undefined, { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] }] as [undefined, unknown];
  const events: [string | undefined, unknown][] = [chunk({ role: 'assistant', content: '' })];
  if (r.text) for (const p of pieces(r.text)) events.push(chunk({ content: p }));
  r.toolCalls.forEach((c, index) => {
    events.push(chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] }));
    for (const p of pieces(JSON.stringify(c.arguments))) events.push(chunk({ tool_calls: [{ index, function: { arguments: p } }] }));
  });
  events.push(chunk({}, r.toolCalls.length ? 'tool_calls' : 'stop'));
  if (req.stream_options?.include_usage) {
    events.push([undefined, { ...base, choices: [], usage: { prompt_tokens: r.usage.input, completion_tokens: r.usage.output, total_tokens: r.usage.input + r.usage.output } }]);
  }
  events.push([undefined, '[DONE]']);
  sse(res, events);
}

// ---- Anthropic messages ------------------------------------------------------------

function anthropicBlocks(r: Full): Record<string, unknown>[] {
  const blocks: Record<string, unknown>[] = r.text ? [{ type: 'text', text: r.text }] : [];
  for (const c of r.toolCalls) blocks.push({ type: 'tool_use', id: c.id, name: c.name, input: c.arguments });
  return blocks;
}

function anthropicJson(req: Record<string, any>, r: Full): unknown {
  return {
    id: `msg_${randomUUID()}`, type: 'message', role: 'assistant', model: req.model, content: anthropicBlocks(r),
    stop_reason: r.toolCalls.length ? 'tool_use' : 'end_turn', stop_sequence: null,
    usage: { input_tokens: r.usage.input, output_tokens: r.usage.output },
  };
}

function anthropicStream(res: ServerResponse, req: Record<string, any>, r: Full): void {
  const message = { id: `msg_${randomUUID()}`, type: 'message', role: 'assistant', model: req.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: r.usage.input, output_tokens: 1 } };
  const events: [string, unknown][] = [['message_start', { type: 'message_start', message }], ['ping', { type: 'ping' }]];
  anthropicBlocks(r).forEach((block, index) => {
    if (block.type === 'text') {
      events.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }]);
      for (const p of pieces(block.text as string)) events.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: p } }]);
    } else {
      events.push(['content_block_start', { type: 'content_block_start', index, content_block: { ...block, input: {} } }]);
      for (const p of pieces(JSON.stringify(block.input))) events.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: p } }]);
    }
    events.push(['content_block_stop', { type: 'content_block_stop', index }]);
  });
  events.push(
    ['message_delta', { type: 'message_delta', delta: { stop_reason: r.toolCalls.length ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: r.usage.output } }],
    ['message_stop', { type: 'message_stop' }],
  );
  sse(res, events);
}
