// What 10 schedules add to an idle supervisor with 100 agents: timers, croner's next
// slot, and each firing (about one a second in all) accepted, journaled, delivered
// and acked like any message. Baseline: the same 100 agents and no schedules, in the
// same run, through a real `outheis start` (sandboxed agents, journal on).
import { idleCpu } from './idle.js';
import type { Row } from './lib.js';

/** Five cron schedules with a seconds field and five `every`s, spread over the agents: ten firings per 10 s. */
function tenSchedules(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < 5; i++) out[`cron${i}`] = { cron: `${i * 2}-59/10 * * * * *`, to: `idle${i * 10}`, kind: 'tick' };
  for (let i = 0; i < 5; i++) out[`every${i}`] = { every: '10s', to: `idle${i * 10 + 5}`, kind: 'tick', body: { n: i } };
  return out;
}

export async function scheduleCost(count: number, seconds: number, warmup: number): Promise<Row[]> {
  const none = await idleCpu(count, seconds, '2s', warmup);
  const ten = await idleCpu(count, seconds, '2s', warmup, { schedules: tenSchedules() });
  const pct = (x: number) => `${x.toFixed(2)}% of a core`;
  return [{
    metric: `supervisor CPU, ${count} idle agents and 10 schedules (1 firing/s)`,
    ours: pct(ten.cpu), base: `${pct(none.cpu)} no schedules`,
    ratio: `+${(ten.cpu - none.cpu).toFixed(2)} pt (${(ten.cpu / none.cpu).toFixed(2)}x)`, target: 'reported', pass: undefined,
  }];
}
