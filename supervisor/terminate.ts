// Stopping one agent gracefully, in stages: a stop message (the SDK runs its
// onShutdown hooks and exits), the agent's shutdown budget, SIGTERM to its
// process group, a short grace, then SIGKILL. The waits are deadlines (watchdog.ts):
// a stall of the supervisor does not eat into an agent's budget.
import type { Logger } from '../logs/logger.js';
import type { AgentSlot } from './agent-slot.js';
import type { Deadlines } from './watchdog.js';

export const TERM_GRACE_MS = 1000;

export async function terminate(slot: AgentSlot, log: Logger, deadline: Deadlines): Promise<void> {
  const proc = slot.proc;
  if (!proc) return;
  const gone = slot.exited();
  const within = (ms: number) => new Promise<boolean>((resolve) => {
    const timer = deadline(ms, () => resolve(false));
    void gone.then(() => {
      timer.cancel();
      resolve(true);
    });
  });
  slot.link?.write({ t: 'stop' });
  if (await within(slot.cfg.shutdown)) return;
  log.warn({ agent: slot.name, budgetMs: slot.cfg.shutdown }, 'did not stop within its budget: SIGTERM');
  proc.signal('SIGTERM');
  if (await within(TERM_GRACE_MS)) return;
  log.warn({ agent: slot.name }, 'ignored SIGTERM: SIGKILL');
  proc.signal('SIGKILL');
  await gone;
}
