// Stopping one agent gracefully, in stages: a stop message (the SDK runs its
// onShutdown hooks and exits), the agent's shutdown budget, SIGTERM to its
// process group, a short grace, then SIGKILL.
import type { Logger } from '../logs/logger.js';
import type { AgentSlot } from './agent-slot.js';

export const TERM_GRACE_MS = 1000;

export async function terminate(slot: AgentSlot, log: Logger): Promise<void> {
  const proc = slot.proc;
  if (!proc) return;
  const gone = slot.exited();
  const within = (ms: number) => Promise.race([gone.then(() => true), new Promise<boolean>((r) => setTimeout(r, ms, false).unref())]);
  slot.link?.write({ t: 'stop' });
  if (await within(slot.cfg.shutdown)) return;
  log.warn({ agent: slot.name, budgetMs: slot.cfg.shutdown }, 'did not stop within its budget: SIGTERM');
  proc.signal('SIGTERM');
  if (await within(TERM_GRACE_MS)) return;
  log.warn({ agent: slot.name }, 'ignored SIGTERM: SIGKILL');
  proc.signal('SIGKILL');
  await gone;
}
