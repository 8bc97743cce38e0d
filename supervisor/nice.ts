// CPU priority by QoS class. Agents always run at a lower priority than the
// supervisor: the kernel of the design must be able to route and supervise even
// when agents saturate the CPU (otherwise every wake-up of a busy agent preempts
// the router mid-write). Background agents yield the most.
import { getPriority, setPriority } from 'node:os';
import type { Qos } from './wire/header.js';

export const NICE: Record<Qos, number> = { interactive: 1, user: 2, utility: 5, background: 10 };

/** Lower the agent's priority relative to ours; raising niceness needs no privilege. */
export function applyNice(pid: number, qos: Qos): void {
  try {
    setPriority(pid, Math.min(19, getPriority() + NICE[qos]));
  } catch {
    // the process already exited; its exit is handled elsewhere
  }
}
