// What every provider does for llm: one completion in the neutral shape of
// messages.ts, and its failures said as EPROVIDER without the key.
import { agentError, type CompleteReq, type CompleteRes } from '../messages.js';

export interface Provider {
  readonly name: 'anthropic' | 'openai';
  readonly model: string;
  complete(req: CompleteReq): Promise<CompleteRes>;
}

export interface ProviderOptions {
  model: string;
  baseURL: string | undefined;
  /** Sent by the SDK in the provider's own header; undefined when the environment holds none. */
  apiKey: string | undefined;
  timeoutMs: number;
  /** Retries after the first attempt; the SDKs back off exponentially and honour retry-after. */
  retries: number;
  stream: boolean;
}

/** Used when the request gives no max_tokens: Anthropic requires one, and a bound keeps a runaway answer cheap. */
export const DEFAULT_MAX_TOKENS = 1024;

/**
 * A provider's failure, after the SDK's retries, as the caller may see it: the HTTP
 * status and the provider's own message. Providers echo a key back in some errors
 * (a wrong key, quoted partly or whole), so every trace of it is cut out here.
 */
export function providerError(provider: string, err: unknown, apiKey: string | undefined, timedOutAfterMs?: number): Error {
  const e = err as { status?: unknown; message?: unknown; error?: unknown };
  const status = typeof e?.status === 'number' ? e.status : undefined;
  let message = typeof e?.message === 'string' ? e.message : String(err);
  const said = statedByProvider(e?.error);
  if (status !== undefined && said) message = `${status} ${said}`;
  // The SDKs start their message with the status already ("429 rate limited").
  else if (status !== undefined && !message.startsWith(String(status))) message = `${status} ${message}`;
  if (timedOutAfterMs !== undefined) message = `timed out: no answer within ${timedOutAfterMs} ms (--timeout), after every retry`;
  return agentError('EPROVIDER', `${provider}: ${redact(message, apiKey).slice(0, 2000)}`);
}

/**
 * The provider's own words from its error body: OpenAI's SDK hands over
 * `{message, type}`, Anthropic's the whole `{type: 'error', error: {type, message}}`,
 * which its SDK would otherwise quote as raw JSON.
 */
function statedByProvider(body: unknown): string | undefined {
  const b = body as { error?: unknown; message?: unknown; type?: unknown } | undefined;
  const inner = (b && typeof b.error === 'object' && b.error !== null ? b.error : b) as { message?: unknown; type?: unknown } | undefined;
  if (typeof inner?.message !== 'string') return undefined;
  return typeof inner.type === 'string' && inner.type ? `${inner.type}: ${inner.message}` : inner.message;
}

/** The key, and any 8 characters or more of its tail or head (how providers quote keys), replaced. */
export function redact(text: string, apiKey: string | undefined): string {
  if (!apiKey || apiKey.length < 8) return text;
  let out = text.split(apiKey).join('[key]');
  for (let n = apiKey.length - 1; n >= 8; n--) {
    out = out.split(apiKey.slice(0, n)).join('[key]').split(apiKey.slice(-n)).join('[key]');
  }
  return out;
}

/** Tool-call arguments arrive as JSON text from OpenAI-style endpoints; a model can write bad JSON. */
export function parseArguments(text: string | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    // Handed on as it came: the caller's loop can show the model its own mistake.
    return { _unparsed: text };
  }
}
