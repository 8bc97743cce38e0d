// Human units, shared by every layer that speaks limits (config, manifests, CLI): the
// one place durations, sizes and percentages are parsed, and sizes written.
//
// DESIGN fixes these as strings ("5s", "256MiB", "50%"). A bare number is
// refused on purpose: `heartbeat: 5` could mean 5 ms or 5 s, `memory: 256`
// could mean bytes or MiB, and guessing wrong either kills agents in a loop
// or disables a limit. The one exception is a duration of 0, which has no
// unit ambiguity and is how `heartbeat: 0` turns hang detection off.

import * as z from 'zod';

/** Node's timers overflow above 2^31-1 ms and then fire at once; refuse instead. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
// "ms" before "m", or "100ms" would read as 100 minutes followed by junk.
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
// Compound forms ("1m30s") are allowed because operators write them.
const DURATION_WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
  // Decimal units exist because `free`/`df`/cloud consoles speak them; "kB" is the SI spelling.
  KB: 1000,
  kB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  TB: 1000 ** 4,
};
const SIZE = /^(\d+(?:\.\d+)?)(B|KiB|MiB|GiB|TiB|KB|kB|MB|GB|TB)$/;
const PERCENT = /^(\d+(?:\.\d+)?)%$/;

const DURATION_EXPECTED = 'a duration like "100ms", "5s" or "2m"';
const SIZE_EXPECTED = 'a size like "512KiB", "256MiB" or "1GiB"';
const PERCENT_EXPECTED = 'a percentage like "50%" or "150%" (1.5 cores)';

/** How a received value reads inside an error message: strings quoted, containers named. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return `a ${typeof value}`;
}

type Parsed = { ok: true; value: number } | { ok: false; message: string };

function fail(expected: string, got: unknown, hint = ''): Parsed {
  return { ok: false, message: `expected ${expected}, got ${describeValue(got)}${hint}` };
}

// A bare number is the most likely mistake (YAML turns `5` into a number), so say how to fix it.
function bareNumberHint(value: unknown, example: string): string {
  return typeof value === 'number' ? ` (a bare number has no unit; write it as a string, e.g. "${example}")` : '';
}

export function tryParseDuration(value: unknown): Parsed {
  if (value === 0 || value === '0') return { ok: true, value: 0 };
  if (typeof value !== 'string' || !DURATION_WHOLE.test(value)) {
    return fail(DURATION_EXPECTED, value, bareNumberHint(value, `${String(value)}s`));
  }
  let ms = 0;
  for (const m of value.matchAll(DURATION_PART)) ms += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  // Floating point turns "0.1s" into 100.00000000000001; round before judging wholeness.
  const rounded = Math.round(ms * 1e6) / 1e6;
  if (!Number.isInteger(rounded)) {
    return { ok: false, message: `expected a whole number of milliseconds, got ${describeValue(value)}` };
  }
  if (rounded > MAX_DURATION_MS) {
    return { ok: false, message: `expected a duration of at most ${MAX_DURATION_MS}ms (about 24 days), got ${describeValue(value)}` };
  }
  return { ok: true, value: rounded };
}

export function tryParseSize(value: unknown): Parsed {
  const m = typeof value === 'string' ? SIZE.exec(value) : null;
  if (!m) return fail(SIZE_EXPECTED, value, bareNumberHint(value, `${String(value)}MiB`));
  const bytes = Math.round(Number(m[1]) * SIZE_UNITS[m[2]!]! * 1e6) / 1e6;
  if (!Number.isInteger(bytes)) return { ok: false, message: `expected a whole number of bytes, got ${describeValue(value)}` };
  if (!Number.isSafeInteger(bytes)) return { ok: false, message: `expected a size below 8 PiB, got ${describeValue(value)}` };
  return { ok: true, value: bytes };
}

export function tryParsePercent(value: unknown): Parsed {
  const m = typeof value === 'string' ? PERCENT.exec(value) : null;
  if (!m) return fail(PERCENT_EXPECTED, value, bareNumberHint(value, `${String(value)}%`));
  return { ok: true, value: Number(m[1]) / 100 };
}

function orThrow(p: Parsed): number {
  if (!p.ok) throw new RangeError(p.message);
  return p.value;
}

/** "5s" → 5000. Throws RangeError with a readable message (useful for CLI flags such as --since). */
export const parseDuration = (value: string | number): number => orThrow(tryParseDuration(value));
/** "256MiB" → 268435456. Throws RangeError. */
export const parseSize = (value: string): number => orThrow(tryParseSize(value));
/** "150%" → 1.5 (cores). Throws RangeError. */
export const parsePercent = (value: string): number => orThrow(tryParsePercent(value));

// z.custom accepts anything so that the message below, not zod's generic
// "expected string", is what the operator sees for a wrong type too.
function unitSchema(parse: (v: unknown) => Parsed) {
  return z.custom<string | number>(() => true).transform((value, ctx): number => {
    const p = parse(value);
    if (p.ok) return p.value;
    ctx.addIssue({ code: 'custom', message: p.message, input: value });
    return z.NEVER;
  });
}

export const durationSchema = unitSchema(tryParseDuration);
export const sizeSchema = unitSchema(tryParseSize);
export const percentSchema = unitSchema(tryParsePercent);

/** How a size is written: `41.2M` in a table column (nearly fixed width), `301 MiB` in a sentence. */
export type SizeStyle = 'compact' | 'spelled';
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;
export type BinaryUnit = (typeof BINARY_UNITS)[number];

// Compact keeps one decimal below 100 so that a column does not jitter from frame to
// frame; spelled keeps one only below 10, where it still says something.
const STYLES: Record<SizeStyle, { units: readonly string[]; space: string; decimals: (value: number) => number }> = {
  compact: { units: ['B', 'K', 'M', 'G', 'T', 'P', 'E'], space: '', decimals: (v) => (v < 99.95 ? 1 : 0) },
  spelled: { units: BINARY_UNITS, space: ' ', decimals: (v) => (v < 10 ? 1 : 0) },
};

/**
 * Bytes for people, in binary units: `formatSize(n, { style: 'compact' })` → `512B`,
 * `41.2M`, `1.0M` (the unit steps up when rounding reaches 1024); the default spelled
 * style → `512 B`, `9.5 MiB`, `301 MiB`. `unit` fixes the unit (`{ unit: 'MiB' }` →
 * `2048 MiB`). `-` when there is no size to show (null, negative, not finite).
 */
export function formatSize(bytes: number | null, opts: { style?: SizeStyle; unit?: BinaryUnit } = {}): string {
  if (bytes === null || !Number.isFinite(bytes) || bytes < 0) return '-';
  const style = STYLES[opts.style ?? 'spelled'];
  const shown = (value: number, unit: number): string => value.toFixed(unit === 0 ? 0 : style.decimals(value));
  let unit = opts.unit ? BINARY_UNITS.indexOf(opts.unit) : 0;
  let value = bytes / 1024 ** unit;
  if (!opts.unit) {
    while (unit < BINARY_UNITS.length - 1 && Number(shown(value, unit)) >= 1024) {
      value /= 1024;
      unit++;
    }
  }
  return shown(value, unit) + style.space + style.units[unit];
}
