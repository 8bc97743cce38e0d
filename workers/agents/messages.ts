// The outheis agents' messages, one schema each: what every agent accepts and what
// it answers (DESIGN, "The outheis agents"). The single source of these shapes: a
// handler parses its body with the request schema (a bad body is the caller's
// error, thrown as EHANDLER with zod's message), and a caller reads a reply through
// the reply's type. Nothing here touches the supervisor: agents import it, and
// `workers → protocol` is the only way their imports run.
import * as z from 'zod';

/** A vault path as the caller gives it: relative, checked again by `data` against the vault's real root. */
const vaultPath = z.string().min(1).max(1024);

// ---- data: the vault's only writer -------------------------------------------------

export const searchReq = z.object({ q: z.string().min(1).max(1000), limit: z.number().int().min(1).max(100).default(10) });
export const hit = z.object({ path: z.string(), title: z.string(), score: z.number(), snippet: z.string() });
export const searchRes = z.object({ hits: z.array(hit) });

export const readReq = z.object({ path: vaultPath });
export const readRes = z.object({
  path: z.string(), title: z.string(), text: z.string(),
  frontmatter: z.record(z.string(), z.unknown()), tags: z.array(z.string()), mtime: z.number(),
});

export const writeReq = z.object({ path: vaultPath, text: z.string().max(4 << 20) });
export const writeRes = z.object({ path: z.string(), bytes: z.number() });

export const listReq = z.object({ under: z.string().max(1024).optional() });
export const listRes = z.object({ notes: z.array(z.object({ path: z.string(), title: z.string(), tags: z.array(z.string()), mtime: z.number() })) });

// ---- agenda ------------------------------------------------------------------------

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time as HH:MM');

export const todayReq = z.object({ date: isoDate.optional() });
export const agendaItem = z.object({ text: z.string(), path: z.string(), time: hhmm.optional() });
export const todayRes = z.object({ date: isoDate, items: z.array(agendaItem) });

export const addReq = z.object({ text: z.string().min(1).max(2000), date: isoDate, time: hhmm.optional() });
export const addRes = z.object({ path: z.string(), date: isoDate });
/** `refresh`: rewrite Agenda.md now (a config's `schedules:` sends it); `changed` is false when the page was already current. */
export const refreshReq = z.object({}).passthrough();
export const refreshRes = z.object({ path: z.string(), changed: z.boolean(), items: z.number() });

// ---- pattern -----------------------------------------------------------------------

export const runReq = z.object({}).passthrough();
export const runRes = z.object({ written: z.array(z.string()) });

// ---- llm ---------------------------------------------------------------------------

export const tool = z.object({ name: z.string(), description: z.string(), parameters: z.record(z.string(), z.unknown()) });
export const toolCall = z.object({ id: z.string(), name: z.string(), arguments: z.record(z.string(), z.unknown()) });
/** A turn in a conversation: a tool result answers one tool call by its id. */
export const chatMessage = z.discriminatedUnion('role', [
  z.object({ role: z.literal('user'), content: z.string() }),
  z.object({ role: z.literal('assistant'), content: z.string(), tool_calls: z.array(toolCall).optional() }),
  z.object({ role: z.literal('tool'), tool_call_id: z.string(), content: z.string() }),
]);
export const completeReq = z.object({
  system: z.string().optional(),
  messages: z.array(chatMessage).min(1),
  tools: z.array(tool).optional(),
  max_tokens: z.number().int().min(1).max(200_000).optional(),
});
export const usage = z.object({ input_tokens: z.number(), output_tokens: z.number() });
export const completeRes = z.object({ text: z.string(), tool_calls: z.array(toolCall), usage });
export const usageReq = z.object({});
export const usageRes = z.object({ provider: z.string(), model: z.string().optional(), day: isoDate, used: z.number(), budget: z.number().optional(), requests: z.number() });

// ---- relay -------------------------------------------------------------------------

export const askReq = z.object({ text: z.string().min(1).max(8000) });
export const askRes = z.object({ text: z.string(), sources: z.array(z.string()) });

export type SearchReq = z.input<typeof searchReq>;
export type SearchRes = z.infer<typeof searchRes>;
export type ReadRes = z.infer<typeof readRes>;
export type WriteReq = z.infer<typeof writeReq>;
export type WriteRes = z.infer<typeof writeRes>;
export type ListRes = z.infer<typeof listRes>;
export type TodayRes = z.infer<typeof todayRes>;
export type AddReq = z.infer<typeof addReq>;
export type AgendaItem = z.infer<typeof agendaItem>;
export type RefreshRes = z.infer<typeof refreshRes>;
export type RunRes = z.infer<typeof runRes>;
export type Tool = z.infer<typeof tool>;
export type ToolCall = z.infer<typeof toolCall>;
export type ChatMessage = z.infer<typeof chatMessage>;
export type CompleteReq = z.infer<typeof completeReq>;
export type CompleteRes = z.infer<typeof completeRes>;
export type UsageRes = z.infer<typeof usageRes>;
export type AskRes = z.infer<typeof askRes>;

/** Parse a handler's body: a bad body names what was wrong, for the caller's EHANDLER. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw agentError('EBADREQ', `${what}: ${r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
  return r.data;
}

/**
 * The agents' own refusals (ENOMODEL, EBUDGET, EPATH, ...). The wire's error codes are
 * the kernel's (protocol/constants.ts); an agent's refusal travels as EHANDLER whose
 * message starts with its own code, so the wire stays as it is and callers can still
 * tell a missing model from a broken handler.
 */
export const AGENT_CODES = ['ENOMODEL', 'EBUDGET', 'EPATH', 'ENOTFOUND', 'EPROVIDER', 'EBADREQ'] as const;
export type AgentCode = (typeof AGENT_CODES)[number];

export function agentError(code: AgentCode, message: string): Error {
  const err = new Error(`${code}: ${message}`) as Error & { code: AgentCode };
  err.code = code;
  return err;
}

/** The agent code carried by an error a request rejected with, if it carries one. */
export function agentCodeOf(err: unknown): AgentCode | undefined {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (typeof e?.code === 'string' && (AGENT_CODES as readonly string[]).includes(e.code)) return e.code as AgentCode;
  if (e?.code !== 'EHANDLER' || typeof e.message !== 'string') return undefined;
  const head = /^(E[A-Z]+):/.exec(e.message)?.[1];
  return head && (AGENT_CODES as readonly string[]).includes(head) ? (head as AgentCode) : undefined;
}
