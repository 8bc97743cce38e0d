// llm's command line: which provider, which model, where, and how patient. A bad
// argument is the operator's error, said once at start with what was passed.
import { parseArgs } from 'node:util';
import { parseDuration } from '../../../protocol/units.js';

export type ProviderName = 'anthropic' | 'openai' | 'none';

export interface LlmArgs {
  provider: ProviderName;
  model: string | undefined;
  baseURL: string | undefined;
  /** Tokens per UTC day, input and output together; undefined is no cap. */
  budget: number | undefined;
  timeoutMs: number;
  retries: number;
  stream: boolean;
}

const PROVIDERS: readonly ProviderName[] = ['anthropic', 'openai', 'none'];

/** Models used when --model is not given: small, current ones, so a first run costs little. */
export const DEFAULT_MODEL: Record<Exclude<ProviderName, 'none'>, string> = {
  anthropic: 'claude-haiku-4-5',
  openai: 'gpt-4o-mini',
};

export function parseLlmArgs(argv: string[]): LlmArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      provider: { type: 'string', default: 'none' },
      model: { type: 'string' },
      'base-url': { type: 'string' },
      budget: { type: 'string' },
      timeout: { type: 'string', default: '60s' },
      retries: { type: 'string', default: '2' },
      stream: { type: 'boolean', default: false },
    },
  });
  const provider = values.provider as ProviderName;
  if (!PROVIDERS.includes(provider)) throw new Error(`--provider: expected one of ${PROVIDERS.join(', ')}, got ${JSON.stringify(values.provider)}`);
  // URL.canParse alone takes "localhost:11434" (scheme "localhost:"), the usual slip.
  if (values['base-url'] !== undefined && !(/^https?:\/\/./.test(values['base-url']) && URL.canParse(values['base-url']))) {
    throw new Error(`--base-url: expected a URL like http://localhost:11434/v1, got ${JSON.stringify(values['base-url'])}`);
  }
  return {
    provider,
    model: values.model ?? (provider === 'none' ? undefined : DEFAULT_MODEL[provider]),
    baseURL: values['base-url'],
    budget: values.budget === undefined ? undefined : count('--budget', values.budget, 1),
    timeoutMs: duration('--timeout', values.timeout!),
    retries: count('--retries', values.retries!, 0),
    stream: values.stream === true,
  };
}

function count(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new Error(`${flag}: expected a whole number of at least ${min}, got ${JSON.stringify(value)}`);
  return n;
}

function duration(flag: string, value: string): number {
  try {
    const ms = parseDuration(value);
    if (ms <= 0) throw new Error('it must be more than 0');
    return ms;
  } catch (err) {
    throw new Error(`${flag}: ${(err as Error).message}`);
  }
}
