// Small helpers shared by the benchmarks: percentiles, RSS, formatting.
import { readFileSync } from 'node:fs';

export const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

export const median = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);

/** Resident set size of a pid in bytes, from /proc (what pidusage reads on Linux too). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return kb ? Number(kb[1]) * 1024 : NaN;
}

/**
 * Proportional set size in bytes: pages shared with other processes (the node
 * binary, mapped by every agent too) count for their share only.
 */
export function pssOf(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = /^Pss:\s+(\d+) kB/m.exec(rollup);
  return kb ? Number(kb[1]) * 1024 : NaN;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Row {
  metric: string;
  ours: string;
  base: string;
  ratio: string;
  target: string;
  pass: boolean | undefined;
}

export function printTable(rows: Row[]): void {
  const head: Row = { metric: 'metric', ours: 'outheis', base: 'baseline', ratio: 'ratio', target: 'target', pass: undefined };
  const cols = ['metric', 'ours', 'base', 'ratio', 'target'] as const;
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[head, ...rows].map((r) => r[c].length))]));
  const line = (r: Row) => cols.map((c) => r[c].padEnd(width[c]!)).join('  ') + (r.pass === undefined ? '' : r.pass ? '  met' : '  MISSED');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

export const fmt = {
  rate: (x: number) => `${Math.round(x).toLocaleString('en-US')}/s`,
  ms: (x: number) => `${x.toFixed(x < 10 ? 3 : 1)} ms`,
  mb: (x: number) => `${(x / 1048576).toFixed(1)} MB`,
  x: (x: number) => `${x.toFixed(2)}x`,
  us: (x: number) => `${x.toFixed(1)} µs`,
};

const TICKS = 100; // USER_HZ: /proc reports CPU time in these on Linux

/** User + system CPU time of a process so far, in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}
