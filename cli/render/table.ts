// A column table that fits a terminal width: truncatable columns give up
// characters first, then whole columns go, lowest priority first. Widths are
// measured on visible text only, so colour never shifts a column.
import { stripAnsi, type Paint, type Style } from './color.js';

export interface Column {
  header: string;
  align?: 'left' | 'right';
  /** Higher is kept longer: when the table is too wide, the lowest priority column is dropped first. */
  priority: number;
  /** Set for columns whose text may be cut (ending in `…`) down to this width before any column is dropped. */
  minWidth?: number;
}

/** A cell's text, plain or with a style applied after it is cut and padded to the column. */
export type Cell = string | { text: string; paint?: Style };

export interface TableOptions {
  /** undefined: no limit */
  width?: number;
  paint: Paint;
}

const GAP = '  ';
const ELLIPSIS = '…';

/** Terminal cells taken by `s`: escape codes take none. Every character the CLI prints (ASCII names, `…`, `·`, `↺`) is one cell wide. */
export function measureWidth(s: string): number {
  let n = 0;
  for (const _ of stripAnsi(s)) n++;
  return n;
}

const TOKENS = /(\x1b\[[0-?]*[ -/]*[@-~])/;

/** Cut `s` to at most `width` cells, ending in `…` when cut. Escape codes are kept (they take no room) and closed with a reset. */
export function truncateText(s: string, width: number): string {
  if (measureWidth(s) <= width) return s;
  if (width <= 0) return '';
  const room = width - 1;
  let out = '';
  let used = 0;
  let styled = false;
  // split() with a capturing group puts the escape codes at the odd indexes.
  for (const [k, part] of s.split(TOKENS).entries()) {
    if (k % 2 === 1) {
      out += part;
      styled = true;
      continue;
    }
    for (const ch of part) {
      if (used === room) break;
      out += ch;
      used++;
    }
    if (used === room) break;
  }
  return out + ELLIPSIS + (styled ? '\x1b[0m' : '');
}

const textOf = (c: Cell): string => (typeof c === 'string' ? c : c.text);
const styleOf = (c: Cell): Style | undefined => (typeof c === 'string' ? undefined : c.paint);

/** Which columns stay and how wide each is. Indexes into `columns`, in their original order. */
function layOut(columns: readonly Column[], natural: number[], width: number | undefined): { index: number; width: number }[] {
  const all = columns.map((_, index) => index);
  if (width === undefined) return all.map((index) => ({ index, width: natural[index]! }));
  const least = (i: number): number => Math.min(natural[i]!, columns[i]!.minWidth ?? natural[i]!);
  const need = (kept: number[]): number => kept.reduce((sum, i) => sum + least(i), 0) + GAP.length * Math.max(0, kept.length - 1);
  const kept = [...all];
  const byPriority = [...all].sort((a, b) => columns[a]!.priority - columns[b]!.priority);
  // Drop by priority, but never the last column standing: the caller clips what still does not fit.
  for (const i of byPriority) {
    if (need(kept) <= width || kept.length === 1) break;
    kept.splice(kept.indexOf(i), 1);
  }
  const widths = new Map(kept.map((i) => [i, least(i)]));
  let spare = width - need(kept);
  // Give cut columns their characters back, those missing the fewest first: that makes the most cells whole again
  // (a short exit reason in full rather than three more characters of a long name).
  const missing = (i: number): number => natural[i]! - widths.get(i)!;
  for (const i of [...kept].sort((a, b) => missing(a) - missing(b) || columns[b]!.priority - columns[a]!.priority)) {
    if (spare <= 0) break;
    const more = Math.min(spare, missing(i));
    widths.set(i, widths.get(i)! + more);
    spare -= more;
  }
  return kept.map((index) => ({ index, width: widths.get(index)! }));
}

function renderCell(cell: Cell, column: Column, width: number, last: boolean): string {
  const text = truncateText(textOf(cell), width);
  const style = styleOf(cell);
  const shown = style ? style(text) : text;
  const fill = ' '.repeat(Math.max(0, width - measureWidth(text)));
  if (column.align === 'right') return fill + shown;
  // No trailing blanks after the last column: they would wrap a line that exactly fits.
  return last ? shown : shown + fill;
}

/** The header line then one line per row; every line fits `width` when given. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly Cell[])[], opts: TableOptions): string[] {
  const natural = columns.map((c, i) => Math.max(measureWidth(c.header), ...rows.map((r) => measureWidth(textOf(r[i] ?? '')))));
  const layout = layOut(columns, natural, opts.width);
  const line = (cells: (i: number) => Cell): string => {
    const text = layout.map(({ index, width }, k) => renderCell(cells(index), columns[index]!, width, k === layout.length - 1)).join(GAP);
    return opts.width === undefined ? text : truncateText(text, opts.width);
  };
  const header = line((i) => ({ text: columns[i]!.header, paint: opts.paint.bold }));
  return [header, ...rows.map((r) => line((i) => r[i] ?? ''))];
}

/** A piece of a one-line summary that may be left out when the line is too wide. */
export interface LinePart {
  text: string;
  /** Lower goes first. */
  priority: number;
  /** What joins it to the part kept before it; ` · ` unless given. */
  glue?: string;
}

/** Joins the parts that fit in `width`, leaving out whole parts, lowest priority first, rather than cutting the line mid-word. */
export function fitParts(parts: readonly LinePart[], width: number | undefined): string {
  const join = (ps: LinePart[]): string => ps.map((p, i) => (i === 0 ? '' : p.glue ?? ' · ') + p.text).join('');
  const kept = [...parts];
  if (width !== undefined) {
    for (const p of [...parts].sort((a, b) => a.priority - b.priority)) {
      if (measureWidth(join(kept)) <= width || kept.length === 1) break;
      kept.splice(kept.indexOf(p), 1);
    }
  }
  const line = join(kept);
  return width === undefined ? line : truncateText(line, width);
}
