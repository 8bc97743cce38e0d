// The `schedules:` config key, and the rules that need the agents (its target, the
// target's frame limit). The zod schema here is the single source of a schedule's
// type; supervisor/config/schema.ts puts it into the file's schema, and
// cross-checks.ts runs scheduleIssues with the other rules that span keys.
import * as z from 'zod';
import { packValue } from '../../protocol/frame.js';
import { fitsFrame, QOS } from '../../protocol/constants.js';
import { durationSchema } from '../../protocol/units.js';
import { mustBePositive, NAME_PATTERN, strict } from '../../policies/manifest.js';
import { cronOf, type SlotSpec } from './clock.js';

/** The sender of every firing: reserved, so that no agent can be it (config/schema.ts). */
export const SCHEDULER = 'scheduler';

/**
 * Default qos of a firing: nobody waits on a scheduled message, so it is never
 * interactive or user work unless the operator says so; it stays above background.
 */
export const DEFAULT_SCHEDULE_QOS = 'utility';

const nameRules = 'a letter, then up to 62 letters, digits, "_" or "-"';
const scheduleName = z.string().regex(NAME_PATTERN, { error: (iss) => `invalid schedule name ${JSON.stringify(iss.input)}: expected ${nameRules}` });

export const scheduleSchema = strict({
  cron: z.string().optional(),
  tz: z.string().min(1).optional(),
  every: mustBePositive(durationSchema, 'an interval').optional(),
  to: z.string().min(1),
  kind: z.string().min(1).max(128),
  // Any YAML value; sent msgpack-encoded, as `outheis send` would.
  body: z.unknown().optional(),
  qos: z.enum(QOS).default(DEFAULT_SCHEDULE_QOS),
  catch_up: z.boolean().default(false),
}).superRefine((s, ctx) => {
  if ((s.cron === undefined) === (s.every === undefined)) {
    ctx.addIssue({ code: 'custom', path: [], message: `expected exactly one of "cron" and "every", got ${s.cron === undefined ? 'neither' : 'both'}` });
    return;
  }
  if (s.tz !== undefined && s.cron === undefined) ctx.addIssue({ code: 'custom', path: ['tz'], message: '"tz" applies to "cron" only; an "every" interval runs on the clock, in no zone' });
  if (s.cron !== undefined) {
    try {
      cronOf(s.cron, s.tz);
    } catch (err) {
      const msg = (err as Error).message.replace(/^Cron\w*:\s*/, '');
      const bad = /timezone/i.test(msg) ? 'tz' : 'cron';
      ctx.addIssue({ code: 'custom', path: [bad], message: bad === 'tz' ? `unknown time zone ${JSON.stringify(s.tz)}: expected an IANA name such as Europe/Berlin` : `invalid cron expression: ${msg}` });
    }
  }
}).transform(({ catch_up, ...s }) => ({ ...s, catchUp: catch_up, body: s.body === undefined ? undefined : packValue(s.body) }));

export const schedulesSchema = z.record(scheduleName, scheduleSchema).default(() => ({}));

export type Schedule = z.output<typeof scheduleSchema>;

export const slotSpecOf = (s: Schedule): SlotSpec => (s.cron !== undefined ? { cron: s.cron, tz: s.tz } : { every: s.every! });

/** How a schedule's timing reads in status and logs: `cron "30 3 * * *" Europe/Berlin`, `every 1h`. */
export function describeSpec(s: { cron?: string | undefined; tz?: string | undefined; every?: number | undefined }): string {
  if (s.cron !== undefined) return `cron ${JSON.stringify(s.cron)}${s.tz ? ` ${s.tz}` : ''}`;
  const ms = s.every!;
  const [n, unit] = ms % 3_600_000 === 0 ? [ms / 3_600_000, 'h'] : ms % 60_000 === 0 ? [ms / 60_000, 'm'] : ms % 1000 === 0 ? [ms / 1000, 's'] : [ms, 'ms'];
  return `every ${n}${unit}`;
}

/** The rules that need the agents: a known target, and a body its reader takes. Paths as written in the file. */
export function scheduleIssues(schedules: Record<string, Schedule>, agents: Record<string, { limits: { frame: number } }>, didYouMean: (w: string, c: string[]) => string): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const names = Object.keys(agents);
  for (const [name, s] of Object.entries(schedules)) {
    const target = Object.prototype.hasOwnProperty.call(agents, s.to) ? agents[s.to] : undefined;
    if (!target) {
      issues.push({ path: ['schedules', name, 'to'], message: `unknown agent ${JSON.stringify(s.to)}${didYouMean(s.to, names)}` });
      continue;
    }
    const bytes = s.body?.length ?? 0;
    if (!fitsFrame(bytes, target.limits.frame)) {
      issues.push({ path: ['schedules', name, 'body'], message: `${bytes} bytes encoded: over ${s.to}'s frame limit of ${target.limits.frame} bytes (limits.frame)` });
    }
  }
  return issues;
}

/** One schedule in `status --json`. Times in ms since the epoch; null when there is none. */
export const scheduleStatusSchema = z.object({
  name: z.string(),
  to: z.string(),
  kind: z.string(),
  /** `cron "…" tz` or `every 1s`. */
  spec: z.string(),
  qos: z.enum(QOS),
  catchUp: z.boolean(),
  /** The last slot fired (this run or, from the journal, an earlier one), the message it became, and whether that is still owed. */
  last: z.object({ slot: z.number(), id: z.number().nullable(), pending: z.boolean() }).nullable(),
  next: z.number().nullable(),
  /** Slots not fired since this supervisor started, because the previous message was still unhandled. */
  skipped: z.number(),
});
export type ScheduleStatus = z.infer<typeof scheduleStatusSchema>;
