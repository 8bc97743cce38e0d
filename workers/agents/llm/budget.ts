// The daily token budget: input and output tokens of every completion, per UTC day.
// It survives restarts through the agent's checkpoint, so a crash (or a crash
// loop) does not hand out a fresh day's worth of tokens.
import * as z from 'zod';
import { agentError } from '../messages.js';

const spentSchema = z.object({ day: z.string(), used: z.number().min(0), requests: z.number().int().min(0) });
export type Spent = z.infer<typeof spentSchema>;

export const utcDay = (now: Date): string => now.toISOString().slice(0, 10);

export class Budget {
  private spent: Spent;

  /** `restored` is whatever the last checkpoint held: used only if it is today's and well formed. */
  constructor(readonly limit: number | undefined, restored: unknown, private readonly now: () => Date = () => new Date()) {
    const r = spentSchema.safeParse(restored);
    this.spent = r.success ? r.data : { day: utcDay(this.now()), used: 0, requests: 0 };
    this.today();
  }

  /** Today's account; a new UTC day starts from nothing. */
  today(): Spent {
    const day = utcDay(this.now());
    if (this.spent.day !== day) this.spent = { day, used: 0, requests: 0 };
    return { ...this.spent };
  }

  /**
   * Refuse before anything is sent. A request in flight when the budget runs out
   * still counts: the cap can be overshot by the answers already asked for, never
   * by a new request.
   */
  check(): void {
    const s = this.today();
    if (this.limit !== undefined && s.used >= this.limit) {
      throw agentError('EBUDGET', `the daily token budget is spent: ${s.used} of ${this.limit} tokens used on ${s.day} (UTC); it resets at midnight UTC, or raise --budget`);
    }
  }

  add(tokens: number): Spent {
    this.today();
    this.spent.used += tokens;
    this.spent.requests += 1;
    return { ...this.spent };
  }
}
