// Restart delays. OTP restarts at once, always; a crash-looping agent would then burn
// its whole intensity budget in milliseconds. We keep OTP's behaviour for the first
// crash after a stable run and back off exponentially on the ones that follow.
import type { Backoff } from './spec.js';

/** The failure streak after one more failure: a stable run (≥ resetMs) starts a new streak. */
export function countFailure(streak: number, startedAt: number | undefined, now: number, b: Backoff): number {
  const stable = startedAt !== undefined && now - startedAt >= b.resetMs;
  return (stable ? 0 : streak) + 1;
}

/** Delay before restart number `streak` of a streak: 0, initial, 2×initial, 4×initial … capped at max. */
export function restartDelay(streak: number, b: Backoff): number {
  if (streak <= 1) return 0;
  return Math.min(b.maxMs, b.initialMs * 2 ** (streak - 2));
}
