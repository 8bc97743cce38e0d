// Compact, nearly fixed-width renderings of the numbers `status` and `top` show.
// Short on purpose: a table column stays narrow and does not jitter from one
// frame to the next, the way `top` and `ps` print them.
import { formatSize } from '../../protocol/units.js';
import type { LastExitJson } from '../../supervisor/control/protocol.js';

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `0s`, `45s`, `3m05s`, `2h04m`, `3d04h`. Rounds down: an uptime of 59.9 s has not reached a minute. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '-';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad2(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${pad2(m % 60)}m`;
  return `${Math.floor(h / 24)}d${pad2(h % 24)}h`;
}

/** A configured duration as it was likely written: `250ms`, `5s`, `1.5s`, `90s`. */
export const formatMs = (ms: number): string => (ms < 1000 ? `${ms}ms` : `${Number((ms / 1000).toFixed(3))}s`);

/** Binary units, one decimal under 100: `512B`, `41.2M`, `812K`, `1.2G`; `-` for null. */
export const formatBytes = (n: number | null): string => formatSize(n, { style: 'compact' });

/** `0%`, `0.3%`, `12%`, `101%`; `-` for null. One decimal only where it tells idle from busy. */
export function formatPercent(p: number | null): string {
  if (p === null || !Number.isFinite(p) || p < 0) return '-';
  if (p === 0) return '0%';
  return (p < 9.95 ? p.toFixed(1) : String(Math.round(p))) + '%';
}

/** `1 agent`, `7 agents`: English plurals by `s`, enough for the nouns the CLI counts. */
export function formatCount(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** `12s ago`. A timestamp in the future (clock skew between supervisor and CLI) reads as `0s ago`. */
export function formatAgo(at: number, now: number): string {
  return `${formatDuration(now - at)} ago`;
}

// The supervisor's own wordings for an exit; any other reason is a fault it
// detected (memory limit, hung, flooding, bad frame) or a spawn failure.
const EXITED_WITH_CODE = /^exited with code -?\d+$/;
const KILLED_BY = /^killed by (SIG[A-Z0-9]+)$/;

/** The exit as a few words: `ok`, `stopped`, `code 3`, `SIGKILL`, or the cause of a supervisor kill (`memory limit`, `hung`). */
function describeExit(e: LastExitJson): string {
  if (e.reason === 'stopped') return 'stopped';
  if (e.reason === 'exited normally') return 'ok';
  if (EXITED_WITH_CODE.test(e.reason)) return `code ${e.code}`;
  const killed = KILLED_BY.exec(e.reason);
  if (killed) return e.signal ?? killed[1]!;
  // A fault reason leads with its cause and follows with the numbers ("memory limit: rss 301 MiB over 64 MiB",
  // "not reading its channel (… bytes backlogged)"): the head is what fits a column.
  const head = e.reason.split(/[:(]/, 1)[0]!.trim();
  if (head) return head;
  if (e.signal) return e.signal;
  if (e.code === 0) return 'ok';
  return e.code === null ? 'exited' : `code ${e.code}`;
}

/**
 * The short form for a table column: `code 3`, `SIGKILL`, `ok`, `stopped`, `memory limit`, `hung`; `-` when it
 * never exited. With `now`, how long ago is appended (`code 3, 12s ago`): a crash a minute ago and one three days
 * ago call for different reactions.
 */
export function formatExit(lastExit: LastExitJson | null, now?: number): string {
  if (!lastExit) return '-';
  const short = describeExit(lastExit);
  return now === undefined ? short : `${short}, ${formatAgo(lastExit.at, now)}`;
}

/** The whole reason for `--wide` and details: `exited with code 3, 12s ago`, `memory limit: rss 301 MiB over 64 MiB, 2m ago`. */
export function formatExitLong(lastExit: LastExitJson | null, now: number): string {
  if (!lastExit) return '-';
  return `${lastExit.reason || describeExit(lastExit)}, ${formatAgo(lastExit.at, now)}`;
}
